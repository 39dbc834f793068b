"""Timers and SLA alarms, run around every command: bookings expire, early booked visitors
become due at their slot, called visitors time out; waits and visits over their limits."""

from __future__ import annotations

from edge.queue import sla
from edge.queue.bookings import BookingStatus
from edge.queue.engine.draft import Draft, no_show_ticket, without_slot
from edge.queue.lines import TIER_BOOKED
from edge.queue.model import TicketState


def before_command(d: Draft) -> int | None | bool:
    """Time-based rules that run before every command: bookings expire, checked-in
    booked visitors become due at their slot, called visitors time out.

    Returns False when nothing can be due (memo), else the next deadline (or None).
    """
    e = d.e
    gen, due = e._timer_memo
    if gen == e._gen and d.day == e.state.day and not d.out.tickets \
            and (due is None or d.now < due):
        return False
    pol = e.policies
    next_due: int | None = None

    def soon(ms: int) -> None:
        nonlocal next_due
        if next_due is None or ms < next_due:
            next_due = ms

    # Bookings whose day or late margin passed without a check-in expire; they no
    # longer hold capacity.
    for code in sorted(e._open_bookings):
        b = d.booking(code)
        if b is None or b.status is not BookingStatus.ACTIVE or b.day > d.day:
            continue
        end = b.slot_ms(e.tz) + pol.bookings.late_ms if b.day == d.day else 0
        if b.day < d.day or d.now > end:
            d.put_booking(b.with_(status=BookingStatus.EXPIRED))
            d.emit("booking.expired", booking=b.code, service=b.service, day=b.day,
                   slot_start=b.slot_start)
        else:
            soon(end + 1)
    # A booked visitor who checked in early joins the booked tier when the slot comes
    # (in slot order, so earlier slots are called first).
    promote = []
    for tid in sorted(e._early):
        t = d.ticket(tid)
        if t is None or t.state is not TicketState.WAITING or "slot_ms" not in t.extra:
            continue
        if t.unprinted:
            continue   # out of the line until its paper is out (then the state changes)
        at = int(t.extra["slot_ms"]) - pol.bookings.call_ahead_ms
        if d.now >= at:
            promote.append((int(t.extra["slot_ms"]), t.arrival, t.id))
        else:
            soon(at)
    for _, _, tid in sorted(promote):
        t = d.ticket(tid)
        assert t is not None
        d.put(t.with_(tier=TIER_BOOKED, arrival=d.arrival(), extra=without_slot(t.extra)))
    # A called visitor who does not come within the timeout is a no-show.
    if pol.no_show_after_s:
        for number in sorted(e.state.windows):
            w = d.window(number)
            t = d.ticket(w.ticket_id) if w.ticket_id is not None else None
            if t is None or t.state is not TicketState.CALLED or t.called_ms is None:
                continue
            deadline = t.called_ms + pol.no_show_after_s * 1000
            if d.now >= deadline:
                no_show_ticket(d, w, t, auto=True, reason="timeout")
            else:
                soon(deadline)
    return next_due


def after_command(d: Draft, scanned: int | None | bool) -> None:
    """After the command: raise and clear SLA alarms; remember when to look again."""
    e = d.e
    due: int | None = None
    if scanned is not False or d.out.tickets:
        due = sla_alarms(d)
        if scanned is not False:
            due = scanned if due is None else (due if scanned is None else min(due, scanned))
        if not (d.out.events or d.out.tickets or d.out.windows or d.out.bookings
                or d.meta_dirty):
            # Nothing changed: until the state changes or `due` comes, skip the scans.
            e._timer_memo = (e._gen, due)


def sla_alarms(d: Draft) -> int | None:
    e = d.e
    rules = e.policies.services
    has_rules = any(r.max_wait_min or r.max_service_min or r.visit_sla_min
                    for r in rules.values())
    if not has_rules and not any(a.startswith(sla.PREFIX) for a in d.alarms):
        return None
    tickets = {i: d.ticket(i) for i in e._live}
    tickets.update(d.out.tickets)
    want, due = sla.breaches(d.now, (t for t in tickets.values() if t is not None), rules)
    for alarm in sorted(want):
        if alarm not in d.alarms:
            info = dict(want[alarm])
            d.raise_alarm(alarm, info.pop("message"), **info)
    for alarm in sorted(d.alarms):
        if alarm.startswith(sla.PREFIX) and alarm not in want:
            d.clear_alarm(alarm, resolved=True)
    return due
