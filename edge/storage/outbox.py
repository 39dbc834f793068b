"""The outbox's reads and deletes, over a connection of its own, and the outbox cap.

The queue store owns the outbox and assigns every seq; whoever drains it (the sync link,
or the trim of a center without sync) only reads rows, deletes a prefix that central
acked (or, at the cap, dropped), and keeps its own durable state in `meta` under keys
starting with `sync.`. WAL mode lets both connections work at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from edge.errors import StorageError
from edge.storage.faults import storage_error
from edge.storage.transaction import write_transaction

logger = logging.getLogger(__name__)

# Where the outbox's drained side records the newest seq dropped at the cap: a link
# enabled (or connected) later starts after the gap instead of waiting for rows that are
# gone.
DROPPED_THROUGH = "sync.dropped_through"


class Outbox:
    """The outbox rows and the `sync.*` meta keys, read and deleted by one connection."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below).
            self._conn = sqlite3.connect(str(self.path), timeout=5.0, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.execute("PRAGMA synchronous=FULL")
            have = {r[0] for r in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.Error as e:
            raise StorageError(f"{self.path}: cannot open the database for sync: {e}") from None
        missing = {"outbox", "meta"} - have
        if missing:
            self._conn.close()
            raise StorageError(f"{self.path}: no {', '.join(sorted(missing))} table; the queue "
                               "store must create the database before the sync link starts")

    def close(self) -> None:
        self._conn.close()

    # -- meta ---------------------------------------------------------------------
    # Values are JSON, like the store's own meta values.
    def get(self, key: str, default: Any = None) -> Any:
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except (TypeError, json.JSONDecodeError):
            return row[0]

    def get_int(self, key: str, default: int = 0) -> int:
        value = self.get(key)
        try:
            return int(value) if value is not None else default
        except (TypeError, ValueError):
            logger.warning("meta %s holds %r, not a number; using %s", key, value, default)
            return default

    def put(self, items: dict[str, Any]) -> None:
        """Write sync.* meta keys in one transaction."""
        with self._tx():
            self._write_meta(items)

    def _write_meta(self, items: dict[str, Any]) -> None:
        for key in items:
            if not key.startswith("sync."):
                raise ValueError(f"meta key {key!r}: the sync link only writes sync.* keys")
        self._conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                               [(k, json.dumps(v, ensure_ascii=False)) for k, v in items.items()])

    def put_scrubbed(self, items: dict[str, Any]) -> None:
        """put(), overwriting the old values' bytes: for replacing data that must not stay.

        secure_delete makes SQLite zero the freed cells and pages instead of leaving the old
        value readable in the file; the checkpoint then moves the pages out of the WAL and
        truncates it (best effort: a reader holding an old snapshot delays it).
        """
        self._conn.execute("PRAGMA secure_delete=ON")
        try:
            self.put(items)
        finally:
            self._conn.execute("PRAGMA secure_delete=OFF")
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as e:
            logger.warning("sync: checkpoint after a scrub failed: %s", e)

    def delete_keys(self, keys: list[str]) -> None:
        with self._tx():
            self._conn.executemany("DELETE FROM meta WHERE key=?", [(k,) for k in keys])

    def keys_with_prefix(self, prefix: str) -> list[tuple[str, str]]:
        return self._conn.execute("SELECT key, value FROM meta WHERE key >= ? AND key < ? "
                                  "ORDER BY key", (prefix, prefix + "\uffff")).fetchall()

    # -- outbox -------------------------------------------------------------------
    def bounds(self) -> tuple[int, int] | None:
        """(oldest, newest) seq still in the outbox, or None when it is empty."""
        # Two queries on purpose: SQLite answers a lone MIN() or MAX() from the index in
        # O(log n), but "SELECT MIN(seq), MAX(seq)" scans the whole table.
        low = self._conn.execute("SELECT MIN(seq) FROM outbox").fetchone()[0]
        if low is None:
            return None
        high = self._conn.execute("SELECT MAX(seq) FROM outbox").fetchone()[0]
        return (int(low), int(high))

    def last_assigned_seq(self) -> int:
        """The newest seq the store ever assigned (meta last_seq, or the outbox's max)."""
        stored = self.get_int("last_seq", 0)
        b = self.bounds()
        return max(stored, b[1] if b else 0)

    def rows(self, from_seq: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to `limit` rows from `from_seq` on, in seq order: (seq, id, type, ts_ms,
        mono_ms, boot, clock_synced, data), `data` as the store wrote it (JSON text)."""
        return self._conn.execute(
            "SELECT seq, id, type, ts_ms, mono_ms, boot, clock_synced, data FROM outbox "
            "WHERE seq >= ? ORDER BY seq LIMIT ?", (from_seq, limit)).fetchall()

    def delete_through(self, seq: int, meta: dict[str, Any]) -> int:
        """Delete outbox rows with seq <= `seq` and write `meta`, in one transaction."""
        with self._tx("cannot delete events from the outbox"):
            cur = self._conn.execute("DELETE FROM outbox WHERE seq <= ?", (seq,))
            self._write_meta(meta)
        return cur.rowcount

    @contextlib.contextmanager
    def _tx(self, doing: str = "cannot save the sync state") -> Iterator[None]:
        """One write transaction; a failure leaves nothing of it, and the connection ready
        for the next, and is raised as a StorageError naming the fault and its fix."""
        try:
            with write_transaction(self._conn):
                yield
        except sqlite3.Error as e:
            raise storage_error(e, self.path, doing) from None


@dataclass(frozen=True)
class Trim:
    """What trim_to_cap found, and the seq range it dropped (none: `through` is 0)."""

    count: int        # events in the outbox before the trim (its seq range)
    first: int = 0    # the oldest seq dropped
    through: int = 0  # the newest seq dropped
    deleted: int = 0  # rows the delete removed

    @property
    def dropped(self) -> int:
        """How many seqs the dropped range spans."""
        return self.through - self.first + 1 if self.through else 0

    @property
    def left(self) -> int:
        """Events left after the trim: 99 % of the cap after a drop."""
        return self.count - self.dropped


def trim_to_cap(outbox: Outbox, cap: int, *, drop: bool) -> Trim:
    """The outbox's size against `cap`; at the cap, with `drop` (storage.outbox_cap's
    "drop_oldest"), the oldest rows are deleted down to 99 % of the cap, and the range is
    recorded in meta (DROPPED_THROUGH) in the same transaction.

    Used by the sync link and by the trim of a center without sync, so both drop the same
    range the same way.
    """
    bounds = outbox.bounds()
    count = bounds[1] - bounds[0] + 1 if bounds else 0
    if bounds is None or count < cap or not drop:
        return Trim(count)
    # Keep 1% headroom so the drop report itself does not trigger the next drop.
    target = cap - max(1, cap // 100)
    through = bounds[0] + (count - target) - 1
    deleted = outbox.delete_through(through, {DROPPED_THROUGH: through})
    return Trim(count, bounds[0], through, deleted)
