"""Configuration of the touch kiosk page ([kiosk]): a page for the kiosk's own screen."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator

from edge.config.base import StrictModel, ip_address, unprivileged_port
from edge.config.center import Lang

CategoryName = Literal["normal", "pensioner", "disability", "large_family"]


class KioskConfig(StrictModel):
    """The touch page visitors take tickets and check in on, served by the controller."""

    enabled: bool = Field(default=False, description="serve the kiosk page")
    bind: str = Field(default="127.0.0.1",
                      description="IP address to listen on: 127.0.0.1 = only this Pi's own "
                                  "screen (usual); 0.0.0.0 = also a kiosk elsewhere on the LAN "
                                  "(then list its address in allow)")
    port: int = Field(default=8081, ge=0, le=65535,
                      description="TCP port, 1024-65535; 0 picks a free port (tests)")
    allow: list[str] = Field(default=["127.0.0.1", "::1"], min_length=1, max_length=32,
                             description="addresses (or networks such as 10.0.5.20/32) that may "
                                         "use the page; every other address gets HTTP 403")
    printer: str | None = Field(default=None,
                                description="[printers] name that prints the page's tickets; "
                                            "none = no paper (the number is only shown)")
    languages: list[Lang] = Field(default=["kk", "ru"], min_length=2, max_length=3,
                                  description="languages on the page, in order: kk and ru both "
                                              "(Kazakh first is the law's order), en optional")
    services: list[str] = Field(default_factory=list, max_length=64,
                                description="service ids shown, in order; empty = every service")
    categories: list[CategoryName] = Field(
        default=["normal", "pensioner", "disability", "large_family"], min_length=1,
        max_length=4, description="visitor categories offered after a service is chosen; "
                                  "['normal'] alone skips the question")
    checkin_iin: bool = Field(default=True, description="offer check-in by IIN (needs the "
                                                        "site's IIN secret, docs/bookings.md)")
    checkin_code: bool = Field(default=True, description="offer check-in by booking code")
    result_s: float = Field(default=10.0, ge=3.0, le=120.0,
                            description="seconds the ticket number or refusal stays on screen")
    idle_s: float = Field(default=45.0, ge=10.0, le=600.0,
                          description="a half-finished entry goes back to the start after "
                                      "this many seconds without a touch")
    rate_per_s: float = Field(default=2.0, gt=0, le=50,
                              description="requests a second one address may make on average")
    burst: int = Field(default=8, ge=1, le=100,
                       description="requests one address may make at once")
    max_clients: int = Field(default=4, ge=1, le=64,
                             description="most live connections (kiosk screens) at once")
    keepalive_s: float = Field(default=15.0, ge=1.0, le=300.0,
                               description="seconds between pings on a quiet live connection")
    retry_ms: int = Field(default=3000, ge=500, le=60000,
                          description="how long the browser waits before reconnecting")

    @field_validator("bind")
    @classmethod
    def _is_ip(cls, v: str) -> str:
        return ip_address(v, "127.0.0.1")

    @field_validator("port")
    @classmethod
    def _unprivileged(cls, v: int) -> int:
        return unprivileged_port(v, 8081)

    @field_validator("allow")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network; write e.g. "
                                 f"'127.0.0.1' or '10.0.5.20'") from None
        return v

    @field_validator("languages")
    @classmethod
    def _kk_and_ru(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"a language is listed twice: {v}")
        if "kk" not in v or "ru" not in v:
            raise ValueError(f"the kiosk speaks Kazakh and Russian: list both 'kk' and 'ru' "
                             f"(got {v})")
        return v

    @field_validator("services", "categories")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"an item is listed twice: {v}")
        return v

    def allow_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(a, strict=False) for a in self.allow]

    def allows(self, host: str) -> bool:
        """True when a client at `host` may use the page (an IPv4-mapped IPv6 counts as IPv4)."""
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr in net for net in self.allow_networks())
