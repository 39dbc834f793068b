"""Property: a walk-in is never called while a booked visitor whose slot has come waits.

Random days of walk-ins (all categories), check-ins, calls, transfers, parks and time
passing, on the pure engine. Before every call we work out, from the state, which
checked-in booked visitors are due; the called ticket must not come from the walk-in
tiers while one of them waits for a service the window serves (weight >= 1).
"""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.clock import ManualClock
from edge.errors import CommandError
from edge.queue import commands as c
from edge.queue.engine import QueueEngine
from edge.queue.lines import TIER_BENEFIT, TIER_BOOKED
from edge.queue.model import Category, Service, Ticket, TicketState, Window, WindowState
from edge.queue.policies import BookingRules, Policies

MONDAY_9AM_MS = 1_795_406_400_000
CODES = [f"BK-{i}" for i in range(8)]


def center(call_ahead_s: int) -> QueueEngine:
    services = [Service("docs", {"ru": "Документы"}, "A", avg_minutes=10),
                Service("realty", {"ru": "Недвижимость"}, "B", avg_minutes=20)]
    windows = [Window(1, "1", {"docs": 2, "realty": 1}, state=WindowState.OPEN),
               Window(2, "2", {"realty": 2, "docs": 0}, state=WindowState.OPEN),
               Window(3, "3", {"docs": 1, "realty": 1}, benefit=True, state=WindowState.OPEN)]
    policies = Policies(bookings=BookingRules(early_ms=60 * 60_000, late_ms=30 * 60_000,
                                              call_ahead_ms=call_ahead_s * 1000))
    return QueueEngine(services, windows, "Asia/Almaty", policies)


def slot_text(minutes_after_nine: int) -> str:
    t = dt.datetime(2026, 11, 23, 9, 0) + dt.timedelta(minutes=minutes_after_nine)
    return t.strftime("%H:%M")


def due_booked(engine: QueueEngine, now: int, call_ahead_ms: int) -> list[Ticket]:
    out = []
    for t in engine.state.tickets.values():
        if t.state is not TicketState.WAITING or t.booking is None:
            continue
        slot = t.extra.get("slot_ms")
        if t.tier == TIER_BOOKED or (slot is not None and now >= slot - call_ahead_ms):
            out.append(t)
    return out


windows = st.sampled_from([1, 2, 3])
services = st.sampled_from(["docs", "realty"])
commands = st.one_of(
    st.builds(c.IssueTicket, services, st.sampled_from(list(Category))),
    st.builds(c.CheckIn, st.sampled_from(CODES)),
    st.builds(c.CallNext, windows), st.builds(c.CallNext, windows), st.builds(c.CallNext, windows),
    st.builds(c.Finish, windows), st.builds(c.Transfer, windows, services),
    st.builds(c.Park, windows), st.builds(c.Recall, windows), st.builds(c.NoShow, windows),
)
bookings = st.lists(st.tuples(services, st.integers(0, 180)), min_size=len(CODES),
                    max_size=len(CODES))
steps = st.lists(st.tuples(commands, st.integers(0, 900)), max_size=80)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bookings, steps, st.sampled_from([0, 120]))
def test_walk_in_never_overtakes_a_due_booked_visitor(slots, steps, call_ahead_s) -> None:
    engine = center(call_ahead_s)
    clock = ManualClock(MONDAY_9AM_MS)
    load = tuple({"code": code, "service": sid, "date": "2026-11-23",
                  "slot_start": slot_text(m), "slot_minutes": 15}
                 for code, (sid, m) in zip(CODES, slots))
    engine.apply(engine.decide(c.LoadBookings(load, 1), clock.read()))
    calls = booked_calls = 0
    for command, wait_s in steps:
        clock.advance(wait_s)
        if isinstance(command, c.CallNext):
            waiting_due = due_booked(engine, clock.wall_ms, call_ahead_s * 1000)
            window = engine.state.windows[command.window]
        try:
            out = engine.decide(command, clock.read())
        except CommandError:
            continue
        engine.apply(out)
        if not isinstance(command, c.CallNext) or out.reply.ticket is None:
            continue
        t = out.reply.ticket
        calls += 1
        if t.tier >= TIER_BENEFIT:  # a walk-in tier (benefit or normal)
            blocking = [b.label for b in waiting_due if window.weights.get(b.service, 0) >= 1]
            assert not blocking, (f"window {command.window} called walk-in {t.label} while "
                                  f"booked {blocking} were due")
        booked_calls += t.booked
    assert booked_calls <= calls
