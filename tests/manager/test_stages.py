"""Visit stages in the queue database: written with the events, kept across restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from edge.queue import commands as c
from edge.queue.events import Event
from edge.storage.migrations import LATEST, MIGRATIONS
from edge.storage.stages import STAGE_COLS
from edge.storage.store import QueueStore
from tests.conftest import MONDAY_9AM_MS, Harness


def stages(db: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    try:
        return [dict(zip(STAGE_COLS, r)) for r in conn.execute(
            f"SELECT {', '.join(STAGE_COLS)} FROM visit_stages ORDER BY ticket_id, stage")]
    finally:
        conn.close()


def by_label(db: Path, label: str) -> list[dict[str, Any]]:
    return [s for s in stages(db) if s["label"] == label]


def test_a_visit_with_a_transfer_a_no_show_and_a_rating_and_a_restart(harness: Harness) -> None:
    """Risk: the figures of the day are built from rows that miss a step of a visit (a
    transfer's second stage, a no-show, the rating) or lose them at a restart."""
    h, clock = harness, harness.clock
    h.call(c.IssueTicket("docs"))
    h.call(c.IssueTicket("docs"))
    clock.advance(120)
    h.call(c.CallNext(1))                             # A-001 to window 1 after 120 s
    clock.advance(10)
    h.call(c.StartService(1))
    clock.advance(300)
    h.call(c.Transfer(1, "realty"))                   # A-001 leaves docs after 300 s
    h.restart()                                       # the open stages come back from the file
    clock.advance(60)
    h.call(c.CallNext(2))                             # A-001, first in realty (a transfer)
    h.call(c.StartService(2))
    clock.advance(200)
    h.call(c.Finish(2))
    h.call(c.Rate(2, 4))
    h.call(c.CallNext(1))
    h.call(c.NoShow(1))

    a1 = by_label(h.db_path, "A-001")
    assert [(s["stage"], s["service"], s["outcome"]) for s in a1] == [
        (1, "docs", "transferred"), (2, "realty", "done")]
    first, second = a1
    assert first["window"] == 1 and first["waited_ms"] == 120_000
    assert first["served_ms"] == 300_000 and first["rating"] is None
    assert second["window"] == 2 and second["waited_ms"] == 60_000
    assert second["served_ms"] == 200_000 and second["rating"] == 4
    assert second["visit"] == first["visit"] and second["day"] == "2026-11-23"
    a2 = by_label(h.db_path, "A-002")
    assert [(s["outcome"], s["window"], s["served_ms"]) for s in a2] == [("no_show", 1, None)]
    assert a2[0]["waited_ms"] == (120 + 10 + 300 + 60 + 200) * 1000   # called after A-001
    # written by the real store: nothing but these rows exist
    assert len(stages(h.db_path)) == 3


def test_a_no_show_who_returns_is_one_stage_served(harness: Harness) -> None:
    """Risk: a returning no-show is counted twice (a no-show and a served visit)."""
    h = harness
    h.call(c.IssueTicket("docs"))
    h.call(c.CallNext(1))
    h.call(c.NoShow(1))
    assert by_label(h.db_path, "A-001")[0]["outcome"] == "no_show"
    h.clock.advance(600)
    h.call(c.ReturnTicket("A-001"))
    assert by_label(h.db_path, "A-001")[0]["outcome"] == "open"
    h.restart()
    h.call(c.CallNext(1))
    h.call(c.Finish(1))
    rows = by_label(h.db_path, "A-001")
    assert [(r["stage"], r["outcome"]) for r in rows] == [(1, "done")]


def test_the_operator_named_by_an_event_is_kept(harness: Harness) -> None:
    """Risk: the panel's operator never reaches the rows, or a keypad press naming nobody
    (null) wipes the operator who called the visitor."""
    h = harness
    h.call(c.IssueTicket("docs"))
    store, book = h.store, h.store.stages
    tid = next(iter(book.open))
    plan = book.plan(_outcome(h, [Event("ticket.called", {"ticket_id": tid, "window": 1,
                                                          "operator": "aigerim"}),
                                  Event("ticket.serving", {"ticket_id": tid, "window": 1,
                                                           "operator": None})]))
    assert plan.rows[book.open[tid]["id"]]["operator"] == "aigerim"
    assert store is h.store
    # Paper events and a recall that changes nothing rewrite no row (one less page a command).
    quiet = book.plan(_outcome(h, [Event("ticket.printed", {"ticket_id": tid, "printer": "k"}),
                                   Event("ticket.recalled", {"ticket_id": tid})]))
    assert quiet.is_empty


def _outcome(h: Harness, events: list[Event]) -> Any:
    from edge.queue.engine import Outcome, Reply
    return Outcome(reply=Reply(), now_ms=MONDAY_9AM_MS + 1000, events=events)


def test_an_old_database_migrates_with_its_tickets_as_stages(tmp_path: Path, demo_config,
                                                              clock) -> None:
    """Risk: a center upgrading mid-day loses the morning's figures, or the upgrade fails."""
    db = tmp_path / "kezek.db"
    h = Harness(demo_config, db, clock)
    h.call(c.IssueTicket("docs"))
    h.call(c.IssueTicket("docs"))
    clock.advance(90)
    h.call(c.CallNext(1))
    clock.advance(30)
    h.call(c.Finish(1))
    h.close()
    # The stages' migration is the newest: a database one version older has no stages.
    assert MIGRATIONS[LATEST - 1][0].lstrip().startswith("CREATE TABLE visit_stages"), \
        "visit_stages must be the newest migration (or undo the newer ones here too)"
    conn = sqlite3.connect(db)    # as the kezek before it left the file
    conn.execute("DROP TABLE visit_stages")
    conn.execute(f"PRAGMA user_version={LATEST - 1}")
    conn.commit()
    conn.close()
    with QueueStore(db) as store:
        assert len(store.stages.open) == 1                # A-002 still waits
    rows = stages(db)
    assert [(r["label"], r["outcome"], r["waited_ms"], r["served_ms"]) for r in rows] == [
        ("A-001", "done", 90_000, 30_000), ("A-002", "open", None, None)]
    assert list((tmp_path / "backups").glob(f"kezek-v{LATEST - 1}-*.db"))
