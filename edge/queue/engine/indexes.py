"""The indexes apply() keeps so that no per-command rule walks every ticket."""

from __future__ import annotations

from edge.queue.bookings import Booking, BookingStatus
from edge.queue.engine.draft import RECENT_CALLS, EngineData, may_come_back, number_key
from edge.queue.estimates import ServiceTimes
from edge.queue.events import Event
from edge.queue.lines import Line, key_of
from edge.queue.model import Ticket, TicketState
from edge.queue.snapshot import CallView


def rebuild(e: EngineData) -> None:
    """Every index from the committed state: at start, and after a reload."""
    e._lines = {sid: Line() for sid in e.services}
    e._benefit_lines = {sid: Line() for sid in e.services}
    e._tier_counts = {}
    e._unprinted = set()
    for t in sorted(e.state.tickets.values(), key=key_of):
        if t.state is TicketState.WAITING:
            count_waiting(e, t, 1)
            if t.unprinted:
                e._unprinted.add(t.id)
            else:
                push_line(e, t)
    calls = sorted((t for t in e.state.tickets.values() if t.called_ms and t.window),
                   key=lambda t: t.called_ms or 0)
    e._recent.clear()
    for t in calls[-RECENT_CALLS:]:
        e._recent.appendleft(CallView(t.label, t.window or 0, t.service, t.called_ms or 0,
                                      t.recalls + 1))
    e._live = {t.id for t in e.state.tickets.values() if not t.state.is_final}
    e._early = {t.id for t in e.state.tickets.values()
                if not t.state.is_final and "slot_ms" in t.extra}
    e._numbers = {}
    e._missed = {}
    for t in e.state.tickets.values():
        if not t.state.is_final:
            e._numbers.setdefault(number_key(t), set()).add(t.number)
        elif may_come_back(e, t):
            count_missed(e, t, 1)
    e._times = ServiceTimes(e.policies.estimate_samples)
    done = sorted((t for t in e.state.tickets.values()
                   if t.state is TicketState.DONE and t.day == e.state.day and t.finished_ms),
                  key=lambda t: t.finished_ms or 0)
    for t in done:
        start = t.serving_ms or t.called_ms
        if start is not None:
            e._times.add(t.service, ((t.finished_ms or start) - start) // 1000)
    e._open_bookings = set()
    e._by_iin = {}
    e._slot_holds = {}
    for b in e.state.bookings.values():
        index_booking(e, b)
        count_slot(e, b, 1)
    e._gen += 1


def index_booking(e: EngineData, b: Booking) -> None:
    if b.status is BookingStatus.ACTIVE:
        e._open_bookings.add(b.code)
    else:
        e._open_bookings.discard(b.code)
    if b.iin_hmac:
        e._by_iin.setdefault(b.iin_hmac, set()).add(b.code)


def count_slot(e: EngineData, b: Booking, delta: int) -> None:
    if not b.holds_place:
        return
    k = (b.day, b.service, b.slot_start)
    n = e._slot_holds.get(k, 0) + delta
    if n > 0:
        e._slot_holds[k] = n
    else:
        e._slot_holds.pop(k, None)


def count_missed(e: EngineData, t: Ticket, delta: int) -> None:
    counts = e._missed.setdefault(number_key(t), {})
    n = counts.get(t.number, 0) + delta
    if n > 0:
        counts[t.number] = n
    else:
        counts.pop(t.number, None)


def push_line(e: EngineData, t: Ticket) -> None:
    """Put a waiting ticket in its service's line (and the benefit line): it may be called."""
    e._lines.setdefault(t.service, Line()).push(t)
    if t.category.is_benefit:
        e._benefit_lines.setdefault(t.service, Line()).push(t)


def count_waiting(e: EngineData, t: Ticket, delta: int) -> None:
    """Waiting tickets per (service, tier): the ahead counts, waits and capacity. A ticket
    whose paper is still owed counts (it takes its place once printed), but is not in the
    line until then (ticket_applied)."""
    k = (t.service, t.tier)
    e._tier_counts[k] = e._tier_counts.get(k, 0) + delta


def booking_applied(e: EngineData, old: Booking | None, b: Booking) -> None:
    """A committed booking (`old`: as it was before): open bookings and IIN look-ups."""
    if old is not None and old.iin_hmac and old.iin_hmac != b.iin_hmac:
        e._by_iin.get(old.iin_hmac, set()).discard(b.code)
    index_booking(e, b)
    if old is not None:
        count_slot(e, old, -1)
    count_slot(e, b, 1)


def ticket_applied(e: EngineData, old: Ticket | None, t: Ticket) -> None:
    """A committed ticket (`old`: as it was before): numbers in use, no-shows that may
    come back, live and early tickets, and the waiting lines."""
    if old is not None and not old.state.is_final:
        e._numbers.get(number_key(old), set()).discard(old.number)
    if old is not None and may_come_back(e, old):
        count_missed(e, old, -1)
    if may_come_back(e, t):
        count_missed(e, t, 1)
    if t.state.is_final:
        e._live.discard(t.id)
        e._early.discard(t.id)
    else:
        e._live.add(t.id)
        e._numbers.setdefault(number_key(t), set()).add(t.number)
        if "slot_ms" in t.extra:
            e._early.add(t.id)
        else:
            e._early.discard(t.id)
    was_waiting = old is not None and old.state is TicketState.WAITING
    now_waiting = t.state is TicketState.WAITING
    # An unprinted ticket waits out of the line (docs/queue.md, "No ghost tickets"): it
    # enters it once printed, at the place its arrival gives it.
    was_in_line = was_waiting and old is not None and not old.unprinted
    now_in_line = now_waiting and not t.unprinted
    if old is not None and was_waiting and (not now_waiting or key_of(old) != key_of(t)
                                            or old.service != t.service):
        count_waiting(e, old, -1)
        was_waiting = was_in_line = False
    if now_waiting and not was_waiting:
        count_waiting(e, t, 1)
    if now_in_line and not was_in_line:
        push_line(e, t)
    if now_waiting and t.unprinted:
        e._unprinted.add(t.id)
    else:
        e._unprinted.discard(t.id)


def events_applied(e: EngineData, events: list[Event], now_ms: int) -> None:
    """Committed events: service times for the estimates, calls for the hall and boards."""
    for ev in events:
        if ev.type == "ticket.done":
            e._times.add(ev.data["service"], int(ev.data.get("service_s", 0)))
        if ev.type in ("ticket.called", "ticket.recalled"):
            d = ev.data
            e._recent.appendleft(CallView(d["ticket"], d["window"], d["service"], now_ms,
                                          d["calls"]))
