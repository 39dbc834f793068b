"""Configuration of the day's policies ([policies]) and of bookings ([bookings]); see docs/bookings.md."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge.config.base import StrictModel
from edge.strict import DateText, PathText

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"
_SPAN = r"^([01]\d|2[0-3]):[0-5]\d-(([01]\d|2[0-3]):[0-5]\d|24:00)$"
IIN_SECRET_MIN_BYTES = 16


def minutes_of(hhmm: str) -> int:
    """'09:30' -> 570; '24:00' -> 1440."""
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


class DayHours(StrictModel):
    """Working hours of one weekday, with breaks (lunch) inside them."""

    open: str = Field(pattern=_HHMM, description="opening time, HH:MM (local time)")
    close: str = Field(pattern=_HHMM, description="closing time, HH:MM; 24:00 = midnight")
    breaks: list[str] = Field(default_factory=list, max_length=8,
                              description="breaks as 'HH:MM-HH:MM', e.g. ['13:00-14:00']")

    @field_validator("breaks")
    @classmethod
    def _spans(cls, v: list[str]) -> list[str]:
        import re
        for b in v:
            if not re.match(_SPAN, b):
                raise ValueError(f"break {b!r} is not 'HH:MM-HH:MM' (e.g. '13:00-14:00')")
        return v

    @model_validator(mode="after")
    def _order(self) -> "DayHours":
        lo, hi = minutes_of(self.open), minutes_of(self.close)
        if lo >= hi:
            raise ValueError(f"open {self.open} must be before close {self.close}")
        last = lo
        for b in sorted(self.breaks):
            s, e = (minutes_of(x) for x in b.split("-"))
            if not (lo <= s < e <= hi):
                raise ValueError(f"break {b} must lie within {self.open}-{self.close} and end "
                                 "after it starts")
            if s < last:
                raise ValueError(f"break {b} overlaps another break")
            last = e
        return self

    def spans(self) -> list[tuple[int, int]]:
        """Working spans of the day in minutes from midnight, breaks cut out."""
        out, cur = [], minutes_of(self.open)
        for b in sorted(self.breaks):
            s, e = (minutes_of(x) for x in b.split("-"))
            if s > cur:
                out.append((cur, s))
            cur = e
        end = minutes_of(self.close)
        if end > cur:
            out.append((cur, end))
        return out


class ServicePolicy(StrictModel):
    """[policies.services.<id>]: how one service takes visitors, its daily cap and its SLAs."""

    mode: Literal["both", "booking_only", "walk_in_only"] = Field(
        default="both", description="both = bookings and walk-ins; booking_only = no walk-in "
                                    "tickets at the kiosk; walk_in_only = the service takes no "
                                    "bookings (bookings from central are still honoured)")
    daily_cap: int | None = Field(default=None, ge=1, le=9999,
                                  description="most tickets per day for this service, booked "
                                              "visitors included (they are never refused)")
    max_wait_min: int | None = Field(default=None, ge=1, le=1440,
                                     description="alarm when a ticket waits longer (minutes)")
    max_service_min: int | None = Field(default=None, ge=1, le=1440,
                                        description="alarm when a visitor is at a window longer")
    visit_sla_min: int | None = Field(default=None, ge=1, le=1440,
                                      description="alarm when a visit that started with this "
                                                  "service lasts longer, transfers included "
                                                  "(e.g. 120 for a driving licence)")
    slot_quota: int | None = Field(default=None, ge=1, le=999,
                                   description="booked visitors per slot (policies."
                                               "slot_minutes) for this service: walk-ins "
                                               "never take the places of later slots not "
                                               "booked yet; none = only bookings made hold "
                                               "places")


class PoliciesConfig(StrictModel):
    """[policies]: working hours, capacity stop, recalls, no-shows, SLAs per service."""

    recall_limit: int = Field(default=3, ge=1, le=20,
                              description="calls (first call + recalls) before an automatic no-show")
    rating_window_s: int = Field(default=120, ge=5, le=3600,
                                 description="seconds after 'done' during which a rating counts")
    recall_min_interval_s: int = Field(default=0, ge=0, le=600,
                                       description="seconds between two calls of the same ticket "
                                                   "(an earlier recall is refused); 0 = off, "
                                                   "10-30 is usual")
    no_show_after_s: int | None = Field(default=None, ge=10, le=3600,
                                        description="a called visitor not started (the start "
                                                    "button) after this many seconds becomes a "
                                                    "no-show; needs operators to press start; "
                                                    "none = off")
    no_show_return_min: int = Field(default=5, ge=0, le=120,
                                    description="a no-show of today may come back: at once to "
                                                "the end of its line (return TICKET), or called "
                                                "by number to a window (call WINDOW TICKET) this "
                                                "many minutes after the no-show (ZMS: 5); 0 = "
                                                "no-shows are final")
    hours: dict[Weekday, DayHours] | None = Field(
        default=None, description="working hours per weekday (mon..sun); a weekday left out is "
                                  "closed; leave the whole table out to be open at all hours "
                                  "(then there is no capacity stop)")
    closed_dates: list[DateText] = Field(default_factory=list, max_length=366,
                                        description="dates the center is closed (holidays)")
    capacity_stop: bool = Field(default=True,
                                description="stop issuing walk-in tickets when the working time "
                                            "left cannot serve one more visitor")
    estimate_samples: int = Field(default=20, ge=1, le=500,
                                  description="service times in the rolling average of the "
                                              "wait estimate, per service")
    services: dict[str, ServicePolicy] = Field(default_factory=dict,
                                               description="per service id: mode, cap, SLAs")
    mode: Literal["both", "booking_only"] = Field(
        default="both", description="the whole center: both = bookings and walk-ins; "
                                    "booking_only = walk-ins are refused at every service "
                                    "(with how to book) but one whose own mode is "
                                    "walk_in_only")
    walk_in_categories: list[Literal["pensioner", "disability", "large_family"]] = Field(
        default_factory=list, max_length=3,
        description="benefit categories still given a walk-in ticket where only booked "
                    "visitors are served (the center's or a service's booking_only)")
    slot_minutes: int = Field(default=15, ge=5, le=240,
                              description="length of a booking slot: the grid of the slot "
                                          "quotas (services.<id>.slot_quota)")


class BookingsConfig(StrictModel):
    """[bookings]: check-in margins and the per-site secret that keys IIN hashes.

    The secret is never in this file: it is read from `iin_secret_file`, else the systemd
    credential `iin_secret`, else the environment variable named by `iin_secret_env`.
    """

    early_min: int = Field(default=30, ge=0, le=720,
                           description="minutes before the slot from which check-in works")
    late_min: int = Field(default=15, ge=0, le=720,
                          description="minutes after the slot start until which check-in works")
    late_action: Literal["walk_in", "refuse"] = Field(
        default="walk_in", description="a visitor later than late_min: walk_in = gets an "
                                       "ordinary ticket (if walk-ins are taken), refuse = refused")
    call_ahead_s: int = Field(default=0, ge=0, le=1800,
                              description="a checked-in booked visitor goes before walk-ins from "
                                          "this many seconds before the slot start")
    iin_secret_file: PathText | None = Field(
        default=None, description="file holding the site's IIN secret (>= 16 bytes), e.g. "
                                  "/run/credentials/kezek.service/iin_secret")
    iin_secret_env: str = Field(default="KEZEK_IIN_SECRET", pattern=r"^[A-Z_][A-Z0-9_]{0,63}$",
                                description="environment variable with the IIN secret, used "
                                            "when no file or credential is found")
    inbox: bool = Field(default=True,
                        description="load booking files queued by `kezek bookings load`")
    how_to_book: dict[Literal["kk", "ru", "en"], str] = Field(
        default_factory=dict, description="kiosk text on how to book, per language (defaults: "
                                          "the eGov portal, its Telegram bot, 1414)")

    def read_iin_secret(self) -> bytes | None:
        """The site's IIN secret, or None when none is configured. Raises ValueError if weak."""
        raw: bytes | None = None
        where = ""
        if self.iin_secret_file is not None:
            where = str(self.iin_secret_file)
            raw = self.iin_secret_file.read_bytes().strip()
        else:
            creds = os.environ.get("CREDENTIALS_DIRECTORY")
            if creds and (Path(creds) / "iin_secret").is_file():
                where = str(Path(creds) / "iin_secret")
                raw = (Path(creds) / "iin_secret").read_bytes().strip()
            elif os.environ.get(self.iin_secret_env):
                where = f"${self.iin_secret_env}"
                raw = os.environ[self.iin_secret_env].encode("utf-8").strip()
        if raw is None:
            return None
        if len(raw) < IIN_SECRET_MIN_BYTES:
            raise ValueError(f"bookings: the IIN secret in {where} is shorter than "
                             f"{IIN_SECRET_MIN_BYTES} bytes; use e.g. `openssl rand -hex 32`")
        return raw

# [policies.services] naming configured services only: edge/config/crosscheck.py.
