"""WAL checkpoints run on their own thread; the writer only counts its commits."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from edge.queue import commands as c
from edge.storage.checkpoints import FALLBACK_PAGES, WalCheckpointer
from edge.storage.connect import connect


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def wal_frames_pending(db: Path) -> tuple[int, int]:
    """(frames in the WAL, frames already copied back), asked of a separate connection."""
    conn = sqlite3.connect(db)
    try:
        _, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return log, done
    finally:
        conn.close()


def test_commits_are_folded_back_by_the_checkpoint_thread(harness) -> None:
    checkpointer = harness.store.start_background_checkpoints(every_commits=5, interval_s=60)
    # The writer only checkpoints by itself far past the usual WAL size.
    assert harness.store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == FALLBACK_PAGES
    for _ in range(12):
        harness.call(c.IssueTicket("docs"))
    # 12 commits with a checkpoint every 5: the thread ran without anyone waiting on it.
    assert wait_for(lambda: checkpointer.checkpoints >= 2), checkpointer.last_error
    assert checkpointer.last_error is None
    # Nothing lost or reordered by checkpoints running beside the writer.
    assert [t.label for t in harness.store.tickets()] == [f"A-{n:03d}" for n in range(1, 13)]
    harness.restart()
    assert harness.call(c.IssueTicket("docs")).reply.ticket.label == "A-013"


def test_a_quiet_day_is_checkpointed_after_the_interval(tmp_path: Path, harness) -> None:
    checkpointer = harness.store.start_background_checkpoints(every_commits=10_000,
                                                              interval_s=0.05)
    harness.call(c.IssueTicket("docs"))
    assert wait_for(lambda: checkpointer.checkpoints >= 1)
    log, done = wal_frames_pending(harness.db_path)
    assert log == done  # every frame is in the database file


def test_no_commit_no_checkpoint(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    sqlite3.connect(db).close()
    checkpointer = WalCheckpointer(db, connect, every_commits=1, interval_s=0.02)
    checkpointer.start()
    time.sleep(0.2)
    checkpointer.stop()
    assert checkpointer.checkpoints == 0


def test_an_unreadable_database_stops_the_thread_with_a_log_line(tmp_path: Path, caplog) -> None:
    db = tmp_path / "missing-dir" / "q.db"  # cannot be opened: its folder does not exist
    checkpointer = WalCheckpointer(db, connect, every_commits=1, interval_s=0.02)
    checkpointer.start()
    checkpointer.stop()
    assert "WAL checkpoints of" in caplog.text
    assert "writer checkpoints by itself" in caplog.text
