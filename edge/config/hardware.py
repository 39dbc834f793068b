"""The [gpio] section (header pins and serial inputs) and the hardware rules that need the rest
of the config; the device models are in buttons.py, serial_inputs.py and boards.py."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge.config.base import StrictModel
from edge.config.boards import BoardsConfig
from edge.config.buttons import BuzzerConfig, ButtonConfig, LedConfig
from edge.config.serial_inputs import SerialInputConfig


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


def check_hardware(gpio: GpioConfig, boards: BoardsConfig, services: list[str],
                   windows: list[int], printers: list[str]) -> list[str]:
    """Rules that need the rest of the config (service ids, windows, printers), for typed
    sections: one line per problem, naming the key path (see edge/config/crosscheck.py)."""
    from edge.config.crosscheck import cross_section_problems
    data = {"services": [{"id": s} for s in services], "windows": [{"number": n} for n in windows],
            "printers": {p: {} for p in printers},
            "gpio": gpio.model_dump(), "boards": boards.model_dump()}
    return [p for p in cross_section_problems(data) if p.startswith(("gpio.", "boards."))]
