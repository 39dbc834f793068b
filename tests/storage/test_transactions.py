"""A write transaction whose COMMIT (or a statement in it) fails, on real SQLite files: the
connection is usable again, the caller gets the real fault, nothing half done is kept.

SQLite keeps the transaction open when COMMIT returns SQLITE_BUSY ("the COMMIT can be
retried"). In WAL mode, which Kezek uses, a COMMIT rarely waits for anyone; in rollback-
journal mode it waits for every reader, so a reader holding its lock past the busy
timeout makes the BUSY certain: that is how these tests get one. A full disk is the
other case: SQLite then rolls the transaction back by itself, and a ROLLBACK after it
fails with "no transaction is active".
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Iterator

import pytest

from edge.central.store import CentralStore
from edge.errors import StorageError
from edge.storage.outbox import Outbox
from edge.storage.store import QueueStore
from edge.storage.transaction import write_transaction
from edge.sync.protocol import EventBatch
from tests.storage.test_storage_faults import fill


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture
def rollback_journal_db(tmp_path: Path) -> Path:
    """The queue's database with 20 outbox events, switched to a rollback journal."""
    path = tmp_path / "kezek.db"
    QueueStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert conn.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
        conn.executemany(
            "INSERT INTO outbox (seq, id, type, ts_ms, mono_ms, boot, clock_synced, data) "
            "VALUES (?, ?, 'test.event', 0, 0, 'b', 1, '{}')",
            [(s, f"id-{s}") for s in range(1, 21)])
    finally:
        conn.close()
    return path


@pytest.fixture
def reader(rollback_journal_db: Path) -> Iterator[sqlite3.Connection]:
    """A connection in the middle of a read (a backup tool, `kezek status`): its shared
    lock makes a COMMIT on a rollback-journal file wait, then fail with SQLITE_BUSY."""
    conn = sqlite3.connect(rollback_journal_db, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute("SELECT COUNT(*) FROM outbox").fetchone()
    yield conn
    conn.close()


def test_an_ack_whose_commit_is_refused_busy_deletes_nothing_and_the_next_sync_step_works(
        rollback_journal_db: Path, reader: sqlite3.Connection) -> None:
    """Risk: the COMMIT deleting acked events failed with SQLITE_BUSY and left its
    transaction open: every later sync step failed with "cannot start a transaction
    within a transaction", the link's reads saw a deletion never committed, and its
    write lock kept the queue from saving tickets until a restart."""
    path = rollback_journal_db
    db = Outbox(path)
    db._conn.execute("PRAGMA busy_timeout=200")   # 5 s in service: not worth waiting here
    try:
        with pytest.raises((StorageError, sqlite3.Error)) as e:
            db.delete_through(10, {"sync.acked_seq": 10})
        assert db.bounds() == (1, 20), "the link reads no deletion that was not committed"
        # The queue's own connection can write while the reader still reads.
        queue = sqlite3.connect(path, isolation_level=None, timeout=0.2)
        queue.execute("BEGIN IMMEDIATE")
        queue.execute("INSERT INTO meta(key, value) VALUES ('probe', '1')")
        queue.execute("ROLLBACK")
        queue.close()
        reader.execute("COMMIT")
        assert _rows(path, "SELECT MIN(seq), COUNT(*) FROM outbox") == [(1, 20)]
        assert _rows(path, "SELECT value FROM meta WHERE key='sync.acked_seq'") == []
        db.put({"sync.session": 7})
        assert db.delete_through(10, {"sync.acked_seq": 10}) == 10
        assert db.bounds() == (11, 20) and db.get_int("sync.acked_seq") == 10
    finally:
        db.close()
    # What the link logs and shows in its health: the fault and its fix.
    assert isinstance(e.value, StorageError) and e.value.kind == "busy"
    assert str(path) in str(e.value) and "locked by another program" in str(e.value)


def test_write_transaction_ends_a_commit_refused_busy_and_raises_that_error(
        rollback_journal_db: Path, reader: sqlite3.Connection) -> None:
    """The shared helper (the outbox and central's store use it): after a COMMIT refused
    busy, nothing of the transaction is kept, the connection is out of it, and the
    error raised is the COMMIT's."""
    conn = sqlite3.connect(rollback_journal_db, isolation_level=None, timeout=0.2)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            with write_transaction(conn):
                conn.execute("DELETE FROM outbox")
        assert not conn.in_transaction
        reader.execute("COMMIT")
        with write_transaction(conn):
            conn.execute("DELETE FROM outbox WHERE seq <= 5")
    finally:
        conn.close()
    assert _rows(rollback_journal_db, "SELECT MIN(seq), COUNT(*) FROM outbox") == [(6, 15)]


def test_a_big_snapshot_on_a_full_card_names_the_full_disk_not_the_failed_rollback(
        small_disk: Path) -> None:
    """Risk: a statement that fills the disk makes SQLite roll back by itself; the
    ROLLBACK after it then failed with "no transaction is active", and that error, not
    the full disk, reached the log, the health and the fault kind (no "free space")."""
    path = small_disk / "kezek.db"
    QueueStore(path).close()
    db = Outbox(path)
    try:
        filler = fill(small_disk)
        # Central's bookings snapshot of 20,000 entries is about 4 MB: more than SQLite's
        # page cache, so it goes to the WAL before the COMMIT, and fails there.
        with pytest.raises(StorageError) as e:
            db.put({"sync.bookings": "x" * 3_000_000})
        assert e.value.kind == "full", e.value
        assert "disk is full" in str(e.value) and "free space" in str(e.value)
        assert "rollback" not in str(e.value)
        filler.unlink()
        db.put({"sync.bookings": "[]"})
        assert db.get("sync.bookings") == "[]"
    finally:
        db.close()


def _batch(first: int, last: int, data_bytes: int) -> EventBatch:
    return EventBatch.model_validate({
        "v": 1, "site": "s", "device": "d", "session": 1, "floor": 0,
        "events": [{"v": 1, "id": f"e-{s}", "site": "s", "device": "d", "seq": s, "boot": "b",
                    "type": "test.event", "ts": 0, "mono_ms": 0, "clock_synced": True,
                    "hist": False, "data": {"text": "x" * data_bytes}}
                   for s in range(first, last + 1)]})


def test_central_on_a_full_disk_acks_nothing_names_the_fault_and_stores_the_batch_later(
        disk_8m: Path) -> None:
    """Risk: central's store ran ROLLBACK after SQLite had rolled back by itself (a full
    disk): "cannot rollback - no transaction is active" hid the fault in central's log."""
    store = CentralStore(disk_8m / "central.db")
    try:
        assert store.store_batch(_batch(1, 5, 10)).acked_seq == 5
        filler = fill(disk_8m)
        big = _batch(6, 305, 10_000)             # 3 MB: beyond the page cache
        with pytest.raises(sqlite3.Error) as e:
            store.store_batch(big)
        assert "full" in str(e.value) and "rollback" not in str(e.value)
        assert store.device("s", "d")["contiguous"] == 5, "nothing acked beyond the store"
        filler.unlink()
        assert store.store_batch(big).acked_seq == 305
        assert store.next_session() >= 1
    finally:
        store.close()
    assert _rows(disk_8m / "central.db", "SELECT COUNT(*) FROM events") == [(305,)]
    assert json.loads(_rows(disk_8m / "central.db",
                            "SELECT data FROM events WHERE seq=305")[0][0])["text"] == "x" * 10_000
