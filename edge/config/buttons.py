"""Configuration of what hangs on the Pi's header: buttons, status LEDs and buzzers."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import AfterValidator, Field, model_validator

from edge.config.base import StrictModel

# Actions an operator's button or keypad key can do at its window (docs/hardware.md).
WindowAction = Literal["call_next", "recall", "no_show", "start", "finish", "park",
                       "transfer", "pause", "resume", "open", "close"]

# BCM GPIO numbers on the 40-pin header of every Pi with one (Pi 2 .. Pi 5).
BCM_MIN, BCM_MAX = 2, 27
# GPIO 0 and 1 carry the HAT identification EEPROM (ID_SD / ID_SC): never use them.
_RESERVED = {0: "reserved for the HAT ID EEPROM (ID_SD)", 1: "reserved for the HAT ID EEPROM (ID_SC)"}

def _check_pin(v: int) -> int:
    if v in _RESERVED:
        raise ValueError(f"GPIO {v} is {_RESERVED[v]}; use a BCM number from {BCM_MIN} to {BCM_MAX}")
    if not BCM_MIN <= v <= BCM_MAX:
        raise ValueError(f"GPIO {v} does not exist on the Pi header; use a BCM number from "
                         f"{BCM_MIN} to {BCM_MAX} (e.g. header pin 11 is GPIO 17)")
    return v


# Every model with a pin checks it the same way (on the type, not a validator per model).
Pin = Annotated[int, AfterValidator(_check_pin),
                Field(description="BCM GPIO number (2..27), not the header pin number")]


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
