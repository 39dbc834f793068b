"""Configuration of the hall screen (a page served to a TV browser)."""

from __future__ import annotations

from edge.config.base import StrictModel


class HallConfig(StrictModel):
    pass
