"""Central's store in one SQLite file: the embedded default, for the demo and a region.

Several central processes may share the file (WAL; BEGIN IMMEDIATE serialises writers),
which is what a shared subscription needs: batches of one device may reach different
instances in any order. Within a process one connection serves every thread, one
statement sequence at a time. For the country, use PostgreSQL (pg_store.py).
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator, Sequence

from edge.central.ledger import LedgerStore
from edge.central.tx import Tx, Write
from edge.central.streams import STREAMS_OF_SITE
from edge.central.migrate import Migration, migrate
from edge.central.ticket_page.projection import MIGRATION_NAME, MIGRATION_STEPS
from edge.central.staff import MIGRATION as STAFF_MIGRATION
from edge.central.reads import MEASURES
from edge.storage.connect import connect
from edge.storage.transaction import write_transaction

SCHEMA_V1 = [
    """CREATE TABLE IF NOT EXISTS events (
    site TEXT NOT NULL, device TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,
    type TEXT NOT NULL, ts INTEGER NOT NULL, mono_ms INTEGER NOT NULL, boot TEXT NOT NULL,
    clock_synced INTEGER NOT NULL, hist INTEGER NOT NULL, data TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (site, device, seq)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS devices (
    site TEXT NOT NULL, device TEXT NOT NULL, contiguous INTEGER NOT NULL DEFAULT 0,
    stored INTEGER NOT NULL DEFAULT 0, duplicates INTEGER NOT NULL DEFAULT 0,
    conflicts INTEGER NOT NULL DEFAULT 0, last_seen_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, device))""",
    """CREATE TABLE IF NOT EXISTS gaps (
    site TEXT NOT NULL, device TEXT NOT NULL, from_seq INTEGER NOT NULL,
    to_seq INTEGER NOT NULL, reason TEXT NOT NULL, received_ms INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS conflicts (
    site TEXT NOT NULL, device TEXT NOT NULL, seq INTEGER NOT NULL, stored_id TEXT NOT NULL,
    new_id TEXT NOT NULL, received_ms INTEGER NOT NULL)""",
    # The "stored once" check of every conflicting event: without it each check scans the
    # whole table, and a restored edge resending 60,000 seqs held the write lock for seconds.
    "CREATE INDEX IF NOT EXISTS conflicts_key ON conflicts(site, device, seq, new_id)",
    """CREATE TABLE IF NOT EXISTS streams (
    site TEXT NOT NULL, device TEXT NOT NULL, db TEXT NOT NULL, key TEXT NOT NULL,
    since_ms INTEGER NOT NULL, PRIMARY KEY (site, device, db))""",
    # Events of a stream stored under a twin stream (ledger.py, Forks): (stream, seq) -> where.
    """CREATE TABLE IF NOT EXISTS copies (
    site TEXT NOT NULL, device TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,
    stored_in TEXT NOT NULL, received_ms INTEGER NOT NULL,
    PRIMARY KEY (site, device, seq)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS health (
    site TEXT NOT NULL, device TEXT NOT NULL, payload TEXT NOT NULL,
    received_ms INTEGER NOT NULL, PRIMARY KEY (site, device))""",
    """CREATE TABLE IF NOT EXISTS states (
    site TEXT NOT NULL, device TEXT NOT NULL, online INTEGER NOT NULL, session INTEGER NOT NULL,
    received_ms INTEGER NOT NULL, PRIMARY KEY (site, device))""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
]
# Columns added before migrations were versioned: (table, column, declaration). A file
# made by an older central gets them in migration 1; old rows keep NULL.
ADDED_COLUMNS = [
    ("conflicts", "type", "TEXT"), ("conflicts", "ts", "INTEGER"),
    ("conflicts", "mono_ms", "INTEGER"), ("conflicts", "boot", "TEXT"),
    ("conflicts", "clock_synced", "INTEGER"), ("conflicts", "hist", "INTEGER"),
    ("conflicts", "data", "TEXT"), ("states", "db", "TEXT"),
    ("streams", "parent_db", "TEXT"), ("streams", "fork_seq", "INTEGER"),
    ("devices", "copies", "INTEGER NOT NULL DEFAULT 0"),
]


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, args).fetchall()

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, args).rowcount

    def run_many(self, sql: str, rows: list[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def rows_many(self, queries: list[tuple[str, Sequence[Any]]]) -> list[list[tuple[Any, ...]]]:
        return [self.conn.execute(sql, args).fetchall() for sql, args in queries]

    def run_all(self, writes: list[Write]) -> None:
        for sql, args, many in writes:
            if many:
                self.conn.executemany(sql, args)
            else:
                self.conn.execute(sql, args)


class SqliteStore(LedgerStore):
    def __init__(self, path: Path | str, *, timezone: str = "Asia/Almaty") -> None:
        super().__init__(timezone)
        self.path = Path(path)
        self.url = str(self.path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(path)
        self._lock = threading.RLock()
        self._conn.create_function(
            "kezek_day", 3, lambda ts, synced, received: self.day_of(
                int(ts), bool(synced), int(received)).isoformat(), deterministic=True)
        self.schema_version = migrate(self, MIGRATIONS)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[Tx]:
        with self._lock, write_transaction(self._conn):
            yield _SqliteTx(self._conn)

    @contextmanager
    def _read(self) -> Iterator[Tx]:
        with self._lock:
            yield _SqliteTx(self._conn)

    def _lock_sites(self, tx: Tx, sites: list[str], wait: bool = True
                    ) -> list[list[tuple[Any, ...]] | None]:
        # BEGIN IMMEDIATE holds the file's one write lock already: every site is ours.
        return [tx.rows(STREAMS_OF_SITE, (site,)) for site in sites]

    def _lock_migrations(self, tx: Tx) -> None:
        pass

    def _day(self, day: date) -> Any:
        return day.isoformat()

    def _load(self, data: Any) -> Any:
        import json
        return json.loads(data)

    def _events_write(self, rows: list[tuple[Any, ...]]) -> Write:
        return ("INSERT OR IGNORE INTO events(site, device, seq, id, type, ts, mono_ms, "
                "boot, clock_synced, hist, data, received_ms, day) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [r[:12] + (r[12].isoformat(),) for r in rows], True)

    def apply_retention(self, days: int, today: date) -> int:
        """Delete events filed under a day more than `days` before `today` (and the
        copies, conflicts and gaps received before it); the day roll-up stays. Returns
        the events deleted."""
        cutoff = today - timedelta(days=days)
        cutoff_ms = int(self._midnight_ms(cutoff))
        with self._tx() as tx:
            n = tx.run("DELETE FROM events WHERE day < ?", (cutoff.isoformat(),))
            for table in ("copies", "conflicts", "gaps"):
                tx.run(f"DELETE FROM {table} WHERE received_ms < ?", (cutoff_ms,))
        return n

    def _midnight_ms(self, day: date) -> float:
        from datetime import datetime, time
        return datetime.combine(day, time(), self.day_of.zone).timestamp() * 1000


def _added_columns(tx: Tx) -> None:
    for table, column, decl in ADDED_COLUMNS:
        have = {r[1] for r in tx.rows(f"PRAGMA table_info({table})")}
        if column not in have:
            tx.run(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")


def _day_column(tx: Tx) -> None:
    if "day" not in {r[1] for r in tx.rows("PRAGMA table_info(events)")}:
        tx.run("ALTER TABLE events ADD COLUMN day TEXT")
    tx.run("UPDATE events SET day = kezek_day(ts, clock_synced, received_ms) WHERE day IS NULL")


def _measure_sql() -> str:
    cases = " ".join(f"WHEN '{t}' THEN json_extract(data, '$.{k}')" for t, k in MEASURES.items())
    return f"CASE type {cases} ELSE 0 END"


MIGRATIONS = [
    # 1: the schema of the first releases, as they made it (CREATE IF NOT EXISTS: a
    # central.db made before migrations were versioned is taken as it is, and completed).
    Migration(1, "events, devices, streams, forks, gaps, conflicts, copies, health, states",
              (*SCHEMA_V1, _added_columns)),
    # 2: the Situational Center's reads: every event filed under its day in the country's
    # zone, an index for "a day of every site / of one site, by type", and the day roll-up.
    Migration(2, "events.day, the day index and the daily roll-up", (
        _day_column,
        "CREATE INDEX IF NOT EXISTS events_day ON events(day, site, type)",
        """CREATE TABLE IF NOT EXISTS daily (
        site TEXT NOT NULL, day TEXT NOT NULL, type TEXT NOT NULL, service TEXT NOT NULL,
        n INTEGER NOT NULL, total INTEGER NOT NULL, PRIMARY KEY (site, day, type, service))""",
        "INSERT OR IGNORE INTO daily(site, day, type, service, n, total) SELECT site, day, type, "
        "coalesce(json_extract(data, '$.service'), ''), count(*), "
        f"coalesce(sum({_measure_sql()}), 0) FROM events GROUP BY 1, 2, 3, 4",
    )),
    # 3: the visitor's ticket page (edge/central/ticket_page): one row per ticket, by token.
    Migration(3, MIGRATION_NAME, MIGRATION_STEPS),
    # 4: the staff accounts of the Situational Center (edge/central/staff.py).
    STAFF_MIGRATION,
]
