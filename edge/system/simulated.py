"""Devices the config only simulates: fine for `kezek demo`, nothing physical on a center's box.

`kezek doctor` fails on each of them and `kezek run` warns once at start, so a config
copied from config/demo.toml is not mistaken for a working installation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge.config import AppConfig


@dataclass(frozen=True)
class Simulated:
    key: str      # the config key that makes it simulated
    what: str     # what does not happen in the hall because of it
    fix: str      # what to set instead


def simulated_devices(config: AppConfig) -> list[Simulated]:
    found: list[Simulated] = []
    g = config.gpio
    if g.pin_factory == "mock" and (g.buttons or g.leds or g.buzzers):
        found.append(Simulated(
            "gpio.pin_factory = 'mock'",
            "buttons, LEDs and buzzers are simulated: nothing on the GPIO header works",
            "set gpio.pin_factory = 'lgpio' (a Pi 5; 'default' lets gpiozero choose)"))
    for name, pc in config.printers.items():
        # A file printer pointed at a device node (/dev/usb/lp0) is a real printer.
        if pc.type == "fake" or (pc.type == "file" and not _is_device(pc.path)):
            found.append(Simulated(
                f"printers.{name}.type = '{pc.type}'",
                "tickets are not printed on paper",
                f"set printers.{name}.type to 'usb', 'serial' or 'network'"
                + (f", or printers.{name}.path to the printer's device such as /dev/usb/lp0"
                   if pc.type == "file" else "") + " (docs/printing.md)"))
    for name, bus in config.boards.buses.items():
        if bus.type == "fake":
            found.append(Simulated(
                f"boards.buses.{name}.type = 'fake'",
                "the LED boards show nothing",
                f"set boards.buses.{name}.type = 'serial' and its port (docs/hardware.md)"))
    a = config.announce
    if a.enabled and a.output.type in ("file", "fake"):
        found.append(Simulated(
            f"announce.output.type = '{a.output.type}'",
            "calls are not spoken in the hall",
            "set announce.output.type = 'alsa' (docs/announce.md)"))
    return found


def _is_device(path: Path) -> bool:
    return path.is_absolute() and path.parts[1:2] == ("dev",)
