"""Configuration of LED display boards, grouped by the bus (serial line) they hang on."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from edge.config.base import StrictModel
from edge.strict import PathText


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
