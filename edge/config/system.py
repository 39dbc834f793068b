"""Configuration of the service itself: status socket, logging, metrics (owned by the Pi work)."""

from __future__ import annotations

from edge.config.base import StrictModel


class SystemConfig(StrictModel):
    pass
