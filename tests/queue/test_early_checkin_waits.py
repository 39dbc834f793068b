"""A booked visitor who checks in early waits from the slot time, not from the check-in.

Risk: a visitor booked for 10:00 who arrives at 09:55 raised the wait alarm (max_wait_min
= 3) at 09:58, before the slot had started, and central counted 5 minutes of their
"waiting" against the center; the early arrival looked like a slow center.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from edge.clock import ManualClock
from edge.queue import commands as c
from edge.queue.engine import QueueEngine
from edge.queue.policies import BookingRules, Policies, ServiceRules

from .conftest import PureEngine, small_center

MIN = 60
SLOT = "09:30"        # the clock starts at 09:00 (tests/conftest.py)


def engine(clock: ManualClock, max_wait: int) -> PureEngine:
    services, windows = small_center()
    pol = Policies(services={"docs": ServiceRules(max_wait_min=max_wait)},
                   bookings=BookingRules(early_ms=60 * 60_000, late_ms=15 * 60_000))
    pure = PureEngine(QueueEngine(services, windows, "Asia/Almaty", pol), clock)
    pure.do(c.LoadBookings(({"code": "BK-1", "service": "docs", "date": "2026-11-23",
                             "slot_start": SLOT},), 1))
    return pure


@dataclass(frozen=True)
class Case:
    name: str
    arrive: int            # minutes after 09:00 the visitor checks in (the slot is at 30)
    max_wait: int          # the service's max_wait_min
    quiet_until: int       # minutes after 09:00: no wait alarm up to here
    alarm_at: int          # ... and the alarm from here


CASES = [
    Case("5 min early: the alarm counts from the slot", 25, 3, 32, 33),
    Case("30 min early: nothing before the slot, then max_wait from it", 0, 10, 39, 40),
    Case("on time: from the check-in, which is the slot", 30, 5, 34, 35),
    Case("late within the grace: from the check-in", 40, 5, 44, 45),
]


@pytest.mark.parametrize("case", CASES, ids=[k.name for k in CASES])
def test_the_wait_alarm_counts_from_the_slot(clock: ManualClock, case: Case) -> None:
    pure = engine(clock, case.max_wait)
    clock.advance(case.arrive * MIN)
    t = pure.do(c.CheckIn("BK-1")).reply.ticket
    assert t is not None
    alarm = f"sla.wait:{t.id}"
    clock.advance((case.quiet_until - case.arrive) * MIN)
    pure.do(c.Tick())
    assert alarm not in pure.engine.snapshot().alarms
    clock.advance((case.alarm_at - case.quiet_until) * MIN)
    pure.do(c.Tick())
    assert alarm in pure.engine.snapshot().alarms


def test_a_walk_in_still_waits_from_its_ticket(clock: ManualClock) -> None:
    pure = engine(clock, 3)
    t = pure.do(c.IssueTicket("docs")).reply.ticket
    assert t is not None
    clock.advance(3 * MIN)
    pure.do(c.Tick())
    assert f"sla.wait:{t.id}" in pure.engine.snapshot().alarms


def test_the_wait_reported_at_the_call_and_on_the_ticket_count_from_the_slot(
        clock: ManualClock) -> None:
    """central's time in queue (ticket.called wait_s) and the estimate the visitor reads."""
    pure = engine(clock, 60)
    clock.advance(20 * MIN)                                  # 09:20, ten minutes early
    out = pure.do(c.CheckIn("BK-1"))
    assert out.reply.data["wait_min"] >= 10                  # called from 09:30 on
    clock.advance(12 * MIN)                                  # 09:32
    called = [e.data for e in pure.do(c.CallNext(1)).events if e.type == "ticket.called"]
    assert called[0]["ticket"] == "A-001" and called[0]["wait_s"] == 2 * MIN


def test_an_early_visitor_called_before_the_slot_has_waited_nothing(clock: ManualClock) -> None:
    """An idle window takes the early visitor in turn: no negative or check-in wait."""
    pure = engine(clock, 60)
    clock.advance(20 * MIN)
    pure.do(c.CheckIn("BK-1"))
    clock.advance(4 * MIN)
    called = [e.data for e in pure.do(c.CallNext(1)).events if e.type == "ticket.called"]
    assert called[0]["wait_s"] == 0
