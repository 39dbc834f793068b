"""The visitor page's token: made by the controller at issue, kept with the ticket and in
its event, never derived from the number, kept across a transfer and a restart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge.queue import commands as c
from edge.queue.tokens import is_token, with_token
from edge.storage.migrations import LATEST, MIGRATIONS
from edge.storage.store import QueueStore


def issued_events(harness) -> list[dict]:
    return [e.data for e in harness.store.outbox() if e.type == "ticket.issued"]


def test_each_ticket_gets_its_own_unguessable_token_in_its_event(harness) -> None:
    """Risk: a page anyone can open by counting numbers, or two visitors on one page."""
    a = harness.call(c.IssueTicket("docs")).reply.ticket
    b = harness.call(c.IssueTicket("docs")).reply.ticket
    assert is_token(a.token) and is_token(b.token) and a.token != b.token
    events = issued_events(harness)
    assert [e["token"] for e in events] == [a.token, b.token]
    assert a.label not in a.token and str(a.number) != a.token
    # Not in the command's repr (a log line of a command shows no secret).
    assert a.token not in repr(with_token(c.IssueTicket("docs")))


def test_a_transfer_keeps_the_visits_token_and_a_restart_reads_it_back(harness) -> None:
    t = harness.call(c.IssueTicket("docs")).reply.ticket
    harness.call(c.OpenWindow(1))
    harness.call(c.CallNext(1))
    harness.call(c.Transfer(1, "realty"))
    harness.restart()
    [kept] = [x for x in harness.store.tickets() if x.id == t.id]
    assert kept.service == "realty" and kept.token == t.token
    assert harness.engine.state.tickets[t.id].token == t.token
    # A reprint's paper carries the same token (the same visitor's page).
    harness.call(c.Reprint(t.label, printer="kiosk"))
    reprint = [e.data for e in harness.store.outbox() if e.type == "ticket.reprint"][-1]
    assert reprint["token"] == t.token


def test_a_token_given_with_the_command_is_kept(harness) -> None:
    token = "A" * 22
    t = harness.call(c.IssueTicket("docs", token=token)).reply.ticket
    assert t.token == token and issued_events(harness)[-1]["token"] == token


def test_an_older_database_gets_the_token_column(tmp_path: Path) -> None:
    """A box updated with tickets of the morning in its database keeps them (no token)."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for stmts in MIGRATIONS[:LATEST - 1]:
        for s in stmts:
            conn.execute(s)
    conn.execute(f"PRAGMA user_version={LATEST - 1}")
    conn.execute("INSERT INTO tickets (id, day, service, number, label, category, state, "
                 "visit, arrival, tier, issued_ms, queued_ms) VALUES (1, '2026-11-23', 'docs', "
                 "1, 'A-001', 'normal', 'waiting', '2026-11-23/1', 1, 0, 0, 0)")
    conn.commit()
    conn.close()
    store = QueueStore(path)
    [t] = list(store.tickets())
    assert t.label == "A-001" and t.token is None
    store.close()
