"""Configuration of the center itself: identity, time zone, services, windows, storage."""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from edge.config.base import StrictModel
from edge.strict import ListTuple, PathText

Lang = Annotated[str, Field(pattern=r"^(kk|ru|en)$", description="language code: kk, ru or en")]


class Names(StrictModel):
    """A text in the center's languages; Kazakh and Russian are required."""

    kk: str = Field(min_length=1, description="Kazakh")
    ru: str = Field(min_length=1, description="Russian")
    en: str | None = Field(default=None, min_length=1, description="English (optional)")

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("kk", self.kk), ("ru", self.ru), ("en", self.en)) if v}


class CenterConfig(StrictModel):
    site: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
                      description="site id used in MQTT topics: lowercase letters, digits, "
                                  "'-' or '_', e.g. 'ast-con-01'")
    device: str = Field(default="edge-1", pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
                        description="device id within the site: lowercase letters, digits, "
                                    "'-' or '_', e.g. 'edge-1'")
    name: Names
    timezone: str = Field(default="Asia/Almaty", description="IANA time zone name")
    languages: list[Lang] = Field(default=["kk", "ru"], min_length=1,
                                  description="languages shown and printed, in order")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r}; use a name such as 'Asia/Almaty'")
        return v


class ServiceConfig(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
                    description="short id, lowercase letters, digits, '-' or '_'")
    names: Names
    prefix: str = Field(pattern=r"^[A-Z]$", description="one capital Latin letter, e.g. 'A'")
    range: Annotated[tuple[int, int], ListTuple] = Field(
        default=(1, 999), description="[first, last] ticket number")
    avg_minutes: float = Field(default=10.0, gt=0, le=480,
                               description="average minutes to serve one visitor")

    @field_validator("range")
    @classmethod
    def _range_ok(cls, v: tuple[int, int]) -> tuple[int, int]:
        lo, hi = v
        if not (0 <= lo < hi <= 9999):
            raise ValueError(f"expected [first, last] with 0 <= first < last <= 9999, got {list(v)}")
        return v


class WindowConfig(StrictModel):
    number: int = Field(ge=1, le=999, description="the number shown above the window")
    label: str = Field(default="", description="free text, e.g. 'Окно 1'")
    services: dict[str, int] = Field(
        min_length=1,
        description="service id -> weight: 2 = first, 1 = normal, 0 = only if nothing else")
    benefit: bool = Field(default=False, description="benefit window: benefit visitors first")
    open_at_start: bool = Field(default=True, description="open when the controller starts")

    @field_validator("services")
    @classmethod
    def _weights_ok(cls, v: dict[str, int]) -> dict[str, int]:
        for sid, w in v.items():
            if w not in (0, 1, 2):
                raise ValueError(f"weight of service {sid!r} must be 0, 1 or 2, got {w!r}")
        return v


class StorageConfig(StrictModel):
    state_dir: PathText = Field(default=Path("/var/lib/kezek"),
                            description="where the database lives (kezek run --state-dir overrides)")
    outbox_cap: int = Field(default=1_000_000, ge=1000,
                            description="most events kept while central is unreachable")


class ConsoleConfig(StrictModel):
    """The console simulation driver: commands on stdin, one line each; results on stdout."""

    enabled: bool = Field(default=False, description="read commands from stdin")
    printer: str | None = Field(default=None,
                                description="printer (a [printers] name) for console tickets")
    quit_on_eof: bool | None = Field(
        default=None,
        description="whether the end of input (Ctrl-D, the end of a piped script) stops the "
                    "service; unset = only when stdin is a terminal (under systemd stdin is "
                    "/dev/null, and its end must not stop the service)")


# The rules between services and windows (unique ids, prefixes and numbers, known
# services) are in edge/config/crosscheck.py, with the other cross-section rules.


__all__ = ["CenterConfig", "ServiceConfig", "WindowConfig", "StorageConfig", "ConsoleConfig",
           "Names", "model_validator"]
