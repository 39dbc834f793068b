"""The business day: the roll-over at midnight, and tickets issued under a stale clock."""

from __future__ import annotations

from typing import Any

from edge.queue.engine.draft import (EXTRA_MOMENTS, UNSYNCED_BOOT, Draft, EngineData,
                                     open_today, ticket_view)
from edge.queue.engine import operators
from edge.queue.engine.state import Counter
from edge.queue.model import Ticket, TicketState
from edge.queue.timebase import local_day, next_day_starts_ms


def roll_day(d: Draft) -> None:
    e = d.e
    today = local_day(d.now, e.tz)
    if not d.day:
        d.day = today
        d.meta_dirty = True
        return
    if today <= d.day:
        return  # the business day never goes back (clock stepped back, fake-hwclock)
    previous, d.day = d.day, today
    d.meta_dirty = True
    carried = issued_under_a_stale_clock(d, previous)
    if carried:
        # Numbering goes on after the morning's tickets (finished ones too): the hall
        # must not show a second A-001 today.
        for sid, ctr in e.state.counters.items():
            if ctr.day == previous:
                d.out.counters[sid] = Counter(today, ctr.last)
    # Every ticket still open ends its day in a final state, but the morning's carried
    # ones, no-shows that may come back included, move to the new day.
    for t in list(e.state.tickets.values()):
        t = d.ticket(t.id) or t
        if t.day > previous:
            continue
        if t.id in carried:
            moved = shifted(t, carried[t.id])
            extra = {k: v for k, v in moved.extra.items() if k != UNSYNCED_BOOT}
            d.put(moved.with_(day=today, extra=extra))
            d.out.redated.add(t.id)
            d.emit("ticket.redated", **ticket_view(t), day=today, previous=previous,
                   reason="clock_set")
            continue
        if t.state.is_final:
            continue
        if t.state is TicketState.WAITING and t.unprinted:
            # Its paper never came out: nobody holds it, so it was no visitor's no-show.
            d.put(t.with_(state=TicketState.VOIDED, finished_ms=d.now))
            d.emit("ticket.voided", **ticket_view(t), reason="day_closed: never printed")
            continue
        final = TicketState.DONE if t.state is TicketState.SERVING else TicketState.NO_SHOW
        d.put(t.with_(state=final, finished_ms=d.now, window=None))
        at = e.state.windows.get(t.window) if t.window is not None else None
        d.emit("ticket.done" if final is TicketState.DONE else "ticket.no_show",
               **ticket_view(t), window=t.window, reason="day_closed", auto=True,
               operator=at.operator if at is not None else None,
               calls=t.recalls + (1 if t.called_ms else 0))
    for w in e.state.windows.values():
        if w.ticket_id is not None and w.ticket_id not in carried:
            d.put_window(d.window(w.number).with_(ticket_id=None))
    operators.day_end(d)
    d.emit("day.started", day=today, previous=previous)


def shifted(t: Ticket, ms: int) -> Ticket:
    """The ticket's times moved onto the real clock, so its wait is not 14 h long; the
    moments kept in `extra` too (a no-show's, from which the return delay counts; a
    break's start, which would otherwise last 14 h and swallow the service time)."""
    times: dict[str, Any] = {k: getattr(t, k) + ms
                             for k in ("issued_ms", "queued_ms", "called_ms", "serving_ms",
                                       "finished_ms") if getattr(t, k) is not None}
    moments = [k for k in EXTRA_MOMENTS if k in t.extra]
    if moments:
        times["extra"] = {**t.extra, **{k: int(t.extra[k]) + ms for k in moments}}
    return t.with_(**times)


def issued_under_a_stale_clock(d: Draft, previous: str) -> dict[int, int]:
    """Tickets of `previous` that were in fact issued today, under a clock not yet set.

    A Pi without a real-time clock boots with the time it saved at shutdown (say 19:00
    yesterday) and runs on it until NTP answers. If that step to the real time is what
    starts the new day, every ticket issued since the boot was issued this morning:
    the visitors holding them are in the hall and keep their places (a no-show's visitor
    may still come back today). Tickets issued before the boot really were yesterday's
    and close as usual.
    """
    e = d.e
    base = e.state.time
    if not (d.step.accepted and d.step.jump_ms > 0 and base is not None
            and base.boot == d.reading.boot):
        return {}
    # Where the monotonic clock alone would have taken effective time: if that is still
    # the previous day, the step (not midnight) is what starts the new day.
    by_mono = base.eff_ms + max(0, d.reading.mono_ms - base.mono_ms)
    if local_day(by_mono, e.tz) != previous:
        return {}
    step_ms = d.now - by_mono
    return {t.id: step_ms for t in e.state.tickets.values()
            if t.day == previous and open_today(e, t)
            and t.extra.get(UNSYNCED_BOOT) == d.reading.boot}


def day_ends_at(e: EngineData, now_ms: int) -> bool:
    # Asked before every command: an integer compare against the day's end, worked
    # out once per day, instead of a local date per command.
    day = e.state.day
    if not day:
        return False
    if e._day_end[0] != day:
        e._day_end = (day, next_day_starts_ms(day, e.tz))
    return now_ms >= e._day_end[1]


def forget_old_days(e: EngineData) -> None:
    # Finished tickets of earlier days stay in the database, not in memory.
    day = e.state.day
    e.state.tickets = {i: t for i, t in e.state.tickets.items()
                       if t.day == day or not t.state.is_final}
    e._numbers = {k: v for k, v in e._numbers.items() if v}
    # Yesterday's no-shows cannot come back: their numbers are free again.
    e._missed = {k: v for k, v in e._missed.items() if v and k[0] == day}
    e._slot_holds = {k: v for k, v in e._slot_holds.items() if k[0] >= day}
