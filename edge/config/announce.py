"""Configuration of spoken announcements from pre-recorded clips."""

from __future__ import annotations

from edge.config.base import StrictModel


class AnnounceConfig(StrictModel):
    pass
