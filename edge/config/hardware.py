"""Configuration of buttons, status LEDs, buzzers, serial inputs and LED display boards."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from edge.config.base import StrictModel
from edge.strict import NumberKeys, PathText

# Actions an operator's button or keypad key can do at its window (docs/hardware.md).
WindowAction = Literal["call_next", "recall", "no_show", "start", "finish", "park",
                       "transfer", "pause", "resume", "open", "close"]

# BCM GPIO numbers on the 40-pin header of every Pi with one (Pi 2 .. Pi 5).
BCM_MIN, BCM_MAX = 2, 27
# GPIO 0 and 1 carry the HAT identification EEPROM (ID_SD / ID_SC): never use them.
_RESERVED = {0: "reserved for the HAT ID EEPROM (ID_SD)", 1: "reserved for the HAT ID EEPROM (ID_SC)"}

Pin = Annotated[int, Field(description="BCM GPIO number (2..27), not the header pin number")]


def _check_pin(v: int) -> int:
    if v in _RESERVED:
        raise ValueError(f"GPIO {v} is {_RESERVED[v]}; use a BCM number from {BCM_MIN} to {BCM_MAX}")
    if not BCM_MIN <= v <= BCM_MAX:
        raise ValueError(f"GPIO {v} does not exist on the Pi header; use a BCM number from "
                         f"{BCM_MIN} to {BCM_MAX} (e.g. header pin 11 is GPIO 17)")
    return v


class _ButtonBase(StrictModel):
    pin: Pin
    pull: Literal["up", "down", "off"] = Field(
        default="up", description="internal resistor: 'up' = button to GND (usual), 'down' = "
                                  "button to 3.3 V, 'off' = external resistor (then set active_high)")
    active_high: bool | None = Field(
        default=None, description="only with pull = 'off': true if pressed reads 3.3 V")
    debounce_ms: int = Field(default=50, ge=0, le=1000,
                             description="a press shorter than this is contact bounce, ignored")
    hold_s: float = Field(default=1.5, gt=0, le=30,
                          description="pressed at least this long = a long press (hold)")
    min_interval_s: float = Field(default=1.0, ge=0, le=60,
                                  description="at most one action per this many seconds")
    chatter_presses: int = Field(default=8, ge=2, le=100,
                                 description="more presses than this within chatter_window_s = "
                                             "chattering: the button is locked out")
    chatter_window_s: float = Field(default=5.0, gt=0, le=60, description="see chatter_presses")
    lockout_s: float = Field(default=60.0, gt=0, le=3600,
                             description="how long a chattering button is ignored")
    stuck_s: float = Field(default=30.0, gt=0, le=3600,
                           description="held down longer than this = stuck: alarm, no action")
    buzzer: str | None = Field(default=None,
                               description="[gpio.buzzers] name that beeps on a refusal "
                                           "(default: the only buzzer, if there is one)")

    @field_validator("pin")
    @classmethod
    def _pin_ok(cls, v: int) -> int:
        return _check_pin(v)

    @model_validator(mode="after")
    def _pull_ok(self) -> "_ButtonBase":
        if self.pull == "off" and self.active_high is None:
            raise ValueError("active_high: required with pull = 'off' (true if a pressed button "
                             "reads 3.3 V, false if it reads GND)")
        if self.pull != "off" and self.active_high is not None:
            raise ValueError("active_high: only used with pull = 'off'; remove it")
        if self.stuck_s <= self.hold_s:
            raise ValueError(f"stuck_s ({self.stuck_s}) must be longer than hold_s ({self.hold_s})")
        return self


class TicketButtonConfig(_ButtonBase):
    """A visitor's button at the kiosk: one ticket for a service (and category)."""

    kind: Literal["ticket"]
    service: str = Field(description="service id from [[services]]")
    category: Literal["normal", "pensioner", "disability", "large_family"] = Field(
        default="normal", description="visitor category of the tickets this button issues")
    printer: str | None = Field(default=None,
                                description="[printers] name that prints the ticket; none = no paper")
    min_interval_s: float = Field(default=5.0, ge=0, le=60,
                                  description="at most one ticket per this many seconds; "
                                              "presses in between are the same visitor's, "
                                              "answered 'your ticket is printing'")


class OperatorButtonConfig(_ButtonBase):
    """An operator's button at a window: a short press does `action`, a long one `hold_action`."""

    kind: Literal["operator"]
    window: int = Field(ge=1, le=999, description="window number from [[windows]]")
    action: WindowAction = Field(description="what a short press does")
    hold_action: WindowAction | None = Field(
        default=None, description="what a long press (>= hold_s) does; none = same as a short press")
    transfer_service: str | None = Field(
        default=None, description="service id a 'transfer' action sends the visitor to")
    min_interval_s: float = Field(default=0.5, ge=0, le=60,
                                  description="at most one action per this many seconds")

    @model_validator(mode="after")
    def _transfer_target(self) -> "OperatorButtonConfig":
        uses = "transfer" in (self.action, self.hold_action)
        if uses and not self.transfer_service:
            raise ValueError("transfer_service: required when action or hold_action is 'transfer'")
        if not uses and self.transfer_service:
            raise ValueError("transfer_service: only used with a 'transfer' action; remove it")
        return self


class RatingButtonConfig(_ButtonBase):
    """One of the five rating buttons at a window: rates the visit just finished there."""

    kind: Literal["rating"]
    window: int = Field(ge=1, le=999, description="window number from [[windows]]")
    score: int = Field(ge=1, le=5, description="the score this button gives, 1 (bad) .. 5 (good)")
    min_interval_s: float = Field(default=1.0, ge=0, le=60,
                                  description="at most one rating per this many seconds")


ButtonConfig = Annotated[Union[TicketButtonConfig, OperatorButtonConfig, RatingButtonConfig],
                         Field(discriminator="kind")]


class LedConfig(StrictModel):
    """A status LED. Roles: ready (kiosk can issue), printer_problem, window_busy."""

    pin: Pin
    role: Literal["ready", "printer_problem", "window_busy"] = Field(
        description="ready: on while tickets can be printed; printer_problem: on while the "
                    "printer has an alarm; window_busy: on while a visitor is called or served")
    printer: str | None = Field(default=None, description="[printers] name (ready, printer_problem)")
    window: int | None = Field(default=None, ge=1, le=999, description="window number (window_busy)")
    active_high: bool = Field(default=True, description="false if the LED lights when the pin is low")

    @field_validator("pin")
    @classmethod
    def _pin_ok(cls, v: int) -> int:
        return _check_pin(v)

    @model_validator(mode="after")
    def _role_needs(self) -> "LedConfig":
        if self.role == "printer_problem" and not self.printer:
            raise ValueError("printer: required for role = 'printer_problem'")
        if self.role == "window_busy" and self.window is None:
            raise ValueError("window: required for role = 'window_busy'")
        if self.role != "window_busy" and self.window is not None:
            raise ValueError(f"window: not used by role = {self.role!r}; remove it")
        if self.role == "window_busy" and self.printer:
            raise ValueError("printer: not used by role = 'window_busy'; remove it")
        return self


class BuzzerConfig(StrictModel):
    pin: Pin
    active_high: bool = Field(default=True, description="false if the buzzer sounds when the pin is low")
    beeps: int = Field(default=2, ge=1, le=5, description="beeps on a refusal")
    beep_s: float = Field(default=0.15, gt=0, le=2, description="length of one beep")

    @field_validator("pin")
    @classmethod
    def _pin_ok(cls, v: int) -> int:
        return _check_pin(v)


# -- serial inputs -----------------------------------------------------------------------

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


class GpioConfig(StrictModel):
    """[gpio]: buttons, LEDs and buzzers on the Pi's header, and serial inputs."""

    pin_factory: Literal["default", "lgpio", "rpigpio", "native", "pigpio", "mock"] = Field(
        default="default", description="gpiozero pin library: 'lgpio' on a Pi 5, 'mock' for a "
                                       "laptop or the demo, 'default' lets gpiozero choose")
    buttons: list[ButtonConfig] = Field(default_factory=list, description="[[gpio.buttons]]")
    leds: list[LedConfig] = Field(default_factory=list, description="[[gpio.leds]]")
    buzzers: dict[str, BuzzerConfig] = Field(default_factory=dict, description="[gpio.buzzers.NAME]")
    serial_inputs: list[SerialInputConfig] = Field(default_factory=list,
                                                   description="[[gpio.serial_inputs]]")

    # One device per pin, buzzer names and one input per serial port are checked with the
    # other references between sections (edge/config/crosscheck.py): all at once, and
    # still when some other key of the file has an error.

    def buzzer_for(self, name: str | None) -> str | None:
        """The buzzer a button or scanner uses: its own, else the only one configured."""
        if name is not None:
            return name
        return next(iter(self.buzzers)) if len(self.buzzers) == 1 else None


# -- LED boards --------------------------------------------------------------------------

class BoardConfig(StrictModel):
    """One LED board on a bus: over a window (its current ticket) or in the hall (last calls)."""

    address: int = Field(ge=1, le=254, description="the board's address on its bus (DIP switches)")
    kind: Literal["window", "hall"] = Field(description="window: shows the ticket called to "
                                                        "`window`; hall: the last calls")
    window: int | None = Field(default=None, ge=1, le=999, description="window number (kind = window)")
    rows: int = Field(default=1, ge=1, le=8, description="hall: how many recent calls it shows")
    format: str | None = Field(default=None, description="text of one call; placeholders "
                                                         "{ticket} {window}; default '{ticket}' "
                                                         "(window) or '{ticket}>{window}' (hall)")
    idle_text: str = Field(default="", max_length=64, description="shown when there is no call")
    charset: Literal["latin", "cyrillic", "kazakh"] = Field(
        default="latin", description="letters the board can draw: latin (ASCII; Cyrillic is "
                                     "transliterated), cyrillic (CP1251; Kazakh letters fall back "
                                     "to Russian look-alikes), kazakh (KZ-1048)")
    width: int = Field(default=16, ge=1, le=256, description="characters per row; longer text is cut")
    notices: bool = Field(default=False,
                          description="also show a visitor's refusal at the kiosk (no paper, "
                                      "closed, ...) for a few seconds, in Kazakh and Russian")

    @model_validator(mode="after")
    def _kind_fields(self) -> "BoardConfig":
        if self.kind == "window" and self.window is None:
            raise ValueError("window: required for kind = 'window'")
        if self.kind == "hall" and self.window is not None:
            raise ValueError("window: not used by kind = 'hall'; remove it")
        if self.kind == "window" and self.rows != 1:
            raise ValueError("rows: only used by kind = 'hall'")
        if self.format is not None:
            try:
                self.format.format(ticket="A-001", window=1)
            except (KeyError, IndexError, ValueError):
                raise ValueError(f"format: {self.format!r} may only use {{ticket}} and {{window}}") from None
        return self

    def call_format(self) -> str:
        return self.format or ("{ticket}" if self.kind == "window" else "{ticket}>{window}")


class _BusBase(StrictModel):
    codec: Literal["addressed", "alpha"] = Field(
        default="addressed", description="frame format: 'addressed' = [0x01, address, text, 0x07]; "
                                         "'alpha' = Alpha Sign M-Protocol (7-bit text)")
    gap_ms: int = Field(default=50, ge=0, le=5000, description="pause between two frames on the bus")
    blink_s: float = Field(default=5.0, ge=0, le=60, description="a new call blinks this long")
    boards: list[BoardConfig] = Field(min_length=1, description="[[boards.buses.NAME.boards]]")

    # Board addresses unique on the bus and the alpha codec's charset: edge/config/crosscheck.py.


class SerialBusConfig(_BusBase):
    """An RS-485 or RS-232 line (USB adapter) with one or more boards on it."""

    type: Literal["serial"]
    port: str = Field(min_length=1, description="serial device, best /dev/serial/by-id/...")
    baudrate: int = Field(default=9600, ge=300, le=921600, description="bits per second")
    framing: Literal["8N1", "7E1", "8E1", "7O1", "8O1"] = Field(
        default="8N1", description="data bits, parity, stop bits (Alpha signs: 7E1)")
    required: bool = Field(default=True, description="true: a port missing at start is "
                                                     "reported with the ports present now; "
                                                     "either way a board bus that cannot open "
                                                     "is an alarm, the queue runs and the port "
                                                     "is retried")
    reconnect_s: float = Field(default=2.0, gt=0, le=60,
                               description="seconds between attempts to reopen a lost port")
    write_timeout_s: float = Field(default=1.0, gt=0, le=10,
                                   description="a write blocked longer than this = board lost")


class FakeBusConfig(_BusBase):
    """A bus that records its frames (demo, tests); optionally appends them as hex to a file."""

    type: Literal["fake"]
    path: PathText | None = Field(default=None, description="file the frames are appended to, one hex "
                                                        "line each; none = memory only")


BusConfig = Annotated[Union[SerialBusConfig, FakeBusConfig], Field(discriminator="type")]


class BoardsConfig(StrictModel):
    """[boards]: LED display boards, grouped by the bus (serial line) they hang on."""

    buses: dict[str, BusConfig] = Field(default_factory=dict, description="[boards.buses.NAME]")

    # Serial ports unique across buses: edge/config/crosscheck.py.


def check_hardware(gpio: GpioConfig, boards: BoardsConfig, services: list[str],
                   windows: list[int], printers: list[str]) -> list[str]:
    """Rules that need the rest of the config (service ids, windows, printers), for typed
    sections: one line per problem, naming the key path (see edge/config/crosscheck.py)."""
    from edge.config.crosscheck import cross_section_problems
    data = {"services": [{"id": s} for s in services], "windows": [{"number": n} for n in windows],
            "printers": {p: {} for p in printers},
            "gpio": gpio.model_dump(), "boards": boards.model_dump()}
    return [p for p in cross_section_problems(data) if p.startswith(("gpio.", "boards."))]
