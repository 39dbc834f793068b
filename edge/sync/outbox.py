"""The link's own connection to the edge database: read outbox batches, delete acked rows.

The queue store owns the outbox and assigns every seq; this side only reads rows, deletes
a prefix that central acked (or, at the cap, dropped), and keeps its own durable state in
`meta` under keys starting with `sync.`. WAL mode lets both connections work at once.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from edge.errors import StorageError
from edge.queue.faults import storage_error
from edge.queue.transaction import write_transaction
from edge.sync.machine import Machine

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fork:
    """This database continues another one (the same card, on another machine)."""

    prev_db: str        # the database id before
    fork_seq: int       # the newest seq the card held when it came to this machine
    acked_seq: int = 0  # what central had acked of it then
    reported: bool = True

    @classmethod
    def load(cls, value: Any) -> "Fork | None":
        if not isinstance(value, dict) or not isinstance(value.get("prev_db"), str):
            return None
        try:
            return cls(value["prev_db"], int(value.get("fork_seq", 0)),
                       int(value.get("acked_seq", 0)), bool(value.get("reported", True)))
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True)
class DbIdentity:
    db: str
    moved: Fork | None   # set when this start minted a new id: the card is on a new machine
    fork: Fork | None    # the fork in effect (this start's or an earlier one's)


@dataclass(frozen=True)
class Batch:
    first: int
    last: int
    count: int
    payload: bytes


class OutboxDb:
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

    def database_id(self, machine: Machine | None = None) -> DbIdentity:
        """This database's id for central (`db` on the wire), kept in meta, bound to `machine`.

        A new SD card has a new database, so a new id: central can tell its events (seq
        from 1 again) from the old card's instead of taking them for duplicates. The id is
        also bound to the machine it was made on (`sync.machine`): the same card opened on
        another board (moved to a replacement, or copied onto a second box) gets a new id,
        so its events become a stream of their own at central and never collide with the
        other box's. The fork (`sync.db_fork`: the id before, and the newest seq the card
        held then) goes with every batch: central knows that seqs up to it may arrive under
        both ids, with the same event ids, and keeps each such event once.
        """
        with self._tx():
            value = self.get("sync.db_id")
            recorded = self.get("sync.machine")
            fork = self.get("sync.db_fork")
            moved: Fork | None = None
            if not isinstance(value, str) or not value:
                value = str(uuid.uuid4())
                self._write_meta({"sync.db_id": value})
                fork = None
            elif machine is not None and machine.ids and isinstance(recorded, dict) \
                    and not machine.same_as(recorded):
                acked = self.get_int("sync.acked_seq", 0)
                prev_db, earlier = value, Fork.load(fork)
                if earlier is not None and acked <= earlier.acked_seq:
                    # Central never acked anything under the id being left (a card tried
                    # in a spare board on the bench, offline, then put in the box): it may
                    # never have heard of it, and could not link the new id to the streams
                    # holding the card's older events (a false gap, events kept twice).
                    # Name the id before it instead; the seqs made under the one skipped
                    # are the card's own either way.
                    prev_db = earlier.prev_db
                moved = Fork(prev_db=prev_db, fork_seq=self.last_assigned_seq(),
                             acked_seq=acked, reported=False)
                value = str(uuid.uuid4())
                fork = {"prev_db": moved.prev_db, "fork_seq": moved.fork_seq,
                        "acked_seq": moved.acked_seq, "reported": False}
                self._write_meta({"sync.db_id": value, "sync.db_fork": fork})
            current = Fork.load(fork)
            if moved is None and current is not None and not current.reported \
                    and self._conn.execute(
                        "SELECT 1 FROM outbox WHERE seq>? AND type='sync.db_changed' AND "
                        "json_extract(data, '$.db')=? LIMIT 1",
                        (current.fork_seq, value)).fetchone():
                # The event was committed but the power went before it was marked as
                # told (the network loop marks it a moment later): not again.
                fork = {**fork, "reported": True}
                self._write_meta({"sync.db_fork": fork})
            if machine is not None and machine.ids:
                # First start on this version (nothing recorded: the card is taken to be on
                # its own board), a new board, or a kind of id that became readable. On the
                # same board the record is merged, not replaced: a kind unreadable at one
                # start must not be forgotten (see Machine.merged_into).
                record = machine.ids if moved is not None or not isinstance(recorded, dict) \
                    else machine.merged_into(recorded)
                if record != recorded:
                    self._write_meta({"sync.machine": record})
        return DbIdentity(value, moved, Fork.load(fork))

    def fork_reported(self) -> None:
        """The sync.db_changed event of the current fork is committed: not again at start."""
        with self._tx():
            fork = self.get("sync.db_fork")
            if isinstance(fork, dict) and not fork.get("reported"):
                self._write_meta({"sync.db_fork": {**fork, "reported": True}})

    def delete_keys(self, keys: list[str]) -> None:
        with self._tx():
            self._conn.executemany("DELETE FROM meta WHERE key=?", [(k,) for k in keys])

    def keys_with_prefix(self, prefix: str) -> list[tuple[str, str]]:
        return self._conn.execute("SELECT key, value FROM meta WHERE key >= ? AND key < ? "
                                  "ORDER BY key", (prefix, prefix + "\uffff")).fetchall()

    def next_session(self) -> int:
        """Bump and persist the connection session counter (one per connect)."""
        with self._tx():
            session = self.get_int("sync.session", 0) + 1
            self._write_meta({"sync.session": session})
        return session

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

    def read_batch(self, from_seq: int, *, site: str, device: str, session: int, floor: int,
                   hist_through: int, max_events: int, max_bytes: int,
                   db: str | None = None, fork: Fork | None = None) -> Batch | None:
        """The longest run of consecutive events from `from_seq` within both bounds.

        One event bigger than max_bytes still goes alone (it cannot be split; the broker's
        message size limit must allow it).
        """
        rows = self._conn.execute(
            "SELECT seq, id, type, ts_ms, mono_ms, boot, clock_synced, data FROM outbox "
            "WHERE seq >= ? ORDER BY seq LIMIT ?", (from_seq, max_events)).fetchall()
        if not rows:
            return None
        head = (f'{{"v":1,"site":{json.dumps(site)},"device":{json.dumps(device)},'
                f'"session":{session},"floor":{floor},'
                + (f'"db":{json.dumps(db)},' if db else "")
                + (f'"prev_db":{json.dumps(fork.prev_db)},"fork_seq":{int(fork.fork_seq)},'
                   if db and fork else "") + '"events":[').encode("utf-8")
        parts: list[bytes] = []
        size = len(head) + 2
        first = int(rows[0][0])
        last = first - 1
        where = f'"site":{_js(site)},"device":{_js(device)}'
        for seq, eid, etype, ts_ms, mono_ms, boot, synced, data in rows:
            if seq != last + 1:
                break  # never skip over a hole within a batch
            if not (isinstance(data, str) and data.startswith("{") and data.endswith("}")):
                data = json.dumps(_load_data(data, seq), ensure_ascii=False, separators=(",", ":"))
            # The envelope of StoredEvent.envelope(), written out directly: this loop is the
            # drain's cost per event. `data` is spliced in as the store wrote it (a JSON
            # object) instead of being parsed and encoded again.
            blob = (f'{{"v":1,"id":{json.dumps(eid)},{where},"seq":{int(seq)},'
                    f'"boot":{_js(boot)},"type":{_js(etype)},"ts":{int(ts_ms)},'
                    f'"mono_ms":{int(mono_ms)},"clock_synced":{"true" if synced else "false"},'
                    f'"hist":{"true" if seq <= hist_through else "false"},"data":{data}}}'
                    ).encode("utf-8")
            if parts and size + len(blob) + 1 > max_bytes:
                break
            parts.append(blob)
            size += len(blob) + 1
            last = int(seq)
        return Batch(first, last, len(parts), head + b",".join(parts) + b"]}")

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


@functools.lru_cache(maxsize=256)
def _js(text: str) -> str:
    """JSON string literal (cached: types, boot ids and names repeat)."""
    return json.dumps(text, ensure_ascii=False)


def _load_data(text: str | None, seq: int) -> dict[str, Any]:
    try:
        data = json.loads(text) if text else {}
    except json.JSONDecodeError:
        logger.error("outbox seq %s: data is not JSON; sending it as a string", seq)
        return {"_raw": text}
    return data if isinstance(data, dict) else {"_value": data}
