"""Configuration of the day's policies and bookings (owned by the bookings work)."""

from __future__ import annotations

from pydantic import Field

from edge.config.base import StrictModel


class PoliciesConfig(StrictModel):
    recall_limit: int = Field(default=3, ge=1, le=20,
                              description="calls (first call + recalls) before an automatic no-show")
    rating_window_s: int = Field(default=120, ge=5, le=3600,
                                 description="seconds after 'done' during which a rating counts")
