"""Calling: pick the next visitor, call next or by number, recall, no-show, start, done,
and a no-show who comes back (docs/queue.md, "A no-show who comes back")."""

from __future__ import annotations

import math

from edge.errors import CommandError
from edge.queue import commands as c
from edge.queue.engine.draft import (NO_SHOW_MS, PAUSED_MS, PAUSED_SINCE, Draft, EngineData,
                                     Handler, called_extra, find_today, held_at, in_config,
                                     line_note, minutes_ago, no_show_ticket, paused_ms, release,
                                     ticket_view, waiting_ahead)
from edge.queue.engine.state import Reply
from edge.queue.lines import TIER_BENEFIT, TIER_BOOKED, TIER_NORMAL, key_of
from edge.queue.model import PrintState, Ticket, TicketState, Window, WindowState
from edge.queue.timebase import local_time


def call(d: Draft, w: Window, t: Ticket) -> None:
    # A booked visitor called before the slot has had their turn: the slot no longer
    # promotes them (after a park or transfer they queue like anyone else).
    t = t.with_(state=TicketState.CALLED, window=w.number, recalls=0, called_ms=d.now,
                serving_ms=None, extra=called_extra(t.extra))
    d.put(t)
    d.put_window(w.with_(ticket_id=t.id))
    d.emit("ticket.called", **ticket_view(t), window=w.number, operator=w.operator, calls=1,
           wait_s=max(0, (d.now - t.queued_ms) // 1000))
    d.out.reply = Reply(f"CALL {t.label} -> {w.number}", t)


def mark_done(d: Draft, w: Window, t: Ticket, implicit: bool = False) -> None:
    start = t.serving_ms or t.called_ms or d.now
    paused = paused_ms(t.extra, d.now) if (PAUSED_MS in t.extra or
                                           PAUSED_SINCE in t.extra) else 0
    extra = t.extra
    if PAUSED_SINCE in extra:  # done while paused: the break ends with the visit
        extra = {k: v for k, v in extra.items() if k != PAUSED_SINCE}
        extra[PAUSED_MS] = paused
    if w.operator is not None:   # a rating after the operator signed out still names them
        extra = {**extra, "operator": w.operator}
    t = t.with_(state=TicketState.DONE, finished_ms=d.now, window=w.number, extra=extra)
    d.put(t)
    release(d, w, t)
    d.emit("ticket.done", **ticket_view(t), window=w.number, operator=w.operator,
           service_s=max(0, (d.now - start - paused) // 1000),
           visit_s=max(0, (d.now - t.issued_ms) // 1000), implicit=implicit,
           **({"paused_s": paused // 1000} if paused else {}))


def pick(d: Draft, w: Window) -> Ticket | None:
    e = d.e
    lookup = e.state.tickets.get
    heads: list[tuple[tuple[int, ...], Ticket]] = []
    # Booked visitors whose slot has come (issue 5): no walk-in of any service this
    # window serves (weight >= 1) is called before them. `fresh` are those made due
    # by this very command's timers, not yet in the lines.
    fresh = [t for t in d.out.tickets.values() if t.state is TicketState.WAITING
             and t.tier == TIER_BOOKED and w.weights.get(t.service, 0) >= 1]
    due = {sid for sid, wt in w.weights.items()
           if wt >= 1 and e._tier_counts.get((sid, TIER_BOOKED), 0) > 0}
    due.update(t.service for t in fresh)
    for t in fresh:
        heads.append(((-20, -w.weights[t.service], *key_of(t)), t))
    for sid, weight in w.weights.items():
        line = e._lines.get(sid)
        head = line.head(lookup) if line else None
        if head is not None:
            if sid in due and head.tier <= TIER_BOOKED:
                heads.append(((-20, -weight, *key_of(head)), head))
            else:
                heads.append(((-weight, *key_of(head)), head))
        if w.benefit:
            bl = e._benefit_lines.get(sid)
            bh = bl.head(lookup) if bl else None
            if bh is not None:
                # At a benefit window benefit visitors come before everyone, across
                # its services; weight still orders them among themselves.
                heads.append(((-10, -weight, *key_of(bh)), bh))
    if not heads:
        return None
    heads.sort(key=lambda kv: kv[0])
    return heads[0][1]


def call_next(d: Draft, cmd: c.CallNext) -> None:
    w = in_config(d, cmd.window, "call visitors")
    if w.state is not WindowState.OPEN:
        raise CommandError("window_not_open", f"window {w.number} is {w.state.value}; "
                           f"{'resume' if w.state is WindowState.PAUSED else 'open'} it first")
    if w.ticket_id is not None:
        held = d.ticket(w.ticket_id)
        if held is not None and held.state.at_window:
            # Calling the next visitor means the one at the window was served.
            mark_done(d, w, held, implicit=True)
            w = d.window(cmd.window)
    t = pick(d, w)
    if t is None:
        if d.out.tickets:
            d.out.reply = Reply(f"EMPTY {w.number}: no one is waiting")
            return
        raise CommandError("queue_empty", f"no one is waiting for window {w.number}'s services")
    call(d, w, t)


def call_ticket(d: Draft, cmd: c.CallTicket) -> None:
    e = d.e
    w = in_config(d, cmd.window, "call visitors")
    if w.state is not WindowState.OPEN:
        raise CommandError("window_not_open", f"window {w.number} is {w.state.value}; "
                           f"{'resume' if w.state is WindowState.PAUSED else 'open'} it first")
    t = find_today(d, cmd.label)
    back = t.state is TicketState.NO_SHOW
    if back:
        may_return(e, t)
        return_delay_over(d, t, t.finished_ms or d.now, in_line=False)
    elif t.state.is_final:
        raise final_refusal(t)
    elif t.state not in (TicketState.WAITING, TicketState.PARKED):
        raise CommandError("not_waiting", f"{t.label} is {t.state.value}, not waiting")
    elif t.unprinted:
        # No ghost tickets (docs/queue.md): nobody in the hall holds this number yet.
        raise CommandError("not_printed", f"{t.label} has not been printed yet (printer "
                           f"{t.printer}): it joins its line once its paper is out; the "
                           f"printer voids it if it cannot print it (or: reprint {t.label})")
    elif NO_SHOW_MS in t.extra:
        # Back in line from a no-show: `return` then `call` must not skip the delay.
        return_delay_over(d, t, int(t.extra[NO_SHOW_MS]), in_line=True)
    if w.ticket_id is not None:
        held = d.ticket(w.ticket_id)
        if held is not None and held.state.at_window:
            mark_done(d, w, held, implicit=True)
            w = d.window(cmd.window)
    if not back:
        call(d, w, t)
        return
    after_s = max(0, (d.now - (t.finished_ms or d.now)) // 1000)
    call(d, w, reopen(d, t, w.number))
    d.out.reply = Reply(f"CALL {t.label} -> {w.number} (back {after_s // 60} min after its "
                        "no-show)", d.out.reply.ticket)


def final_refusal(t: Ticket) -> CommandError:
    return CommandError("ticket_final", f"{t.label} is {t.state.value}: it cannot be called "
                        "or returned again; the visitor takes a new ticket")


def may_return(e: EngineData, t: Ticket) -> None:
    """Refuse, naming why, a no-show that may not come back at this center.

    Only today's tickets are found by label (find_today), and a live ticket with the
    same label is found first, so the number of a no-show found here is free today.
    """
    if not e.policies.no_show_return_min:
        at = local_time(t.finished_ms or 0, e.tz).strftime("%H:%M")
        raise CommandError("return_off", f"{t.label} was a no-show at {at}; no-shows are "
                           "final at this center (policies.no_show_return_min = 0): the "
                           "visitor takes a new ticket")
    if t.service not in e.services:
        raise CommandError("unknown_service", f"{t.label} was for service {t.service}, "
                           "which is no longer configured: the visitor takes a new ticket")


def return_delay_over(d: Draft, t: Ticket, missed_ms: int, in_line: bool) -> None:
    """Refuse a call by number sooner than no_show_return_min after the no-show (ZMS's
    rule): otherwise "no-show" and a call by number would be a way around the line."""
    e = d.e
    minutes = e.policies.no_show_return_min
    ready = missed_ms + minutes * 60_000
    if d.now >= ready:
        return
    # Shown as the whole minute from which the call works (never a minute too early).
    at = local_time(-(-ready // 60_000) * 60_000, e.tz).strftime("%H:%M")
    ago = minutes_ago(d.now - missed_ms)
    if in_line:
        raise CommandError("return_too_soon", f"{t.label} came back from a no-show {ago} "
                           "and waits at the end of the line: it is called in its turn, or "
                           f"by number from {at} (policies.no_show_return_min = {minutes})")
    raise CommandError("return_too_soon", f"{t.label} was a no-show {ago}; it can be called "
                       f"by number from {at} (policies.no_show_return_min = {minutes}), or "
                       f"go back to the end of the line now: return {t.label}")


def reopen(d: Draft, t: Ticket, window: int | None) -> Ticket:
    """No-show `t` in the queue again, waiting; emits ticket.returned.

    `window` None: at the end of its line, as a fresh arrival (ZMS: missed and parked
    visitors go to the end; an old place would put them ahead of people who waited
    while they were away). Otherwise the caller calls it to that window at once.
    """
    missed_ms = t.finished_ms or d.now
    returns = int(t.extra.get("returns", 0)) + 1
    # The old no-show reason would mislead a later `done` at the window (timed_out_at).
    extra = {k: v for k, v in t.extra.items() if k != "no_show"}
    extra["returns"] = returns
    if window is None:
        extra[NO_SHOW_MS] = missed_ms
    back = t.with_(state=TicketState.WAITING, window=None, recalls=0, called_ms=None,
                   serving_ms=None, finished_ms=None, queued_ms=d.now, extra=extra,
                   # The visitor is at the window with the ticket: paper still owed would
                   # come out at the kiosk for nobody, or be voided as overdue.
                   print_state=PrintState.NONE if t.print_state in
                   (PrintState.PENDING, PrintState.FAILED) else t.print_state)
    if window is None:
        back = back.with_(arrival=d.arrival(),
                          tier=TIER_BENEFIT if t.category.is_benefit else TIER_NORMAL)
    d.put(back)
    d.emit("ticket.returned", **ticket_view(back), visit=t.visit, window=window,
           after_s=max(0, (d.now - missed_ms) // 1000), returns=returns)
    return back


def return_ticket(d: Draft, cmd: c.ReturnTicket) -> None:
    e = d.e
    t = find_today(d, cmd.label)
    if t.state is not TicketState.NO_SHOW:
        if t.state.is_final:
            raise final_refusal(t)
        hint = f"unpark {t.label} puts it back in line" if t.state is TicketState.PARKED \
            else "return works only for a no-show"
        raise CommandError("not_no_show", f"{t.label} is {t.state.value}, not a no-show; {hint}")
    may_return(e, t)
    note = line_note(e, t.service)
    if note is None:
        raise CommandError("no_window", f"no window serves {t.service}, so {t.label} cannot "
                           "wait in its line; call it by number to a window instead")
    back = reopen(d, t, None)
    ahead = waiting_ahead(e, back.service, back.tier)
    d.out.reply = Reply(f"RETURNED {t.label} to {back.service} ahead={ahead}{note}", back)


def recall(d: Draft, cmd: c.Recall) -> None:
    e = d.e
    w, t = held_at(d, cmd.window, "recall", before_start=True)
    gap_ms = e.policies.recall_min_interval_s * 1000
    since = d.now - (t.called_ms or 0)
    if gap_ms and t.called_ms is not None and since < gap_ms:
        raise CommandError("recall_too_soon", f"{t.label} was called {since // 1000} s ago; "
                           f"recall again in {math.ceil((gap_ms - since) / 1000)} s")
    calls = t.recalls + 2
    if calls > e.policies.recall_limit:
        no_show_ticket(d, w, t, auto=True, reason="recall_limit")
        d.out.reply = Reply(f"NOSHOW {t.label} after {t.recalls + 1} calls", t)
        return
    t = t.with_(recalls=t.recalls + 1, called_ms=d.now)
    d.put(t)
    d.emit("ticket.recalled", **ticket_view(t), window=w.number, operator=w.operator,
           calls=calls)
    d.out.reply = Reply(f"CALL {t.label} -> {w.number} (recall {t.recalls})", t)


def no_show(d: Draft, cmd: c.NoShow) -> None:
    w, t = held_at(d, cmd.window, "no-show", before_start=True)
    no_show_ticket(d, w, t, auto=False)
    d.out.reply = Reply(f"NOSHOW {t.label}", t)


def start_service(d: Draft, cmd: c.StartService) -> None:
    w, t = held_at(d, cmd.window, "start", before_start=True)
    extra = t.extra
    if PAUSED_MS in extra or PAUSED_SINCE in extra:
        # Service time counts from `start`: breaks before it are not in it.
        extra = {k: v for k, v in extra.items() if k not in (PAUSED_MS, PAUSED_SINCE)}
        if PAUSED_SINCE in t.extra:
            extra[PAUSED_SINCE] = d.now
    t = t.with_(state=TicketState.SERVING, serving_ms=d.now, extra=extra)
    d.put(t)
    d.emit("ticket.serving", **ticket_view(t), window=w.number, operator=w.operator,
           wait_s=max(0, ((t.called_ms or d.now) - t.queued_ms) // 1000))
    d.out.reply = Reply(f"SERVING {t.label} at {w.number}", t)


def finish(d: Draft, cmd: c.Finish) -> None:
    e = d.e
    try:
        w, t = held_at(d, cmd.window)
    except CommandError as err:
        gone = timed_out_at(d, cmd.window) if err.code == "no_ticket" else None
        if gone is None:
            raise
        # no_show_after_s counts from the call until `start`: an operator who serves
        # without pressing it loses the visit; say so instead of "no ticket".
        raise CommandError("no_ticket", f"{gone.label} was closed as a no-show "
                           f"{e.policies.no_show_after_s} s after its call because "
                           "start was not pressed (policies.no_show_after_s); press start "
                           "when the visitor comes to the window") from None
    mark_done(d, w, t)
    d.out.reply = Reply(f"DONE {t.label}", t)


def timed_out_at(d: Draft, number: int) -> Ticket | None:
    """The last ticket called to window `number` today, if the no-show timer closed it.

    Walks today's tickets: only on a refused `done`, never on the hot path."""
    e = d.e
    last: Ticket | None = None
    for t in e.state.tickets.values():
        t = d.ticket(t.id) or t
        if t.day == d.day and t.window == number and t.called_ms is not None \
                and (last is None or t.called_ms > (last.called_ms or 0)):
            last = t
    done_ms = d.window(number).last_done_mono_ms
    if last is not None and last.state is TicketState.NO_SHOW \
            and last.extra.get("no_show") == "timeout" \
            and (done_ms is None or (last.finished_ms or 0) > done_ms):
        return last
    return None


HANDLERS: dict[type[c.Command], Handler] = {
    c.CallNext: call_next, c.CallTicket: call_ticket, c.ReturnTicket: return_ticket,
    c.Recall: recall, c.NoShow: no_show, c.StartService: start_service, c.Finish: finish,
}
