"""The Situational Center's settings: the web listener, the standards per service, the sites.

A TOML file (`kezek central run --web-config FILE`), strict like the edge's config: an
unknown key or a wrong type is refused with its key path. The standards use the edge's
own names and meaning ([policies.services.<id>] in an edge's config): `visit_sla_min`
from the ticket to the end of the visit, transfers included (a driving licence: 120),
`max_wait_min` in one wait, `max_service_min` at one window.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import Field, ValidationError

from edge.config.base import StrictModel


class Standard(StrictModel):
    """[standards.<service id>]: how long a visit of this service may take."""

    visit_sla_min: int | None = Field(default=None, ge=1, le=1440,
                                      description="the whole visit, from the ticket to its "
                                                  "end, transfers included (minutes)")
    max_wait_min: int | None = Field(default=None, ge=1, le=1440,
                                     description="one wait for a call (minutes)")
    max_service_min: int | None = Field(default=None, ge=1, le=1440,
                                        description="at one window, from the call (minutes)")


class Site(StrictModel):
    """[sites.<site id>]: how a center is shown; a center not listed shows its id."""

    name: str = Field(default="", max_length=120, description="e.g. 'Астана, ЦОН №1'")
    region: str = Field(default="", max_length=60, description="e.g. 'Астана', for the filter")


class ServiceName(StrictModel):
    """A service's name on the visitor's ticket page and the staff's screens (central has
    no edge config)."""

    kk: str = Field(min_length=1, max_length=120, description="in Kazakh")
    ru: str = Field(min_length=1, max_length=120, description="in Russian")
    en: str = Field(default="", max_length=120, description="in English (optional)")


class WebSettings(StrictModel):
    """[web]: where the screens listen and how sessions and silence are judged."""

    bind: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=8480, ge=0, le=65535, description="0 = any free port")
    sessions: str = Field(default="central-sessions.db",
                          description="SQLite file of the staff's sign-in sessions")
    idle_min: int = Field(default=480, ge=5, le=1440,
                          description="a session ends after this long without a request")
    silent_after_s: int = Field(default=180, ge=30, le=3600,
                                description="a center whose devices sent no health this long "
                                            "is shown as silent")
    refresh_s: float = Field(default=2.0, ge=0.2, le=60.0,
                             description="how often the screens' figures are re-read")
    max_clients: int = Field(default=64, ge=1, le=1000, description="live screens at once")


class CentralWebConfig(StrictModel):
    web: WebSettings = WebSettings()
    standards: dict[str, Standard] = Field(default_factory=dict,
                                           description="service id -> its standard")
    sites: dict[str, Site] = Field(default_factory=dict, description="site id -> name, region")
    services: dict[str, ServiceName] = Field(
        default_factory=dict, description="service id -> its names on the visitor's ticket "
                                          "page (/t/<token>) and the staff's screens; "
                                          "without, they show the id")


def load_web_config(path: Path | None) -> CentralWebConfig:
    """The file's settings (defaults without one); ValueError names the key that is wrong."""
    if path is None:
        return CentralWebConfig()
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"{path}: {e}") from None
    try:
        return CentralWebConfig.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                             for err in e.errors())
        raise ValueError(f"{path}: {problems}") from None
