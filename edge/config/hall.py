"""Configuration of the hall screen (a page served to a TV browser)."""

from __future__ import annotations


from pydantic import Field, field_validator

from edge.config.base import StrictModel, ip_address, unprivileged_port
from edge.config.center import Lang


class HallConfig(StrictModel):
    """The read-only hall page: last calls and waiting counts, pushed live to a TV browser."""

    enabled: bool = Field(default=False, description="serve the hall page on the LAN")
    bind: str = Field(default="0.0.0.0",
                      description="IP address to listen on: 0.0.0.0 = every interface "
                                  "(a TV elsewhere on the LAN), 127.0.0.1 = only this Pi's "
                                  "own browser (HDMI kiosk)")
    port: int = Field(default=8080, ge=0, le=65535,
                      description="TCP port, 1024-65535; 0 picks a free port (tests)")
    rows: int = Field(default=5, ge=1, le=12, description="how many last calls are listed")
    min_show_s: float = Field(default=7.0, ge=1.0, le=120.0,
                              description="a new call stays on the page and highlighted at "
                                          "least this long, even if more calls follow at once")
    languages: list[Lang] = Field(default=["kk", "ru"], min_length=1, max_length=3,
                                  description="languages on the page, in order")
    show_waiting: bool = Field(default=True, description="show waiting counts per service")
    max_clients: int = Field(default=16, ge=1, le=256,
                             description="most screens (live connections) at once; more get "
                                         "HTTP 503 and their browser retries")
    keepalive_s: float = Field(default=15.0, ge=1.0, le=300.0,
                               description="seconds between keep-alive comments on a quiet "
                                           "live connection (finds dead TVs, keeps proxies open)")
    retry_ms: int = Field(default=3000, ge=500, le=60000,
                          description="how long a browser waits before reconnecting")

    @field_validator("bind")
    @classmethod
    def _is_ip(cls, v: str) -> str:
        return ip_address(v, "0.0.0.0")

    @field_validator("port")
    @classmethod
    def _unprivileged(cls, v: int) -> int:
        return unprivileged_port(v, 8080)

    @field_validator("languages")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"a language is listed twice: {v}")
        return v
