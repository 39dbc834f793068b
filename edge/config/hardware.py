"""Configuration of buttons, serial inputs, LED boards, the hall screen and announcements."""

from __future__ import annotations

from edge.config.base import StrictModel


class GpioConfig(StrictModel):
    pass


class BoardsConfig(StrictModel):
    pass


class HallConfig(StrictModel):
    pass


class AnnounceConfig(StrictModel):
    pass
