"""Choosing the gpiozero pin factory by its config name, importing the pin library lazily."""

from __future__ import annotations

import importlib
from typing import Any

from edge.errors import DeviceError

_FACTORIES = {
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory", "pip install lgpio (the 'pi' extra); "
              "needed on a Pi 5"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory", "pip install RPi.GPIO"),
    "pigpio": ("gpiozero.pins.pigpio", "PiGPIOFactory", "pip install pigpio and run pigpiod"),
    "native": ("gpiozero.pins.native", "NativeFactory", "not supported on a Pi 5; use lgpio"),
    "mock": ("gpiozero.pins.mock", "MockFactory", ""),
}


def make_pin_factory(name: str) -> Any:
    """A new pin factory, or None for 'default' (gpiozero picks one itself)."""
    if name == "default":
        return None
    module_name, class_name, hint = _FACTORIES[name]
    try:
        module = importlib.import_module(module_name)
        return getattr(module, class_name)()
    except ImportError as e:
        raise DeviceError(f"gpio pin factory {name!r} (gpio.pin_factory)",
                          f"its library is not installed ({e})", hint) from None
    except Exception as e:  # gpiozero raises its own types, e.g. "Cannot determine SOC ..."
        raise DeviceError(f"gpio pin factory {name!r} (gpio.pin_factory)",
                          f"cannot start: {e}",
                          "on a Pi 5 use pin_factory = 'lgpio'; the service user must be in "
                          "group gpio; on a laptop use 'mock'") from None
