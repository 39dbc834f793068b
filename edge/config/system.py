"""Configuration of the service itself: status socket, logging, health thresholds, metrics."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from edge.config.base import StrictModel
from edge.strict import PathText


class SystemConfig(StrictModel):
    """The `[system]` section: how the box runs as a service (see docs/operations.md)."""

    status_socket: PathText | None = Field(
        default=None,
        description="unix socket `kezek status` talks to; unset = status.sock in the "
                    "unit's RuntimeDirectory (/run/kezek) under systemd, none elsewhere")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="lowest level written to the log")
    log_format: Literal["auto", "journal", "plain"] = Field(
        default="auto",
        description="'journal' prefixes each line with <N> for journald; 'plain' adds a "
                    "timestamp; 'auto' picks 'journal' when stderr goes to the journal")
    warn_simulated: bool = Field(
        default=True,
        description="warn at start about each simulated device (a mock pin factory, a fake "
                    "or file printer, a fake board bus, announcements to a file): on a "
                    "center's box nothing physical works then; config/demo.toml sets false")
    min_free_mb: int = Field(default=200, ge=10, le=1_000_000,
                             description="free space on the state directory's disk below "
                                         "which health and doctor report a problem, in MB")
    cpu_temp_warn_c: float = Field(default=80.0, ge=40, le=110,
                                   description="CPU temperature reported as too hot, in °C")
    metrics_port: int | None = Field(
        default=None, ge=1024, le=65535,
        description="serve Prometheus text metrics on this TCP port; unset = off")
    metrics_bind: str = Field(default="127.0.0.1",
                              description="address of the metrics listener; loopback only")

    @field_validator("metrics_bind")
    @classmethod
    def _loopback_only(cls, v: str) -> str:
        # The metrics carry the queue depth and device states of a public office: they
        # are for a local agent (node exporter, a tunnel), never for the hall network.
        try:
            loopback = ipaddress.ip_address(v).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"metrics must bind to a loopback address such as '127.0.0.1' "
                             f"or '::1', got {v!r}")
        return v

    @field_validator("status_socket")
    @classmethod
    def _absolute(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_absolute():
            raise ValueError(f"the status socket path must be absolute, e.g. "
                             f"'/run/kezek/status.sock', got {str(v)!r}")
        return v
