"""Paper: a ticket printed or not, voided when its paper never came, reprints, print jobs."""

from __future__ import annotations

from edge.errors import CommandError
from edge.queue import commands as c
from edge.queue.bookings import BookingStatus
from edge.queue.engine.draft import Draft, Handler, find_today, ticket_view
from edge.queue.engine.issuing import ahead_of, issue_data, wait_minutes
from edge.queue.engine.state import Reply
from edge.queue.model import PrintState, TicketState


def printed(d: Draft, cmd: c.TicketPrinted) -> None:
    t = d.ticket(cmd.ticket_id)
    if t is None:
        raise CommandError("unknown_ticket", f"no ticket #{cmd.ticket_id}")
    state = PrintState.PRINTED if cmd.ok else PrintState.FAILED
    if t.print_state is state:
        return
    # "printed" stays once set: a reprint later owed is then known as one, so a
    # printer worker started after a restart never voids a ticket the visitor holds.
    d.put(t.with_(print_state=state, extra={**t.extra, "printed": True}) if cmd.ok
          else t.with_(print_state=state))
    if cmd.ok:
        d.emit("ticket.printed", **ticket_view(t), printer=t.printer)
    else:
        d.emit("ticket.print_failed", **ticket_view(t), printer=t.printer, detail=cmd.detail)


def void(d: Draft, cmd: c.VoidTicket) -> None:
    t = d.ticket(cmd.ticket_id)
    if t is None:
        raise CommandError("unknown_ticket", f"no ticket #{cmd.ticket_id}")
    if t.state is not TicketState.WAITING:
        raise CommandError("not_waiting", f"{t.label} is {t.state.value}; only a waiting "
                           "ticket can be voided")
    if t.print_state not in (PrintState.PENDING, PrintState.FAILED) or t.extra.get("printed"):
        # The printer's job is stale: the visitor holds the paper, or needs none any more
        # (a no-show back at a window). Voiding would take the turn of someone present.
        raise CommandError("not_owed", f"{t.label} is not owed paper (print state "
                           f"{t.print_state.value}): not voided")
    d.put(t.with_(state=TicketState.VOIDED, finished_ms=d.now))
    # A booked check-in whose ticket never printed: the visitor holds nothing, so the
    # booking lets go of the dead ticket and may be scanned again.
    code = t.booking or t.extra.get("late_booking")
    b = d.booking(code) if code else None
    reopened = b is not None and b.ticket_id == t.id
    if b is not None and reopened:
        # A late visitor's booking stays expired: the next scan is late again.
        status = BookingStatus.ACTIVE if b.status is BookingStatus.CHECKED_IN else b.status
        d.put_booking(b.with_(status=status, ticket_id=None, checked_in_ms=None))
    d.emit("ticket.voided", **ticket_view(t), reason=cmd.reason,
           **({"booking": code} if reopened else {}))
    d.out.reply = Reply(f"VOIDED {t.label}", t)


def print_jobs(d: Draft, cmd: c.PrintJobs) -> None:
    e = d.e
    jobs = []
    for t in e.state.tickets.values():
        if t.print_state in (PrintState.PENDING, PrintState.FAILED) \
                and t.state is TicketState.WAITING \
                and (cmd.printer is None or t.printer == cmd.printer):
            ahead = ahead_of(e, t)
            job = issue_data(e, t, ahead, wait_minutes(e, t.service, ahead, d.now))
            if t.extra.get("printed"):
                job["reprint"] = True  # the visitor has paper: never void this one
            jobs.append(job)
    jobs.sort(key=lambda j: j["ticket_id"])
    d.out.reply = Reply(f"{len(jobs)} tickets to print", None, {"jobs": jobs})


def reprint(d: Draft, cmd: c.Reprint) -> None:
    e = d.e
    t = find_today(d, cmd.label)
    if t.state.is_final:
        raise CommandError("ticket_final", f"{t.label} is {t.state.value}; nothing to reprint")
    printer = cmd.printer or t.printer
    if printer is None:
        raise CommandError("no_printer", f"{t.label} has no printer; name one")
    t = t.with_(printer=printer, print_state=PrintState.PENDING)
    d.put(t)
    ahead = ahead_of(e, t) if t.state is TicketState.WAITING else 0
    # A ticket whose paper never came out: the visitor holds nothing, so this is its first
    # paper (voided like any owed ticket if it cannot print), not a copy never voided.
    d.emit("ticket.reprint", **issue_data(e, t, ahead, wait_minutes(e, t.service, ahead,
                                                                            d.now)),
           first_paper=not t.extra.get("printed"))
    d.out.reply = Reply(f"REPRINT {t.label} on {printer}", t)


HANDLERS: dict[type[c.Command], Handler] = {
    c.TicketPrinted: printed, c.VoidTicket: void, c.PrintJobs: print_jobs, c.Reprint: reprint,
}
