"""What an operator's panel shows for one window: a query, read from the committed state.

The current visitor (number, service, category, booked slot, the stages of the visit so far
and their times, printed or not; never an IIN: the engine holds none), the lines of the
window's services, the parked tickets and today's no-shows who may come back, and the
window's own figures of the day. Walks today's tickets: asked by the panel's broadcaster
once per change, never on a button's path.
"""

from __future__ import annotations

from typing import Any

from edge.queue import commands as c
from edge.queue.engine.draft import (PAUSED_MS, PAUSED_SINCE, Draft, EngineData, Handler,
                                     may_come_back, paused_ms)
from edge.queue.engine.state import Reply
from edge.queue.lines import Line
from edge.queue.model import PrintState, Ticket, TicketState, Window

LISTED = 30       # tickets listed per line: the panel calls by number from these
STAGES = "stages"  # ticket.extra: the stages of a visit before its transfers
NOTE = "note"      # ticket.extra: the note the last transfer left for the next operator


def desk(d: Draft, cmd: c.DeskView) -> None:
    e = d.e
    w = d.window(cmd.window)
    t = d.ticket(w.ticket_id) if w.ticket_id is not None else None
    current = visitor(e, t, d.now) if t is not None and t.state.at_window else None
    lookup = e.state.tickets.get
    lines = {sid: [x.label for x in e._lines.get(sid, Line()).live(lookup)[:LISTED]]
             for sid in w.weights}
    parked, back = [], []
    for x in e.state.tickets.values():
        if x.day != d.day:
            continue
        if x.state is TicketState.PARKED:
            parked.append(x)
        elif may_come_back(e, x) and x.service in e.services:
            back.append(x)
    d.out.reply = Reply("DESK", None, {
        "window": w.number, "label": w.label, "state": w.state.value, "operator": w.operator,
        "services": list(w.weights), "current": current, "lines": lines,
        "parked": [x.label for x in sorted(parked, key=lambda x: x.id)][:LISTED],
        "no_shows": [x.label for x in sorted(back, key=lambda x: -(x.finished_ms or 0))
                     ][:LISTED],
        "figures": figures(e, w, d.day, d.now), "now_ms": d.now})


def visitor(e: EngineData, t: Ticket, now: int) -> dict[str, Any]:
    b = e.state.bookings.get(t.booking) if t.booking else None
    stages = [dict(s) for s in t.extra.get(STAGES, [])]
    stages.append({"service": t.service, "window": t.window, "queued_ms": t.queued_ms,
                   "called_ms": t.called_ms, "serving_ms": t.serving_ms})
    return {"ticket": t.label, "service": t.service, "category": t.category.value,
            "state": t.state.value, "booked": t.booked,
            "slot": b.slot_start if b is not None else None,
            "issued_ms": t.issued_ms,
            "waited_min": max(0, ((t.called_ms or now) - t.queued_ms) // 60_000),
            "recalls": t.recalls, "printed": t.print_state is PrintState.PRINTED
            or bool(t.extra.get("printed")), "print_state": t.print_state.value,
            "stages": stages, "note": t.extra.get(NOTE, "")}


def figures(e: EngineData, w: Window, day: str, now: int) -> dict[str, Any]:
    """Served, no-shows and average service time at window `w` today (simple: a transfer
    counts for neither; the manager's day has the full figures)."""
    served = no_shows = 0
    total_ms = 0
    for t in e.state.tickets.values():
        if t.day != day or t.window != w.number:
            continue
        if t.state is TicketState.DONE:
            served += 1
            start = t.serving_ms or t.called_ms or t.finished_ms or 0
            pause = paused_ms(t.extra, now) if (PAUSED_MS in t.extra or
                                                PAUSED_SINCE in t.extra) else 0
            total_ms += max(0, (t.finished_ms or start) - start - pause)
        elif t.state is TicketState.NO_SHOW:
            no_shows += 1
    return {"served": served, "no_shows": no_shows,
            "avg_service_s": total_ms // 1000 // served if served else None}


HANDLERS: dict[type[c.Command], Handler] = {c.DeskView: desk}
