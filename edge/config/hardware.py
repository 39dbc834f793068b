"""Configuration of buttons, status LEDs, serial inputs and LED boards."""

from __future__ import annotations

from edge.config.base import StrictModel


class GpioConfig(StrictModel):
    pass


class BoardsConfig(StrictModel):
    pass
