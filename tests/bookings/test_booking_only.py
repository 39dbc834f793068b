"""A center's day under booking: booking-only centers, late arrivals, slot quotas (tables).

Since February 2026 some ЦОНs serve booked visitors only, at their time; each 15-minute
slot admits a fixed number of people per service. The engine runs on the config as the
service reads it (parse_config -> domain_from_config), on the manual clock (Monday 09:00).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from edge.clock import ManualClock
from edge.config import parse_config
from edge.config.domain import domain_from_config
from edge.queue import commands as c
from edge.queue.engine import QueueEngine
from edge.queue.model import Category
from edge.queue.policies import Refusal, kiosk_text
from tests.queue.conftest import PureEngine

from .conftest import base_config, booking

HOURS = {d: {"open": "09:00", "close": "18:00"} for d in ("mon", "tue", "wed", "thu", "fri")}


def center(clock: ManualClock, policies: dict[str, Any] | None = None,
           bookings: dict[str, Any] | None = None,
           edit: Any = None) -> PureEngine:
    data = copy.deepcopy(base_config(None))
    data["policies"] = {"hours": HOURS, **(policies or {})}
    data["bookings"].update(bookings or {})
    if edit is not None:
        edit(data)
    services, windows, pol = domain_from_config(parse_config(data, "test"), read_secret=False)
    return PureEngine(QueueEngine(services, windows, "Asia/Almaty", pol), clock)


def at(pure: PureEngine, hhmm: str) -> None:
    h, m = (int(x) for x in hhmm.split(":"))
    now = pure.clock.read().wall_ms
    target = now - (now % 86_400_000) + ((h - 5) * 60 + m) * 60_000   # UTC+5
    assert target >= now, "the test clock only goes forward"
    pure.clock.advance((target - now) / 1000)


# -- booking-only and late arrivals ------------------------------------------------------

@dataclass(frozen=True)
class Visit:
    name: str
    policies: dict[str, Any]
    at: str                      # local time of the press or the check-in
    command: c.Command
    expect: str                  # "booked", "walk_in" or a refusal code
    bookings: dict[str, Any] = field(default_factory=dict)
    scope: str | None = None     # a booking_only refusal: "center" or "service"


CENTER = {"mode": "booking_only"}
WALK_IN = c.IssueTicket("docs")
SCAN = c.CheckIn("BK-1")         # booked for 10:00, docs

VISITS = [
    Visit("walk-in at a booking-only center: refused, with how to book", CENTER, "10:00",
          WALK_IN, "booking_only", scope="center"),
    Visit("walk-in at a booking-only service of a center taking both", {
        "services": {"docs": {"mode": "booking_only"}}}, "10:00", WALK_IN, "booking_only",
          scope="service"),
    Visit("a walk_in_only service stays open at a booking-only center", {
        **CENTER, "services": {"realty": {"mode": "walk_in_only"}}}, "10:00",
          c.IssueTicket("realty"), "walk_in"),
    Visit("a benefit category the center admits without booking", {
        **CENTER, "walk_in_categories": ["disability"]}, "10:00",
          c.IssueTicket("docs", Category.DISABILITY), "walk_in"),
    Visit("... but not another one", {**CENTER, "walk_in_categories": ["disability"]},
          "10:00", c.IssueTicket("docs", Category.PENSIONER), "booking_only", scope="center"),
    Visit("booked, a little early", CENTER, "09:50", SCAN, "booked"),
    Visit("booked, late within the grace (late_min = 15)", CENTER, "10:14", SCAN, "booked"),
    Visit("booked, later than the grace: refused (no walk-in to fall back on)", CENTER,
          "10:16", SCAN, "too_late"),
    Visit("a longer grace keeps the visitor", CENTER, "10:16", SCAN, "booked",
          bookings={"late_min": 20}),
    Visit("later than the grace where walk-ins are taken: a walk-in ticket", {}, "10:16",
          SCAN, "walk_in"),
    Visit("too early, even at a booking-only center", CENTER, "09:29", SCAN, "too_early"),
]


@pytest.mark.parametrize("v", VISITS, ids=[v.name for v in VISITS])
def test_booking_only_and_late_arrivals(clock: ManualClock, v: Visit) -> None:
    pure = center(clock, v.policies, v.bookings)
    pure.do(c.LoadBookings((booking("BK-1", "10:00"),), 1))
    at(pure, v.at)
    if v.expect in ("booked", "walk_in"):
        t = pure.do(v.command).reply.ticket
        assert t is not None and t.booked is (v.expect == "booked")
        return
    err = pure.refused(v.command)
    assert isinstance(err, Refusal) and err.code == v.expect, err
    if v.scope is not None:
        assert err.params["scope"] == v.scope


def test_what_a_walk_in_reads_at_a_booking_only_center(clock: ManualClock) -> None:
    """The reason and every way to book, in Kazakh and Russian (and English)."""
    pure = center(clock, CENTER)
    err = pure.refused(WALK_IN)
    assert kiosk_text(err.code, "kk", err.params) == (
        "Орталық тек алдын ала жазылу бойынша қабылдайды. Алдын ала жазылу: egov.kz "
        "порталы, eGov mobile қосымшасы, eGov Telegram-боты немесе 1414 нөмірі.")
    assert kiosk_text(err.code, "ru", err.params) == (
        "Центр принимает только по предварительной записи. Записаться можно на портале "
        "egov.kz, в приложении eGov mobile, в Telegram-боте eGov или по номеру 1414.")
    assert kiosk_text(err.code, "en", err.params).startswith(
        "This center serves booked visitors only.")
    # A service that alone is booking-only says so about itself.
    pure = center(clock, {"services": {"docs": {"mode": "booking_only"}}})
    err = pure.refused(WALK_IN)
    assert kiosk_text(err.code, "ru", err.params).startswith(
        "Эта услуга оказывается только по предварительной записи.")
    # The center's own words on how to book replace the default.
    pure = center(clock, CENTER, {"how_to_book": {"ru": "Запись: egov.kz."}})
    err = pure.refused(WALK_IN)
    assert kiosk_text(err.code, "ru", err.params,
                      pure.engine.policies.bookings.how_to_book) == \
        "Центр принимает только по предварительной записи. Запись: egov.kz."


def test_a_late_visitor_at_a_booking_only_center_is_told_to_book_again(clock: ManualClock) -> None:
    pure = center(clock, CENTER)
    pure.do(c.LoadBookings((booking("BK-1", "10:00"),), 1))
    at(pure, "10:16")
    err = pure.refused(SCAN)
    assert kiosk_text(err.code, "ru", err.params).startswith(
        "Вы опоздали (запись на 10:00). Запишитесь на другое время. Записаться можно")


# -- slot quotas -------------------------------------------------------------------------

def one_window(data: dict[str, Any]) -> None:
    """docs at one window, 5 minutes a visitor, the hour 09:00-10:00: 12 visitors."""
    data["windows"] = [{"number": 1, "services": {"docs": 1}},
                       {"number": 2, "services": {"realty": 1, "benefits": 1}}]
    for s in data["services"]:
        if s["id"] == "docs":
            s["avg_minutes"] = 5
    data["policies"]["hours"] = {"mon": {"open": "09:00", "close": "10:00"}}


@dataclass(frozen=True)
class Quota:
    name: str
    quota: int | None
    bookings: tuple[dict[str, Any], ...]
    at: str
    walk_ins: int                # walk-in tickets issued before "capacity_full"


QUOTAS = [
    Quota("no quota: only the bookings made hold places", None, (), "09:00", 12),
    Quota("no quota, one booking at 09:30", None, (booking("BK-1", "09:30"),), "09:00", 11),
    Quota("quota 1: the places of the three later slots are kept", 1, (), "09:00", 9),
    Quota("quota 1, booked at 09:30: that place is taken, not kept twice", 1,
          (booking("BK-1", "09:30"),), "09:00", 9),
    Quota("quota 1, two booked at 09:30 (over quota): both are expected", 1,
          (booking("BK-1", "09:30"), booking("BK-2", "09:30")), "09:00", 8),
    Quota("a cancelled booking frees its place (the portal may sell it again)", 1,
          (booking("BK-1", "09:30", status="cancelled"),), "09:00", 9),
    Quota("quota 2: six places kept", 2, (), "09:00", 6),
    Quota("at 09:20, two later slots (40 minutes: 8 visitors)", 1, (), "09:20", 6),
    Quota("the slot under way keeps only its bookings, not its unsold places", 1,
          (booking("BK-1", "09:15"),), "09:20", 5),
]


@pytest.mark.parametrize("q", QUOTAS, ids=[q.name for q in QUOTAS])
def test_walk_ins_never_take_a_slot_kept_for_bookings(clock: ManualClock, q: Quota) -> None:
    services = {} if q.quota is None else {"docs": {"slot_quota": q.quota}}
    pure = center(clock, {"services": services}, edit=one_window)
    if q.bookings:
        pure.do(c.LoadBookings(q.bookings, 1))
    at(pure, q.at)
    issued = 0
    while True:
        try:
            pure.do(WALK_IN)
        except Refusal as err:
            assert err.code == "capacity_full", err
            break
        issued += 1
    assert issued == q.walk_ins


def test_a_booked_visitor_checking_in_moves_from_kept_to_waiting(clock: ManualClock) -> None:
    """Places are never counted twice: a checked-in visitor waits like anyone."""
    pure = center(clock, {"services": {"docs": {"slot_quota": 1}}}, edit=one_window)
    pure.do(c.LoadBookings((booking("BK-1", "09:30"),), 1))
    pure.do(SCAN)                     # 09:00, 30 minutes early
    for _ in range(9):
        pure.do(WALK_IN)              # 12 places - BK-1 waiting - 2 unsold (09:15, 09:45)
    err = pure.refused(WALK_IN)
    assert err.code == "capacity_full"
    assert "2 places of later slots kept for bookings" in str(err)


def test_no_more_tickets_today_says_when_the_center_opens_next(clock: ManualClock) -> None:
    pure = center(clock, {"services": {"docs": {"slot_quota": 1}}}, edit=one_window)
    while True:
        try:
            pure.do(WALK_IN)
        except Refusal as refusal:
            err = refusal
            break
    # Monday only in this center's week: the next opening is a week later.
    assert err.params["opens"] == "30.11 09:00"
    assert kiosk_text(err.code, "ru", err.params).startswith("Талоны на сегодня закончились")


def test_bookings_over_a_slots_quota_are_kept_and_reported(clock: ManualClock) -> None:
    """A visitor holding the portal's confirmation is served; central learns the slot
    had more bookings than this center's quota."""
    pure = center(clock, {"services": {"docs": {"slot_quota": 1}}}, edit=one_window)
    out = pure.do(c.LoadBookings((booking("BK-1", "09:30"), booking("BK-2", "09:30"),
                                  booking("BK-3", "09:45")), 7))
    over = [e.data for e in out.events if e.type == "bookings.over_quota"]
    assert over == [{"version": 7, "slots": [{"service": "docs", "day": "2026-11-23",
                                              "slot_start": "09:30", "booked": 2,
                                              "quota": 1}]}]
    assert pure.do(c.CheckIn("BK-2")).reply.ticket is not None
    # Cancelling one brings the slot back within its quota: nothing more is reported.
    out = pure.do(c.LoadBookings((booking("BK-1", "09:30", status="cancelled", version=2),), 8))
    assert not [e for e in out.events if e.type == "bookings.over_quota"]
