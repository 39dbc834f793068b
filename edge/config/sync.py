"""Configuration of the MQTT link to central (owned by the sync work)."""

from __future__ import annotations

from pydantic import Field

from edge.config.base import StrictModel


class SyncConfig(StrictModel):
    enabled: bool = Field(default=False, description="connect to the central MQTT broker")
