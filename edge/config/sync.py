"""Configuration of the MQTT link to central (owned by the sync work); see docs/sync.md."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from edge.config.base import StrictModel
from edge.strict import PathText


class SyncConfig(StrictModel):
    """`[sync]`: where the central broker is, how to log in, and how the outbox is pumped.

    The password is never in this file: it comes from `password_file` (e.g. a systemd
    credential) or from the environment variable named by `password_env`.
    """

    enabled: bool = Field(default=False, description="connect to the central MQTT broker")
    host: str = Field(default="localhost", min_length=1, max_length=253,
                      description="broker host name or IP address")
    port: int = Field(default=8883, ge=1, le=65535,
                      description="broker port (8883 = MQTT over TLS, 1883 = plain, tests only)")
    tls: bool = Field(default=True, description="use TLS; turn off only on a trusted test bench")
    ca_file: PathText | None = Field(default=None,
                                 description="CA certificate(s) that signed the broker's "
                                             "certificate; none = the system's CA store")
    cert_file: PathText | None = Field(default=None,
                                   description="this device's client certificate (PEM)")
    key_file: PathText | None = Field(default=None,
                                  description="private key of the client certificate (PEM)")
    username: str | None = Field(default=None, min_length=1, max_length=128,
                                 description="MQTT user name; none = certificate identity only")
    password_file: PathText | None = Field(
        default=None, description="file holding the MQTT password (one line), e.g. "
                                  "/run/credentials/kezek.service/mqtt_password")
    password_env: str = Field(default="KEZEK_MQTT_PASSWORD", pattern=r"^[A-Z_][A-Z0-9_]{0,63}$",
                              description="environment variable with the MQTT password, "
                                          "used when password_file is not set")
    keepalive_s: int = Field(default=30, ge=2, le=1200,
                             description="MQTT keepalive: a silent link is declared dead after "
                                         "1.5 x this many seconds")
    connect_timeout_s: float = Field(default=10.0, ge=0.5, le=120,
                                     description="seconds to wait for TCP, TLS and CONNACK")
    reconnect_min_s: float = Field(default=1.0, ge=0.05, le=60,
                                   description="first reconnect delay; doubles on each failure")
    reconnect_max_s: float = Field(default=120.0, ge=0.1, le=3600,
                                   description="longest reconnect delay")
    session_expiry_s: int = Field(default=3600, ge=0, le=7 * 86400,
                                  description="how long the broker keeps queued commands for "
                                              "this device while it is offline")
    batch_max_bytes: int = Field(default=256 * 1024, ge=2048, le=8 * 1024 * 1024,
                                 description="largest event batch message, in bytes")
    batch_max_events: int = Field(default=1000, ge=1, le=10_000,
                                  description="most events in one batch message")
    inflight_batches: int = Field(default=8, ge=1, le=5000,
                                  description="batches sent but not yet acked by central; "
                                              "keep it well under the broker's queue limit")
    ack_timeout_s: float = Field(default=30.0, ge=0.2, le=3600,
                                 description="no ack progress for this long: resend from the "
                                             "last acked event (go-back-N)")
    health_interval_s: float = Field(default=60.0, ge=0.5, le=3600,
                                     description="how often the retained health snapshot is sent")
    watchdog_s: float = Field(default=60.0, ge=0.5, le=3600,
                              description="the network loop must show life this often, or the "
                                          "watchdog replaces it with a new client")
    # 8 MiB: a bookings snapshot of 20,000 entries (protocol.md's maximum) is ~4.4 MB.
    downlink_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024,
                                    description="largest cfg/bookings/cmd payload accepted")
    outbox_alarm_ratio: float = Field(default=0.8, ge=0.1, le=0.99,
                                      description="raise the sync.outbox alarm at this share of "
                                                  "storage.outbox_cap")
    outbox_full_policy: Literal["drop_oldest", "keep"] = Field(
        default="drop_oldest",
        description="at storage.outbox_cap: drop_oldest = delete the oldest unsent events and "
                    "report the range (event sync.outbox_dropped); keep = never delete unsent "
                    "events (the disk may fill)")

    @model_validator(mode="after")
    def _tls_pair(self) -> "SyncConfig":
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("sync.cert_file: cert_file and key_file go together; set both "
                             "(client certificate login) or neither")
        if not self.tls and (self.cert_file or self.ca_file):
            raise ValueError("sync.tls: certificates are set but tls = false; set tls = true")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("sync.reconnect_max_s: must be >= sync.reconnect_min_s")
        return self

    def read_password(self) -> str | None:
        """The MQTT password from password_file, else the environment; None when unset."""
        import os

        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        creds = os.environ.get("CREDENTIALS_DIRECTORY")
        if creds and (Path(creds) / "mqtt_password").is_file():
            return (Path(creds) / "mqtt_password").read_text(encoding="utf-8").strip()
        value = os.environ.get(self.password_env)
        return value or None
