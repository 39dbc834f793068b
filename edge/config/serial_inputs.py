"""Configuration of serial inputs: operator keypads, QR / barcode scanners, IIN numpads."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from edge.config.base import StrictModel
from edge.config.buttons import WindowAction
from edge.strict import NumberKeys


class _SerialPort(StrictModel):
    port: str = Field(min_length=1, description="serial device, best a stable /dev/serial/by-id/... "
                                                "path; pyserial URLs such as loop:// also work")
    baudrate: int = Field(default=9600, ge=300, le=921600, description="bits per second")
    required: bool = Field(default=True, description="true: a missing port stops the start with "
                                                     "an error; false: warn and keep retrying")
    reconnect_s: float = Field(default=2.0, gt=0, le=60,
                               description="seconds between attempts to reopen a lost port")


def _parse_code(key: Any) -> int:
    if isinstance(key, int):
        value = key
    else:
        text = str(key).strip().lower()
        try:
            value = int(text, 16) if text.startswith("0x") else int(text)
        except ValueError:
            raise ValueError(f"key code {key!r} is not a number; write it as '0x31' or '49'") from None
    if not 0x08 <= value <= 0xFF or value in (0x01, 0x07):
        raise ValueError(f"key code {key!r} must be 0x08..0xFF and not 0x01/0x07 (frame bytes)")
    return value


class KeypadConfig(_SerialPort):
    """Operator keypads on one serial line: text lines or QSystem-style 4-byte frames."""

    type: Literal["keypad"]
    protocol: Literal["lines", "frames"] = Field(
        default="lines", description="'lines': '<window> <action> [arg]' text lines; 'frames': "
                                     "[0x01, address, key, 0x07] from RS-485 button units")
    window: int | None = Field(default=None, ge=1, le=999,
                               description="lines: the window of a one-window keypad "
                                           "(then lines may leave the window out)")
    addresses: Annotated[dict[int, int], NumberKeys] = Field(default_factory=dict,
                                      description="frames: unit address (1..254) -> window number")
    keys: dict[str, WindowAction] = Field(
        default_factory=dict, description="frames: key code ('0x31') -> action; replaces the "
                                          "default table in docs/hardware.md")
    transfer_service: str | None = Field(default=None,
                                         description="frames: service id for a 'transfer' key")
    replies: bool = Field(default=True, description="answer each command (OK / ERR line, or an "
                                                    "[0x01, address, 'O'|'E', 0x07] frame)")

    @field_validator("addresses")
    @classmethod
    def _addresses_ok(cls, v: dict[int, int]) -> dict[int, int]:
        for addr, window in v.items():
            if not 1 <= addr <= 254:
                raise ValueError(f"address {addr} must be 1..254")
            if not 1 <= window <= 999:
                raise ValueError(f"address {addr}: window {window} must be 1..999")
        return v

    @field_validator("keys")
    @classmethod
    def _keys_ok(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            _parse_code(key)
        return v

    def key_table(self) -> dict[int, str]:
        """The key code -> action table in force (config or the documented default)."""
        if self.keys:
            return {_parse_code(k): a for k, a in self.keys.items()}
        return dict(DEFAULT_FRAME_KEYS)

    @model_validator(mode="after")
    def _protocol_fields(self) -> "KeypadConfig":
        if self.protocol == "frames":
            if not self.addresses:
                raise ValueError("addresses: required with protocol = 'frames' "
                                 "(unit address -> window, e.g. addresses = { 1 = 1, 2 = 2 })")
            if self.window is not None:
                raise ValueError("window: not used with protocol = 'frames' (use addresses)")
            if "transfer" in self.key_table().values() and not self.transfer_service:
                raise ValueError("transfer_service: required, a key is mapped to 'transfer'")
        else:
            if self.addresses or self.keys:
                raise ValueError("addresses/keys: only used with protocol = 'frames'; remove them")
        return self


# Key codes of the 4-byte frames when `keys` is not set (ASCII digits, as units send them).
DEFAULT_FRAME_KEYS: dict[int, str] = {
    0x31: "call_next",  # '1'
    0x32: "recall",     # '2'
    0x33: "start",      # '3'
    0x34: "finish",     # '4'
    0x35: "no_show",    # '5'
    0x36: "park",       # '6'
    0x37: "pause",      # '7'
    0x38: "resume",     # '8'
}


class ScannerConfig(_SerialPort):
    """A QR / barcode scanner at the kiosk (serial or USB-CDC mode): scanned booking codes."""

    type: Literal["scanner"]
    printer: str | None = Field(default=None,
                                description="[printers] name of the kiosk printer next to it")
    buzzer: str | None = Field(default=None,
                               description="[gpio.buzzers] name that beeps when a scan is refused")
    max_length: int = Field(default=64, ge=4, le=512,
                            description="longer scans are not booking codes and are ignored")
    iin: bool = Field(default=False,
                      description="a scan of exactly 12 digits with a valid IIN check digit (an "
                                  "ID card's barcode) is a check-in by IIN; false: it is taken "
                                  "as a booking code")


class NumpadConfig(_SerialPort):
    """A numeric keypad at the kiosk: visitors type their IIN to check in (docs/hardware.md)."""

    type: Literal["numpad"]
    printer: str | None = Field(default=None,
                                description="[printers] name of the kiosk printer next to it")
    buzzer: str | None = Field(default=None,
                               description="[gpio.buzzers] name that beeps on a refusal")
    echo: bool = Field(default=True, description="send the masked entry (*) and each answer "
                                                 "back to the keypad's display")
    idle_s: float = Field(default=20.0, ge=3.0, le=300.0,
                          description="a half-typed IIN is erased after this many seconds "
                                      "without a key (the next visitor starts afresh)")


SerialInputConfig = Annotated[Union[KeypadConfig, ScannerConfig, NumpadConfig],
                              Field(discriminator="type")]
