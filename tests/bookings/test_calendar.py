"""The calendar ([calendar], usually from central's cfg): closed days, shortened days and
duty hours drive the schedule, the capacity stop and every "opens at" answer (tables).

The week of 2026-11-23 (a Monday). The center's weekly hours: 09:00-18:00 Monday to
Friday, lunch 13:00-14:00. The calendar: a duty period (20:00 on weekdays, 09:00-13:00
on Saturday) in the first week of December, a holiday on Wednesday 25th, a shortened
Tuesday 24th (09:00-13:00) and a working Sunday 29th.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from edge.clock import ManualClock
from edge.config import parse_config
from edge.config.domain import schedule_from_config
from edge.errors import ConfigError
from edge.queue import commands as c
from edge.queue.policies import Refusal, kiosk_text

from .conftest import base_config
from .test_booking_only import at, center

WEEK = {d: {"open": "09:00", "close": "18:00", "breaks": ["13:00-14:00"]}
        for d in ("mon", "tue", "wed", "thu", "fri")}
CALENDAR: dict[str, Any] = {
    "closed": ["2026-11-25"],
    "days": [{"date": "2026-11-24", "open": "09:00", "close": "13:00", "note": "shortened"},
             {"date": "2026-11-29", "open": "10:00", "close": "14:00"}],
    "periods": [{"start": "2026-11-30", "end": "2026-12-06", "note": "duty center",
                 "hours": {**{d: {"open": "09:00", "close": "20:00"}
                              for d in ("mon", "tue", "wed", "thu", "fri")},
                           "sat": {"open": "09:00", "close": "13:00"}}}],
}


def config(calendar: dict[str, Any] | None = None) -> Any:
    data = copy.deepcopy(base_config(None))
    data["policies"] = {"hours": WEEK}
    data["calendar"] = copy.deepcopy(CALENDAR if calendar is None else calendar)
    return parse_config(data, "test")


DAYS = [
    ("a weekday of the week", "2026-11-23", ((540, 780), (840, 1080))),
    ("a shortened day (its own hours)", "2026-11-24", ((540, 780),)),
    ("a holiday", "2026-11-25", ()),
    ("a Saturday, closed in the week", "2026-11-28", ()),
    ("a working Sunday", "2026-11-29", ((600, 840),)),
    ("a weekday of the duty period: until 20:00, no lunch", "2026-11-30", ((540, 1200),)),
    ("a Saturday of the duty period", "2026-12-05", ((540, 780),)),
    ("a Sunday of the duty period (left out: closed)", "2026-12-06", ()),
    ("after the period: the week again", "2026-12-07", ((540, 780), (840, 1080))),
]


@pytest.mark.parametrize("name, day, spans", DAYS, ids=[d[0] for d in DAYS])
def test_the_calendar_decides_each_dates_hours(name: str, day: str, spans: Any) -> None:
    schedule = schedule_from_config(config())
    assert schedule.spans(dt.date.fromisoformat(day)) == spans


def test_policies_closed_dates_still_count_beside_the_calendar() -> None:
    data = copy.deepcopy(base_config(None))
    data["policies"] = {"hours": WEEK, "closed_dates": ["2026-11-26"]}
    data["calendar"] = copy.deepcopy(CALENDAR)
    schedule = schedule_from_config(parse_config(data, "test"))
    assert schedule.spans(dt.date(2026, 11, 26)) == ()
    assert schedule.spans(dt.date(2026, 11, 25)) == ()


# (name, local time on the 23rd..30th, what a walk-in gets: a ticket or a refusal's code,
#  the refusal's "opens" when it has one)
PRESSES = [
    ("Monday 17:00: open", "2026-11-23", "17:00", "ticket", None),
    ("Tuesday 13:30: the shortened day is over, opens Thursday (Wednesday is a holiday)",
     "2026-11-24", "13:30", "closed", "Thu 26.11 09:00"),
    ("Saturday 10:00: closed, opens on the working Sunday", "2026-11-28", "10:00", "closed",
     "Sun 29.11 10:00"),
    ("Sunday 10:30: the working Sunday", "2026-11-29", "10:30", "ticket", None),
    ("Monday of duty, 19:30: still open", "2026-11-30", "19:30", "ticket", None),
]


@pytest.mark.parametrize("name, day, hhmm, expect, opens", PRESSES, ids=[p[0] for p in PRESSES])
def test_a_walk_in_meets_the_calendar(clock: ManualClock, name: str, day: str, hhmm: str,
                                      expect: str, opens: str | None) -> None:
    pure = center(clock, {"hours": WEEK}, edit=lambda d: d.update(calendar=CALENDAR))
    target = dt.datetime.fromisoformat(f"{day}T{hhmm}:00+05:00")
    clock.advance((int(target.timestamp() * 1000) - clock.read().wall_ms) / 1000)
    if expect == "ticket":
        assert pure.do(c.IssueTicket("docs")).reply.ticket is not None
        return
    err = pure.refused(c.IssueTicket("docs"))
    assert isinstance(err, Refusal) and err.code == expect
    assert opens in str(err)


def test_the_capacity_stop_follows_a_shortened_day(clock: ManualClock) -> None:
    """On the shortened Tuesday the last tickets are the ones that fit before 13:00."""
    pure = center(clock, {"hours": WEEK}, edit=lambda d: d.update(calendar=CALENDAR))
    clock.advance(24 * 3600)             # Tuesday 09:00
    pure.do(c.Tick())
    at(pure, "12:40")                    # 20 minutes left
    issued = 0
    while True:
        try:
            pure.do(c.IssueTicket("realty"))   # 15 minutes each, windows 1, 2 and 4
        except Refusal as err:
            assert err.code == "capacity_full"
            refusal = err
            break
        issued += 1
    assert issued == 4                   # floor(20 x 3 / 15)
    # No more today: the answer names Thursday (the 25th is a holiday).
    assert refusal.params["opens"] == "26.11 09:00"
    assert kiosk_text(refusal.code, "kk", refusal.params).startswith("Бүгінге талондар бітті")


# (name, calendar, the problem's words)
BAD = [
    ("a date twice in days", {"days": [{"date": "2026-11-24", "open": "09:00", "close": "13:00"},
                                       {"date": "2026-11-24", "open": "10:00", "close": "12:00"}]},
     "calendar: days[1]: 2026-11-24 is given twice"),
    ("a closed date with hours too", {"closed": ["2026-11-24"], "days": [
        {"date": "2026-11-24", "open": "09:00", "close": "13:00"}]},
     "calendar: days[0]: 2026-11-24 is also in closed; keep one of them"),
    ("overlapping periods", {"periods": [
        {"start": "2026-12-01", "end": "2026-12-10", "hours": {"mon": {"open": "09:00",
                                                                      "close": "20:00"}}},
        {"start": "2026-12-10", "end": "2026-12-20", "hours": {"mon": {"open": "09:00",
                                                                      "close": "20:00"}}}]},
     "periods[1] overlaps periods[0]"),
    ("a period that ends before it starts", {"periods": [
        {"start": "2026-12-10", "end": "2026-12-01", "hours": {"sat": {"open": "09:00",
                                                                      "close": "13:00"}}}]},
     "calendar.periods.0: end 2026-12-01 is before start 2026-12-10"),
    ("a date without its leading zeros", {"closed": ["2026-3-21"]},
     "calendar.closed.0: expected a date as YYYY-MM-DD"),
    ("a date as a number", {"closed": [20260321]}, "calendar.closed.0"),
    ("hours as text, not a table", {"days": [{"date": "2026-11-24", "open": 9,
                                              "close": "13:00"}]},
     "calendar.days.0.open"),
    ("an unknown key", {"holidays": ["2026-11-24"]}, "calendar.holidays: unknown key"),
    ("close before open", {"days": [{"date": "2026-11-24", "open": "13:00", "close": "09:00"}]},
     "open 13:00 must be before close 09:00"),
]


@pytest.mark.parametrize("name, calendar, problem", BAD, ids=[b[0] for b in BAD])
def test_a_bad_calendar_is_refused_naming_the_key(name: str, calendar: dict[str, Any],
                                                   problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        config(calendar)
    assert any(problem in p for p in e.value.problems), e.value.problems
