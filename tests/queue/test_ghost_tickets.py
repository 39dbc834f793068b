"""No ghost tickets: a ticket whose paper never came out is never called (scenario table).

Risk: the kiosk printer runs out of paper between two status polls (up to 5 s); the
ticket issued meanwhile is never printed, and yet "A-042, window 3" is called: nobody
comes, or someone who took a later ticket by hand argues at the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest

from edge.clock import ManualClock
from edge.queue import commands as c
from edge.queue.engine import QueueEngine
from edge.queue.policies import BookingRules, Policies

from .conftest import PureEngine, small_center

P = "kiosk"


def issue(service: str = "docs", printer: str | None = P) -> c.Command:
    return c.IssueTicket(service, printer=printer)


def ok(tid: int) -> c.Command:
    return c.TicketPrinted(tid, ok=True)


def fail(tid: int) -> c.Command:
    return c.TicketPrinted(tid, ok=False, detail="out of paper")


@dataclass(frozen=True)
class Case:
    name: str
    steps: tuple[c.Command, ...]
    call: Callable[[], c.Command]           # what window 1's operator presses
    called: str | None                      # the ticket called, or None: refused
    refusal: str | None = None              # the refusal's code when None is called
    not_printed: tuple[str, ...] = ()       # what the snapshot (status, panel) lists after


CASES = [
    Case("a printed ticket is called", (issue(), ok(1)),
         lambda: c.CallNext(1), "A-001"),
    Case("a ticket without paper (console, screen) is called at once", (issue(printer=None),),
         lambda: c.CallNext(1), "A-001"),
    Case("a ticket still printing is passed over: the next printed one is called",
         (issue(), issue(), ok(2)), lambda: c.CallNext(1), "A-002", not_printed=("A-001",)),
    Case("paper out after the last poll: alone in line, nobody is called",
         (issue(), fail(1)), lambda: c.CallNext(1), None, "queue_empty",
         not_printed=("A-001",)),
    Case("printed late, it takes the place its arrival gave it",
         (issue(), issue(), ok(2), fail(1), ok(1)), lambda: c.CallNext(1), "A-001"),
    Case("voided (the printer gave up), it is never called",
         (issue(), fail(1), c.VoidTicket(1, "not printed within 90 s"), issue(printer=None)),
         lambda: c.CallNext(1), "A-002"),
    Case("by number: refused while not printed, saying why",
         (issue(), fail(1)), lambda: c.CallTicket(1, "A-001"), None, "not_printed",
         not_printed=("A-001",)),
    Case("a reprint owed does not take the visitor's place: they hold the first paper",
         (issue(), ok(1), c.Reprint("A-001"), fail(1)), lambda: c.CallNext(1), "A-001"),
    Case("a benefit visitor's unprinted ticket is passed over at the benefit window too",
         (c.IssueTicket("docs", c.Category.PENSIONER, printer=P), issue(), ok(2)),
         lambda: c.CallNext(3), "A-002", not_printed=("A-001",)),
]


@pytest.mark.parametrize("case", CASES, ids=[k.name for k in CASES])
def test_ghost_tickets(pure: PureEngine, case: Case) -> None:
    for step in case.steps:
        pure.do(step)
    if case.called is None:
        assert pure.refused(case.call()).code == case.refusal
    else:
        assert pure.label(case.call()) == case.called
    snap = pure.engine.snapshot()
    assert tuple(u.ticket for u in snap.unprinted) == case.not_printed
    assert snap.unprinted_total == len(case.not_printed)


def test_an_unprinted_ticket_counts_ahead_and_waits_in_the_counts(pure: PureEngine) -> None:
    """The numbers a visitor reads stay right: a ticket printing now is ahead of the next
    one (it takes its place once printed) and is counted waiting on the hall screen."""
    pure.do(issue())
    out = pure.do(issue())
    assert out.reply.data["ahead"] == 1
    assert pure.engine.snapshot().waiting["docs"] == 2
    assert [t.label for t in pure.engine.waiting_line("docs")] == []
    pure.do(ok(2))
    assert [t.label for t in pure.engine.waiting_line("docs")] == ["A-002"]
    pure.do(ok(1))
    assert [t.label for t in pure.engine.waiting_line("docs")] == ["A-001", "A-002"]


def test_the_refusal_by_number_names_the_printer_and_the_way_out(pure: PureEngine) -> None:
    pure.do(issue())
    pure.do(fail(1))
    err = pure.refused(c.CallTicket(1, "A-001"))
    assert str(err) == ("A-001 has not been printed yet (printer kiosk): it joins its line "
                        "once its paper is out; the printer voids it if it cannot print it "
                        "(or: reprint A-001)")


def test_a_ticket_never_printed_ends_its_day_voided_not_as_a_no_show(
        pure: PureEngine, clock: ManualClock) -> None:
    """A no-show is a visitor who did not come; nobody held this number."""
    pure.do(issue())
    pure.do(fail(1))
    pure.do(issue(printer=None))
    clock.advance(16 * 3600)
    pure.do(c.Tick())
    assert [e.data["ticket"] for e in pure.events if e.type == "ticket.no_show"] == ["A-002"]
    voided = [e.data for e in pure.events if e.type == "ticket.voided"]
    assert voided == [{"ticket_id": 1, "ticket": "A-001", "service": "docs",
                       "reason": "day_closed: never printed"}]
    assert pure.engine.snapshot().unprinted == ()


def test_an_early_booked_visitor_whose_paper_failed_is_not_promoted_until_printed(
        clock: ManualClock) -> None:
    """A booked ticket that comes due while its paper is owed is not called ahead of the
    walk-ins; once printed it goes before them as any booked visitor whose slot came."""
    services, windows = small_center()
    pure = PureEngine(QueueEngine(services, windows, "Asia/Almaty",
                                  Policies(bookings=BookingRules(early_ms=30 * 60_000))), clock)
    pure.do(c.LoadBookings(({"code": "BK-1", "service": "docs", "date": "2026-11-23",
                             "slot_start": "09:10"},), 1))
    pure.do(c.CheckIn("BK-1", printer=P))              # 09:00, ten minutes early
    pure.do(fail(1))
    pure.do(issue(printer=None))
    clock.advance(11 * 60)                             # 09:11: the slot has come
    pure.do(c.Tick())
    assert pure.label(c.CallNext(1)) == "A-002"        # the walk-in: BK-1 holds no paper
    pure.do(ok(1))
    pure.do(issue(printer=None))
    assert pure.label(c.CallNext(1)) == "A-001"        # printed: booked, before A-003
