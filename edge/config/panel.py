"""Configuration of the operators' panel ([panel]) and of the operators ([[operators]])."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from edge.config.base import StrictModel, ip_address, unprivileged_port
from edge.web.secrets import is_secret_hash


class PanelPc(StrictModel):
    """A PC at a window: the panel opened from it works only at that window."""

    address: str = Field(description="the PC's IP address, e.g. '10.0.5.23'")
    window: int = Field(ge=1, le=999, description="the window this PC stands at")

    @field_validator("address")
    @classmethod
    def _is_ip(cls, v: str) -> str:
        return ip_address(v, "10.0.5.23")


class PanelConfig(StrictModel):
    """The operators' panel: a page per window on the center's LAN (docs/operator.md)."""

    enabled: bool = Field(default=False, description="serve the operators' panel")
    bind: str = Field(default="0.0.0.0",
                      description="IP address to listen on: 0.0.0.0 = the center's LAN (the "
                                  "operators' PCs); 127.0.0.1 = only this Pi")
    port: int = Field(default=8082, ge=0, le=65535,
                      description="TCP port, 1024-65535; 0 picks a free port (tests)")
    idle_min: int = Field(default=30, ge=1, le=720,
                          description="a panel untouched this many minutes is signed out")
    max_failures: int = Field(default=5, ge=2, le=50,
                              description="wrong PINs (per operator and per PC) before a lock")
    failure_window_s: float = Field(default=300.0, ge=10.0, le=86400.0,
                                    description="the wrong PINs counted are those of the "
                                                "last this many seconds")
    lock_s: float = Field(default=300.0, ge=10.0, le=86400.0,
                          description="how long a lock lasts, in seconds")
    rate_per_s: float = Field(default=5.0, gt=0, le=100,
                              description="requests a second one PC may make on average")
    burst: int = Field(default=20, ge=1, le=200, description="requests one PC may make at once")
    max_clients: int = Field(default=64, ge=1, le=256,
                             description="most live connections (open panels) at once")
    keepalive_s: float = Field(default=15.0, ge=1.0, le=300.0,
                               description="seconds between pings on a quiet live connection")
    retry_ms: int = Field(default=2000, ge=500, le=60000,
                          description="how long the browser waits before reconnecting")
    pcs: list[PanelPc] = Field(default_factory=list, max_length=999,
                               description="PCs bound to a window ([[panel.pcs]]): an "
                                           "operator signing in there gets that window")

    @field_validator("bind")
    @classmethod
    def _is_ip(cls, v: str) -> str:
        return ip_address(v, "0.0.0.0")

    @field_validator("port")
    @classmethod
    def _unprivileged(cls, v: int) -> int:
        return unprivileged_port(v, 8082)

    def window_of(self, address: str) -> int | None:
        """The window the PC at `address` is bound to, if any."""
        for pc in self.pcs:
            if pc.address == address:
                return pc.window
        return None


class OperatorConfig(StrictModel):
    """One person who signs in at the panel ([[operators]]; also in central's cfg)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,31}$",
                    description="short id typed at sign-in and named in events: lowercase "
                                "letters, digits, '.', '-' or '_', e.g. 'aigerim.s'")
    name: str = Field(min_length=1, max_length=80, description="the name shown on the panel")
    services: list[str] = Field(default_factory=list, max_length=64,
                                description="service ids the operator may serve; empty = "
                                            "every service. A window may be taken only if "
                                            "it serves none other")
    role: Literal["operator", "manager"] = Field(default="operator",
                                                 description="operator, or manager (the "
                                                             "manager's day)")
    secret: str = Field(description="the PIN's hash, made by `kezek operator-hash` "
                                    "(never the PIN itself)")

    @field_validator("secret")
    @classmethod
    def _hashed(cls, v: str) -> str:
        if not is_secret_hash(v):
            raise ValueError("expected a hash made by `kezek operator-hash` "
                             "(scrypt$14$8$1$...), not a PIN in clear")
        return v

    @field_validator("services")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"a service is listed twice: {v}")
        return v

    def may_serve(self, services: list[str] | dict[str, int]) -> bool:
        """Whether this operator may take a window serving `services`."""
        return not self.services or all(s in self.services for s in services)
