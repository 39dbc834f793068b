"""Group commit: commands that waited together share one transaction (one fsync), and
each is answered exactly as if it had come alone — after the commit, in order.

Risk: a group that answers before its commit hands out paper for a ticket a power cut
then loses; one refusal that spoils the others; a failed group that leaves the engine
ahead of the database (a ticket in memory that the file never saw)."""

from __future__ import annotations

import sqlite3
from concurrent.futures import Future
from pathlib import Path
from typing import Iterator

import pytest

from edge.clock import ManualClock
from edge.config import AppConfig
from edge.control import Applied
from edge.controller import GROUP_MAX
from edge.errors import CommandError
from edge.queue.commands import CallNext, Finish, IssueTicket, StartService, TicketPrinted
from tests.holding import Held


@pytest.fixture
def held(tmp_path: Path, demo_config: AppConfig, clock: ManualClock) -> Iterator[Held]:
    h = Held(demo_config, tmp_path / "kezek.db", clock)
    yield h
    h.close()


def outbox_seqs(db: Path) -> list[int]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT seq FROM outbox ORDER BY seq")]
    finally:
        conn.close()


def test_commands_that_waited_together_are_one_commit_answered_in_order(
        held: Held, tmp_path: Path) -> None:
    held.hold()
    before = held.store.commits
    futs: list[Future[Applied]] = [held.controller.submit(IssueTicket(service="docs"))
                                   for _ in range(10)]
    # A refusal in the middle (window 99 does not exist) spoils nothing around it.
    refused = held.controller.submit(CallNext(window=99))
    futs += [held.controller.submit(IssueTicket(service="docs")) for _ in range(3)]
    held.release.set()
    labels = [f.result(30).reply.ticket.label for f in futs]  # type: ignore[union-attr]
    assert labels == [f"A-{n:03d}" for n in range(3, 16)]
    with pytest.raises(CommandError):
        refused.result(30)
    assert held.store.commits - before == 1, "the 13 waiting tickets and the refusal were not one commit"
    # What listeners heard, what the file holds and the engine's numbering all agree.
    seqs = outbox_seqs(tmp_path / "kezek.db")
    assert seqs == list(range(1, len(seqs) + 1))
    assert held.heard == seqs
    assert [f.result().events[0].seq for f in futs] == sorted(
        f.result().events[0].seq for f in futs)


def test_each_command_of_a_group_sees_the_ones_before_it(held: Held) -> None:
    held.hold()   # wait
    calls = []
    for _ in range(2):
        calls.append(held.controller.submit(CallNext(window=1)))
        held.controller.submit(StartService(window=1))
        held.controller.submit(Finish(window=1))
    again = held.controller.submit(CallNext(window=1))   # nobody is left waiting
    held.release.set()
    assert [f.result(30).reply.ticket.label for f in calls] == [  # type: ignore[union-attr]
        "A-001", "A-002"]
    with pytest.raises(CommandError):
        again.result(30)
    assert sum(held.controller.snapshot.waiting.values()) == 0


def test_a_group_is_never_bigger_than_group_max(held: Held) -> None:
    held.hold()
    before = held.store.commits
    futs = [held.controller.submit(IssueTicket(service="docs")) for _ in range(GROUP_MAX + 5)]
    held.release.set()
    for f in futs:
        f.result(30)
    assert held.store.commits - before == 2


def test_a_lone_ticket_printed_waits_for_the_next_press_and_shares_its_commit(
        held: Held) -> None:
    """Risk: two writes to the card per printed ticket at a busy kiosk (its wear, its rate)."""
    first = held.controller.call(IssueTicket(service="docs", printer="kiosk"), timeout=30)
    assert first.reply.ticket is not None
    held.controller.printed_waits_s = 60.0   # long enough that only company ends the wait
    before = held.store.commits
    printed = held.controller.submit(TicketPrinted(ticket_id=first.reply.ticket.id, ok=True))
    pressed = held.controller.submit(IssueTicket(service="docs", printer="kiosk"))
    assert pressed.result(30).reply.ticket is not None
    printed.result(30)
    assert held.store.commits - before == 1


def test_a_lone_ticket_printed_with_no_company_is_committed_after_its_wait(held: Held) -> None:
    first = held.controller.call(IssueTicket(service="docs", printer="kiosk"), timeout=30)
    assert first.reply.ticket is not None
    held.controller.printed_waits_s = 0.05
    done = held.controller.call(TicketPrinted(ticket_id=first.reply.ticket.id, ok=True),
                                timeout=30)
    assert [e.type for e in done.events] == ["ticket.printed"]


def test_a_printed_note_and_the_next_press_show_one_view_after_both(held: Held) -> None:
    """Risk: the one view built per group misses one of its changes: a printed ticket
    still listed as owed paper (the panel's "not printed"), or the new one not listed, on
    what the answers, the listeners (hall, panel) and status read."""
    first = held.controller.call(IssueTicket(service="docs", printer="kiosk"), timeout=30)
    assert first.reply.ticket is not None
    assert [u.ticket for u in first.snapshot.unprinted] == [first.reply.ticket.label]
    seen: list[Applied] = []
    held.controller.subscribe(seen.append)
    held.controller.printed_waits_s = 60.0   # only the press ends the note's wait
    before = held.store.commits
    printed = held.controller.submit(TicketPrinted(ticket_id=first.reply.ticket.id, ok=True))
    pressed = held.controller.submit(IssueTicket(service="docs", printer="kiosk"))
    new, note = pressed.result(30), printed.result(30)
    assert new.reply.ticket is not None
    assert held.store.commits - before == 1
    assert [a.command for a in seen] == [note.command, new.command]
    for applied in (note, new, *seen):
        view = applied.snapshot
        assert [u.ticket for u in view.unprinted] == [new.reply.ticket.label]
        assert view.unprinted_total == 1 and view.waiting["docs"] == 2
        assert view is held.controller.snapshot
    # The printed ticket is in the line (callable); the new one waits for its paper.
    assert [t.label for t in held.engine.waiting_line("docs")] == [first.reply.ticket.label]
