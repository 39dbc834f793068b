"""Windows: open, close, pause and resume; transfer, park and unpark a visitor; ratings."""

from __future__ import annotations

import re

from edge.errors import CommandError
from edge.queue import commands as c
from edge.queue.engine.draft import (PAUSED_MS, PAUSED_SINCE, Draft, Handler, find_service,
                                     find_today, held_at, in_config, line_note, may_come_back,
                                     paused_ms, release, ticket_view, without_slot)
from edge.queue.engine.desk import NOTE, STAGES
from edge.queue.engine.operators import leave
from edge.queue.engine.state import Reply
from edge.queue.lines import TIER_BENEFIT, TIER_NORMAL, TIER_TRANSFER
from edge.queue.model import TicketState, WindowState

NOTE_MAX = 200
MAX_STAGES = 10
IIN_LIKE = re.compile(r"\d{12,}")


def transfer(d: Draft, cmd: c.Transfer) -> None:
    e = d.e
    target = find_service(e, cmd.service)
    w, t = held_at(d, cmd.window)
    same = target.id == t.service
    line = line_note(e, target.id)
    if line is None:
        raise CommandError("no_window", f"no window serves {target.id}; {t.label} stays at "
                           f"window {w.number} (add {target.id} to a window's services)")
    note = clean_note(cmd.note)
    extra = without_slot(t.extra)
    # The visit's stages so far (the panel shows them) and the note for the next stage.
    stage = {"service": t.service, "window": w.number, "operator": w.operator,
             "queued_ms": t.queued_ms, "called_ms": t.called_ms, "serving_ms": t.serving_ms,
             "ended_ms": d.now}
    extra = {**extra, STAGES: [*extra.get(STAGES, []), stage][-MAX_STAGES:], NOTE: note}
    moved = t.with_(state=TicketState.WAITING, service=target.id, window=None,
                    arrival=d.arrival(), queued_ms=d.now, called_ms=None, serving_ms=None,
                    recalls=0, extra=extra,
                    # To another service: right after those already in service there.
                    # To the same service: the back of the line, as a fresh arrival.
                    tier=(TIER_BENEFIT if t.category.is_benefit else TIER_NORMAL) if same
                    else TIER_TRANSFER)
    d.put(moved)
    release(d, w)
    d.emit("ticket.transferred", **ticket_view(t), to_service=target.id, window=w.number,
           visit=t.visit, operator=w.operator, **({"note": note} if note else {}))
    d.out.reply = Reply(f"TRANSFER {t.label} -> {target.id}{line}", moved)


def clean_note(text: str) -> str:
    """A transfer's note as kept: one short line, and any run of 12 digits (an IIN typed
    into it) masked, since notes go into events and to central."""
    one_line = " ".join(text.split())[:NOTE_MAX]
    return IIN_LIKE.sub(lambda m: "*" * len(m[0]), one_line)


def park(d: Draft, cmd: c.Park) -> None:
    w, t = held_at(d, cmd.window)
    t = t.with_(state=TicketState.PARKED, window=None, extra=without_slot(t.extra))
    d.put(t)
    release(d, w)
    d.emit("ticket.parked", **ticket_view(t), window=w.number, operator=w.operator)
    d.out.reply = Reply(f"PARKED {t.label}", t)


def unpark(d: Draft, cmd: c.Unpark) -> None:
    e = d.e
    t = find_today(d, cmd.label)
    if t.state is not TicketState.PARKED:
        if may_come_back(e, t):   # the missed visitor is back: name the way that works
            raise CommandError("not_parked", f"{t.label} is a no-show, not parked; "
                               f"return {t.label} puts it back in line")
        raise CommandError("not_parked", f"{t.label} is {t.state.value}, not parked")
    t = t.with_(state=TicketState.WAITING, arrival=d.arrival(), queued_ms=d.now,
                tier=TIER_BENEFIT if t.category.is_benefit else TIER_NORMAL)
    d.put(t)
    d.emit("ticket.unparked", **ticket_view(t))
    d.out.reply = Reply(f"UNPARKED {t.label}", t)


def set_window(d: Draft, number: int, state: WindowState, event: str,
               allowed: tuple[WindowState, ...], **data: str) -> None:
    # Closing a removed window is harmless (and tidies the hall screen): allowed.
    w = d.window(number) if state is WindowState.CLOSED else \
        in_config(d, number, f"be {state.value}")
    if w.state is state:
        d.out.reply = Reply(f"WINDOW {number} already {state.value}")
        return
    if w.state not in allowed:
        raise CommandError("window_state", f"window {number} is {w.state.value}; cannot {event}")
    d.put_window(w.with_(state=state))
    d.emit(f"window.{event}", window=number, operator=w.operator, **data)
    d.out.reply = Reply(f"WINDOW {number} {state.value}")


def pause_window(d: Draft, cmd: c.PauseWindow) -> None:
    reason = {"reason": cmd.reason[:32]} if cmd.reason else {}
    set_window(d, cmd.window, WindowState.PAUSED, "paused", (WindowState.OPEN,), **reason)
    visit_break(d, cmd.window, paused=True)


def resume_window(d: Draft, cmd: c.ResumeWindow) -> None:
    set_window(d, cmd.window, WindowState.OPEN, "resumed", (WindowState.PAUSED,))
    visit_break(d, cmd.window, paused=False)


def open_window(d: Draft, cmd: c.OpenWindow) -> None:
    set_window(d, cmd.window, WindowState.OPEN, "opened",
               (WindowState.CLOSED, WindowState.PAUSED))
    visit_break(d, cmd.window, paused=False)


def visit_break(d: Draft, number: int, *, paused: bool) -> None:
    """A window that just paused (or came back) with a visitor at it: the break starts
    (or ends) on the visitor's ticket, so that it is not counted as service time."""
    w = d.out.windows.get(number)   # only a window whose state this command changed
    t = d.ticket(w.ticket_id) if w is not None and w.ticket_id is not None else None
    if t is None or not t.state.at_window:
        return
    extra = dict(t.extra)
    if paused:
        extra[PAUSED_SINCE] = d.now
    elif PAUSED_SINCE in extra:
        extra[PAUSED_MS] = paused_ms(extra, d.now)
        del extra[PAUSED_SINCE]
    else:
        return
    d.put(t.with_(extra=extra))


def close_window(d: Draft, cmd: c.CloseWindow) -> None:
    w = d.window(cmd.window)
    if w.ticket_id is not None:
        t = d.ticket(w.ticket_id)
        if t is not None and t.state.at_window:
            raise CommandError("window_busy", f"window {w.number} still has {t.label}: "
                               "finish, transfer or park it first")
    set_window(d, cmd.window, WindowState.CLOSED, "closed",
               (WindowState.OPEN, WindowState.PAUSED))
    # Closing at the end of the shift ends the operator's work there.
    leave(d, cmd.window, "window_closed")


def rate(d: Draft, cmd: c.Rate) -> None:
    e = d.e
    if not 1 <= cmd.score <= 5:
        raise CommandError("bad_rating", f"a rating is 1 to 5, got {cmd.score}")
    w = d.window(cmd.window)
    t = d.ticket(w.last_done_ticket_id) if w.last_done_ticket_id is not None else None
    if t is None or w.last_done_mono_ms is None:
        raise CommandError("rating_ignored", f"window {w.number} has no finished visit to rate")
    if d.now - w.last_done_mono_ms > e.policies.rating_window_s * 1000:
        raise CommandError("rating_ignored", f"the visit {t.label} at window {w.number} "
                           f"ended over {e.policies.rating_window_s} s ago")
    if "rating" in t.extra:
        raise CommandError("rating_ignored", f"{t.label} was already rated")
    d.put(t.with_(extra={**t.extra, "rating": cmd.score}))
    d.emit("rating.recorded", **ticket_view(t), window=w.number, visit=t.visit,
           operator=t.extra.get("operator", w.operator),
           score=cmd.score)
    d.out.reply = Reply(f"RATED {t.label} {cmd.score}", t)


HANDLERS: dict[type[c.Command], Handler] = {
    c.OpenWindow: open_window, c.CloseWindow: close_window, c.PauseWindow: pause_window,
    c.ResumeWindow: resume_window, c.Transfer: transfer, c.Park: park, c.Unpark: unpark,
    c.Rate: rate,
}
