"""Central's store in PostgreSQL (psycopg 3, a connection pool): the production setup.

Same algorithm and promises as the SQLite store (ledger.py); what differs:
- batches of different sites are stored in parallel, by the threads of one instance and
  by several instances: a transaction-scoped advisory lock per site serialises the
  batches of one site (ledger.py says why that is enough);
- `events` is partitioned by month of its `day` (the business day in the country's zone),
  created on demand, and a retention setting drops whole months; the primary key then
  has to include `day`, so "once per (site, stream, seq)" rests on the ledger's check
  under the site lock, which reads every partition's index (about 13 for a year; a
  daily partitioning would make that 365, which is why it is monthly);
- every committed batch sends NOTIFY kezek_stored with its site, for live screens.
"""

from __future__ import annotations

import logging
import re
import threading
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Iterator, Sequence

from edge.central.ledger import LedgerStore
from edge.central.tx import Tx, Write
from edge.central.streams import STREAMS_OF_SITE
from edge.central.migrate import Migration, migrate
from edge.central.ticket_page.projection import MIGRATION_NAME, MIGRATION_STEPS
from edge.central.staff import MIGRATION as STAFF_MIGRATION
from edge.sync.protocol import EventBatch

logger = logging.getLogger(__name__)

LOCK_SITE, LOCK_MIGRATE, LOCK_PARTITION = 27514, 27515, 27516
PARTITION = re.compile(r"^events_y(\d{4})m(\d{2})$")
INSTALL_HINT = ("PostgreSQL support needs psycopg 3 and psycopg-pool; install them with "
                "`pip install 'kezek-edge[central]'` (or: pip install 'psycopg[binary]' "
                "psycopg-pool)")


class MissingDriver(RuntimeError):
    pass


def is_postgres_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://")) or "dbname=" in target


@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    return sql.replace("?", "%s")


class _PgTx:
    def __init__(self, conn: Any, cur: Any) -> None:
        self.conn = conn
        self.cur = cur

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.cur.execute(_pg_sql(sql), args)
        return self.cur.fetchall() if self.cur.description else []

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        self.cur.execute(_pg_sql(sql), args)
        return int(self.cur.rowcount)

    def run_many(self, sql: str, rows: list[Sequence[Any]]) -> None:
        if rows:
            self.cur.executemany(_pg_sql(sql), rows)

    def run_all(self, writes: list[Write]) -> None:
        """Every write in one round trip (pipeline mode); errors raise at the end."""
        if not writes:
            return
        with self.conn.pipeline():
            for sql, args, many in writes:
                if many:
                    if args:
                        self.cur.executemany(_pg_sql(sql), args)
                else:
                    self.cur.execute(_pg_sql(sql), args)

    def rows_many(self, queries: list[tuple[str, Sequence[Any]]]) -> list[list[tuple[Any, ...]]]:
        """Every query in one round trip (pipeline mode), run in order; their rows."""
        return self.pipelined([(sql, args, True) for sql, args in queries])

    def pipelined(self, queries: list[tuple[str, Sequence[Any], bool]]
                  ) -> list[list[tuple[Any, ...]]]:
        """(sql, args, want rows) in one round trip, run by the server in order, each
        statement in a snapshot of its own (READ COMMITTED); the rows of those wanted."""
        if not queries:
            return []
        cursors = []
        with self.conn.pipeline():
            for sql, args, want in queries:
                cur = self.conn.cursor() if want else self.cur
                cur.execute(_pg_sql(sql), args)
                if want:
                    cursors.append(cur)
        out = []
        for cur in cursors:
            out.append(cur.fetchall())
            cur.close()
        return out


class PostgresStore(LedgerStore):
    ORDER = "ord"

    def __init__(self, url: str, *, timezone: str = "Asia/Almaty", pool_size: int = 4) -> None:
        super().__init__(timezone)
        try:
            import psycopg  # noqa: F401
            from psycopg_pool import ConnectionPool
        except ImportError as e:
            raise MissingDriver(f"{INSTALL_HINT} ({e})") from None
        self.url = url
        self._months: set[date] = set()
        self._months_lock = threading.Lock()
        # check: a connection broken by a server restart is replaced before it is handed
        # out, so the first batch after the restart is stored, not failed.
        self.pool = ConnectionPool(url, min_size=1, max_size=max(1, pool_size),
                                   kwargs={"autocommit": True}, open=False,
                                   check=ConnectionPool.check_connection, timeout=30,
                                   name="kezek-central")
        self.pool.open(wait=True, timeout=30)
        try:
            self.schema_version = migrate(self, MIGRATIONS)
            self._load_months()
        except BaseException:
            self.pool.close()
            raise

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def _tx(self) -> Iterator[Tx]:
        with self.pool.connection() as conn, conn.transaction():
            with conn.cursor() as cur:
                yield _PgTx(conn, cur)

    @contextmanager
    def _read(self) -> Iterator[Tx]:
        with self.pool.connection() as conn, conn.cursor() as cur:
            yield _PgTx(conn, cur)

    def is_transient(self, e: Exception) -> bool:
        import psycopg
        from psycopg_pool import PoolTimeout
        return isinstance(e, (psycopg.OperationalError, PoolTimeout))

    def maintain(self, retention_days: int | None, today: date | None = None) -> None:
        today = today or datetime.now(self.day_of.zone).date()
        for month in (today.replace(day=1), (today.replace(day=1) + timedelta(days=32))):
            self.ensure_month(month)
        super().maintain(retention_days, today)

    def _lock_sites(self, tx: Tx, sites: list[str], wait: bool = True
                    ) -> list[list[tuple[Any, ...]] | None]:
        # One round trip: the server runs them in order, so each site's streams are read
        # in a snapshot taken once its lock is held (READ COMMITTED: one per statement).
        # A try-lock that failed has its streams read all the same; they are dropped.
        assert isinstance(tx, _PgTx)
        queries: list[tuple[str, Sequence[Any], bool]] = []
        lock = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        for site in sites:
            queries.append((f"SELECT {lock}({LOCK_SITE}, hashtext(?))", (site,), not wait))
            queries.append((STREAMS_OF_SITE, (site,), True))
        rows = tx.pipelined(queries)
        if wait:
            return list(rows)
        return [streams if held[0][0] else None for held, streams in zip(rows[::2], rows[1::2])]

    def _lock_migrations(self, tx: Tx) -> None:
        tx.rows(f"SELECT pg_advisory_xact_lock({LOCK_MIGRATE}, 0)")

    def _day(self, day: date) -> Any:
        return day

    def _after_batches(self, tx: Tx, sites: list[str]) -> None:
        tx.rows("SELECT pg_notify('kezek_stored', s) FROM unnest(?::text[]) AS s", (sites,))

    def _events_write(self, rows: list[tuple[Any, ...]]) -> Write:
        cols = list(zip(*rows))
        return (
            "INSERT INTO events(site, device, seq, id, type, ts, mono_ms, boot, clock_synced, "
            "hist, data, received_ms, day) SELECT * FROM unnest(?::text[], ?::text[], "
            "?::bigint[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::text[], "
            "?::bool[], ?::bool[], ?::jsonb[], ?::bigint[], ?::date[]) ON CONFLICT DO NOTHING",
            [list(c) for c in cols], False)

    # -- partitions and retention -----------------------------------------------------------
    def _load_months(self) -> None:
        with self._read() as tx:
            names = [r[0] for r in tx.rows(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'events'::regclass")]
        with self._months_lock:
            self._months = {date(int(m[1]), int(m[2]), 1) for n in names
                            if (m := PARTITION.match(n))}

    def _before_batch(self, days: set[date]) -> None:
        for month in {d.replace(day=1) for d in days}:
            if month not in self._months:
                self.ensure_month(month)

    def ensure_month(self, month: date) -> None:
        """Create the partition of `month` if no instance has (a short DDL transaction of
        its own: it locks the parent table, so never inside a batch's transaction)."""
        month = month.replace(day=1)
        nxt = (month + timedelta(days=32)).replace(day=1)
        with self._tx() as tx:
            tx.rows(f"SELECT pg_advisory_xact_lock({LOCK_PARTITION}, 0)")
            tx.run(f"CREATE TABLE IF NOT EXISTS events_y{month:%Y}m{month:%m} PARTITION OF "
                   f"events FOR VALUES FROM ('{month.isoformat()}') TO ('{nxt.isoformat()}')")
        with self._months_lock:
            self._months.add(month)

    def store_batches(self, batches: list[EventBatch]) -> Any:
        try:
            return super().store_batches(batches)
        except Exception as e:
            # A month dropped by another instance's retention after this one cached it:
            # forget the cache and try once more (the partition is made again).
            if getattr(e, "sqlstate", None) != "23514":
                raise
            self._load_months()
            return super().store_batches(batches)

    def apply_retention(self, days: int, today: date) -> int:
        """Drop the months of events wholly older than `days` before `today` (and delete
        the copies, conflicts and gaps received before that); the day roll-up stays.
        Returns the number of months dropped."""
        cutoff = today - timedelta(days=days)
        self._load_months()
        dropped = 0
        for month in sorted(self._months):
            end = (month + timedelta(days=32)).replace(day=1)
            if end > cutoff:
                continue
            with self._tx() as tx:
                tx.rows(f"SELECT pg_advisory_xact_lock({LOCK_PARTITION}, 0)")
                tx.run(f"DROP TABLE IF EXISTS events_y{month:%Y}m{month:%m}")
            dropped += 1
            logger.info("central: retention dropped the events of %s", f"{month:%Y-%m}")
        cutoff_ms = int((cutoff - date(1970, 1, 1)).total_seconds() * 1000)
        with self._tx() as tx:
            for table in ("copies", "conflicts", "gaps"):
                tx.run(f"DELETE FROM {table} WHERE received_ms < ?", (cutoff_ms,))
        self._load_months()
        return dropped


MIGRATIONS = [
    Migration(1, "events by month, devices, streams, forks, gaps, conflicts, copies, "
                 "health, states, the daily roll-up", (
        """CREATE TABLE events (
        site TEXT NOT NULL, device TEXT NOT NULL, seq BIGINT NOT NULL, id TEXT NOT NULL,
        type TEXT NOT NULL, ts BIGINT NOT NULL, mono_ms BIGINT NOT NULL, boot TEXT NOT NULL,
        clock_synced BOOLEAN NOT NULL, hist BOOLEAN NOT NULL, data JSONB NOT NULL,
        received_ms BIGINT NOT NULL, day DATE NOT NULL,
        PRIMARY KEY (site, device, seq, day)) PARTITION BY RANGE (day)""",
        # A day of every site (the country view), or of one site, by type.
        "CREATE INDEX events_day ON events (day, site, type)",
        """CREATE TABLE devices (
        site TEXT NOT NULL, device TEXT NOT NULL, contiguous BIGINT NOT NULL DEFAULT 0,
        stored BIGINT NOT NULL DEFAULT 0, duplicates BIGINT NOT NULL DEFAULT 0,
        conflicts BIGINT NOT NULL DEFAULT 0, copies BIGINT NOT NULL DEFAULT 0,
        last_seen_ms BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (site, device))""",
        """CREATE TABLE gaps (
        ord BIGSERIAL PRIMARY KEY, site TEXT NOT NULL, device TEXT NOT NULL,
        from_seq BIGINT NOT NULL, to_seq BIGINT NOT NULL, reason TEXT NOT NULL,
        received_ms BIGINT NOT NULL)""",
        "CREATE INDEX gaps_device ON gaps (site, device, from_seq)",
        """CREATE TABLE conflicts (
        ord BIGSERIAL PRIMARY KEY, site TEXT NOT NULL, device TEXT NOT NULL,
        seq BIGINT NOT NULL, stored_id TEXT NOT NULL, new_id TEXT NOT NULL,
        received_ms BIGINT NOT NULL, type TEXT, ts BIGINT, mono_ms BIGINT, boot TEXT,
        clock_synced BOOLEAN, hist BOOLEAN, data TEXT)""",
        "CREATE INDEX conflicts_key ON conflicts (site, device, seq, new_id)",
        """CREATE TABLE streams (
        ord BIGSERIAL, site TEXT NOT NULL, device TEXT NOT NULL, db TEXT NOT NULL,
        key TEXT NOT NULL, since_ms BIGINT NOT NULL, parent_db TEXT, fork_seq BIGINT,
        PRIMARY KEY (site, device, db))""",
        "CREATE INDEX streams_site ON streams (site)",
        """CREATE TABLE copies (
        site TEXT NOT NULL, device TEXT NOT NULL, seq BIGINT NOT NULL, id TEXT NOT NULL,
        stored_in TEXT NOT NULL, received_ms BIGINT NOT NULL,
        PRIMARY KEY (site, device, seq))""",
        """CREATE TABLE health (
        site TEXT NOT NULL, device TEXT NOT NULL, payload JSONB NOT NULL,
        received_ms BIGINT NOT NULL, PRIMARY KEY (site, device))""",
        """CREATE TABLE states (
        site TEXT NOT NULL, device TEXT NOT NULL, online BOOLEAN NOT NULL,
        session BIGINT NOT NULL, received_ms BIGINT NOT NULL, db TEXT,
        PRIMARY KEY (site, device))""",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE daily (
        site TEXT NOT NULL, day DATE NOT NULL, type TEXT NOT NULL, service TEXT NOT NULL,
        n BIGINT NOT NULL, total BIGINT NOT NULL, PRIMARY KEY (site, day, type, service))""",
        "CREATE INDEX daily_day ON daily (day)",
    )),
    # (2 is SQLite's alone: its events got their day column; PostgreSQL had it from 1.)
    # 3: the visitor's ticket page (edge/central/ticket_page): one row per ticket, by token.
    Migration(3, MIGRATION_NAME, MIGRATION_STEPS),
    # 4: the staff accounts of the Situational Center (edge/central/staff.py).
    STAFF_MIGRATION,
]
