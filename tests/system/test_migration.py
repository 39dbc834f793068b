"""Upgrades: a database of the previous schema is backed up, then migrated; a newer one is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.errors import StorageError
from edge.storage.migrations import LATEST, MIGRATIONS
from edge.storage.store import QueueStore


def previous_schema_db(path: Path) -> None:
    """A database as the previous release left it: schema LATEST-1 with a day's data."""
    assert LATEST >= 2, "only one schema version exists: nothing to migrate from yet"
    conn = sqlite3.connect(path)
    for step in MIGRATIONS[:LATEST - 1]:
        for stmt in step:
            conn.execute(stmt)
    conn.execute(f"PRAGMA user_version={LATEST - 1}")
    conn.execute(
        "INSERT INTO tickets (id, day, service, number, label, category, state, visit, arrival, "
        "tier, issued_ms, queued_ms) VALUES (1, '2026-11-23', 'docs', 1, 'A-001', 'normal', "
        "'waiting', 'v-1', 1, 1, 1763870400000, 1763870400000)")
    conn.execute("INSERT INTO counters (service, day, last_number) VALUES ('docs', '2026-11-23', 1)")
    conn.execute("INSERT INTO outbox (seq, id, type, ts_ms, mono_ms, boot, clock_synced, data) "
                 "VALUES (7, 'e-7', 'ticket.issued', 1763870400000, 1000, 'b', 1, '{}')")
    conn.execute("INSERT INTO meta (key, value) VALUES ('last_seq', '7'), ('day', '\"2026-11-23\"')")
    conn.commit()
    conn.close()


def rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_upgrade_backs_up_first_and_keeps_every_row(tmp_path: Path) -> None:
    db = tmp_path / "kezek.db"
    previous_schema_db(db)
    store = QueueStore(db)
    try:
        assert store.last_seq == 7  # the sequence continues: central sees no gap or repeat
        [ticket] = list(store.tickets())
        assert ticket.label == "A-001"
    finally:
        store.close()
    assert rows(db, "PRAGMA user_version") == [(LATEST,)]
    assert rows(db, "SELECT seq, type FROM outbox") == [(7, "ticket.issued")]
    assert rows(db, "SELECT service, day, last_number FROM counters") == [("docs", "2026-11-23", 1)]
    assert rows(db, "SELECT value FROM meta WHERE key = 'day'") == [('"2026-11-23"',)]
    # v3: one b-tree per key-value table (one page per command instead of two).
    for table in ("meta", "counters"):
        [(sql,)] = rows(db, f"SELECT sql FROM sqlite_master WHERE name = '{table}'")
        assert sql.rstrip().endswith("WITHOUT ROWID"), sql
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]

    [backup] = list((tmp_path / "backups").glob("*.db"))
    assert f"-v{LATEST - 1}-" in backup.name
    assert rows(backup, "PRAGMA user_version") == [(LATEST - 1,)]
    assert rows(backup, "SELECT label, state FROM tickets") == [("A-001", "waiting")]
    assert rows(backup, "PRAGMA integrity_check") == [("ok",)]

    QueueStore(db).close()  # opening the current schema again takes no new backup
    assert len(list((tmp_path / "backups").glob("*.db"))) == 1


def test_a_newer_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / "kezek.db"
    QueueStore(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version={LATEST + 1}")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    with pytest.raises(StorageError, match=f"newer than this kezek.*backup"):
        QueueStore(db)
    assert db.read_bytes() == before
    assert not (tmp_path / "backups").exists()


def test_a_fresh_database_needs_no_backup(tmp_path: Path) -> None:
    QueueStore(tmp_path / "kezek.db").close()
    assert rows(tmp_path / "kezek.db", "PRAGMA user_version") == [(LATEST,)]
    assert not (tmp_path / "backups").exists()
