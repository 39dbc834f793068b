"""SQLite store of the queue: one transaction per command (or group), events in the outbox.

WAL + synchronous=FULL: a commit is on the card before the visitor gets paper, so after
a power cut no issued ticket is lost and no number is issued twice. The outbox sequence
lives in meta('last_seq') and only grows, even after acked rows are deleted.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any, Iterator, NoReturn

from edge.clock import ClockReading
from edge.errors import StorageError
from edge.queue.bookings import Booking, BookingStatus
from edge.queue.engine import Counter, EngineState, Outcome
from edge.queue.events import StoredEvent
from edge.queue.model import Category, PrintState, Ticket, TicketState, Window, WindowState
from edge.queue.timebase import TimeBase
from edge.storage.checkpoints import FALLBACK_PAGES, WalCheckpointer
from edge.storage.connect import connect
from edge.storage.faults import fix_for, storage_error
from edge.storage.migrations import LATEST, MIGRATIONS
from edge.storage.stages import StageBook, StagePlan
from edge.storage.transaction import roll_back, write_transaction
from edge.storage.vanished import VanishedFiles

logger = logging.getLogger(__name__)

_TICKET_COLS = ("id", "day", "service", "number", "label", "category", "state", "visit",
                "arrival", "tier", "window", "recalls", "issued_ms", "queued_ms", "called_ms",
                "serving_ms", "finished_ms", "origin_service", "booking", "print_state",
                "printer", "extra", "token")
_FINAL = ("done", "no_show", "voided")
_UNSET = object()
# An upsert, not INSERT OR REPLACE: REPLACE deletes and re-inserts the row, touching every
# index twice; an update in place writes fewer pages per command. `day` is left out of the
# update (a ticket keeps the day it was issued on): SQLite rewrites the entry of every index
# whose column is in the SET list, changed or not, and tickets_day is one more page.
# `token` is left out too: it is set at issue and never changes.
_TICKET_UPSERT = (f"INSERT INTO tickets ({', '.join(_TICKET_COLS)}) "
                  f"VALUES ({', '.join('?' * len(_TICKET_COLS))}) ON CONFLICT(id) DO UPDATE SET "
                  + ", ".join(f"{c}=excluded.{c}" for c in _TICKET_COLS[2:-1]))
_BOOKING_COLS = ("code", "service", "day", "slot_start", "slot_minutes", "status", "version",
                 "iin_hmac", "site", "rebooked_to", "ticket_id", "checked_in_ms")
# Bookings of earlier days stay in the file; memory keeps this many days back (to say
# "your booking was for ..." at the kiosk) and everything ahead.
BOOKING_DAYS_BACK = 14


def _backup(conn: sqlite3.Connection, path: Path, version: int) -> Path:
    backups = path.parent / "backups"
    backups.mkdir(parents=True, exist_ok=True)
    target = backups / f"{path.stem}-v{version}-{time.strftime('%Y%m%dT%H%M%S')}.db"
    dest = sqlite3.connect(str(target))
    try:
        conn.backup(dest)
    finally:
        dest.close()
    return target


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the schema to LATEST; back up first when upgrading an existing database."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > LATEST:
        raise StorageError(
            f"{path}: database schema v{version} is newer than this kezek (knows v{LATEST}); "
            "install the newer kezek again, or restore a backup from "
            f"{path.parent / 'backups'}")
    if version == LATEST:
        return version
    if version > 0:
        saved = _backup(conn, path, version)
        logger.warning("upgrading %s from schema v%d to v%d; backup at %s", path, version, LATEST, saved)
    for target in range(version + 1, LATEST + 1):
        # A full card mid-migration must say "disk is full" (and exit 75, retried), not
        # "cannot rollback" from a ROLLBACK after SQLite rolled back by itself.
        with write_transaction(conn):
            for stmt in MIGRATIONS[target - 1]:
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version={target}")
    return LATEST


def _check_not_damaged(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a damaged file at start (a power cut during a bad write, a failing card).

    Pages that the start does not read (old tickets, the outbox) would otherwise fail
    only later, in a visitor's commit or in the middle of a sync. quick_check reads every
    page once: well under a second for the few MB a center's database holds.
    """
    result = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
    if result != ["ok"]:
        raise StorageError(f"{path}: the queue database is damaged ({'; '.join(result[:2])}); "
                           f"fix: {fix_for('corrupt', path)}", "corrupt")


class QueueStore:
    """The queue database. Only the controller's loop writes through it."""

    def __init__(self, path: Path, *, rescue_dir: Path | None = None) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = connect(self.path)
        except (sqlite3.Error, OSError) as e:
            raise storage_error(e, self.path, "cannot open the queue database") from None
        try:
            _check_not_damaged(self.conn, self.path)
            migrate(self.conn, self.path)
        except StorageError:
            self.conn.close()
            raise
        except (sqlite3.Error, OSError) as e:
            self.conn.close()
            raise storage_error(e, self.path, "cannot open the queue database") from None
        # The value last written per meta key; a key whose value did not change is not
        # rewritten (values are copied: the engine hands over dicts it may change later).
        self._meta_values: dict[str, Any] = {}
        row = self.conn.execute("SELECT value FROM meta WHERE key='last_seq'").fetchone()
        self._last_seq = int(row[0]) if row else 0
        # Inside a transaction of several outcomes: what it has numbered and written so far.
        self._pending_seq = self._last_seq
        self._pending_meta: dict[str, Any] = {}
        self._checkpointer: WalCheckpointer | None = None
        # The visit stages of live tickets (the manager's figures), derived from the events.
        self.stages = StageBook(self.conn)
        self._stages_stale = False
        # Which files this process has open: a deleted one is found by check_files().
        self._vanished = VanishedFiles(self.path, self.conn, rescue_dir)

    def check_files(self) -> StorageError | None:
        """None while the database's files on the card are the ones this process writes;
        else the fault (after saving what it can, see edge/storage/vanished.py). Three stat
        calls while all is well: cheap enough for every second, not needed per command."""
        return self._vanished.check()

    @property
    def restart_needed(self) -> bool:
        """Everything committed is back in the file at `path`: a restart continues with it."""
        return self._vanished.saved_in_place

    def start_background_checkpoints(self, **options: Any) -> WalCheckpointer:
        """Fold the WAL back on another thread, not inside a command's commit (see
        edge/storage/checkpoints.py). The running service does this; tools need not."""
        if self._checkpointer is None:
            self.conn.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")
            self._checkpointer = WalCheckpointer(self.path, connect, **options)
            self._checkpointer.start()
        return self._checkpointer

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.conn.close()

    def __enter__(self) -> "QueueStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def last_seq(self) -> int:
        return self._last_seq

    # -- load -----------------------------------------------------------------------
    def meta(self, key: str) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def load(self) -> EngineState:
        st = EngineState()
        st.day = self.meta("day") or ""
        st.next_ticket_id = self.meta("next_ticket_id") or 1
        st.next_arrival = self.meta("next_arrival") or 1
        tb = self.meta("time")
        st.time = TimeBase(**tb) if tb else None
        st.alarms = self.meta("alarms") or {}
        st.devices = self.meta("devices") or {}
        q = (f"SELECT {', '.join(_TICKET_COLS)} FROM tickets "
             f"WHERE day = ? OR state NOT IN {_FINAL}")
        for row in self.conn.execute(q, (st.day,)):
            t = _ticket_from_row(row)
            st.tickets[t.id] = t
        for number, state, tid, last_id, last_ms, operator in self.conn.execute(
                "SELECT number, state, ticket_id, last_done_ticket_id, last_done_ms, operator "
                "FROM windows"):
            st.windows[number] = Window(number=number, label=str(number), weights={},
                                        state=WindowState(state), ticket_id=tid,
                                        last_done_ticket_id=last_id, last_done_mono_ms=last_ms,
                                        operator=operator)
        for service, day, last in self.conn.execute("SELECT service, day, last_number FROM counters"):
            st.counters[service] = Counter(day, last)
        st.bookings_version = self.meta("bookings_version") or 0
        q = (f"SELECT {', '.join(_BOOKING_COLS)} FROM bookings "
             f"WHERE ? = '' OR day >= date(?, '-{BOOKING_DAYS_BACK} day')")
        for row in self.conn.execute(q, (st.day, st.day)):
            b = _booking_from_row(row)
            st.bookings[b.code] = b
        return st

    # -- write ----------------------------------------------------------------------
    def commit(self, outcome: Outcome, reading: ClockReading) -> list[StoredEvent]:
        """Write one outcome atomically; returns its events with their sequence numbers."""
        self.begin()
        stored = self.write(outcome, reading)
        self.finish()
        return stored

    # One transaction may hold several outcomes (the controller's group commit): begin(),
    # write() each, finish(). Any failure rolls the whole transaction back and raises;
    # nothing of it is kept, in the file or in what this object remembers.
    def begin(self) -> None:
        """Open the write transaction that write() fills and finish() commits."""
        if self._vanished.error is not None:
            # What would be committed now goes into a deleted file: lost at the next start.
            raise self._vanished.error
        self._pending_seq = self._last_seq
        self._pending_meta = {}
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            if self._stages_stale:
                # A transaction failed after its stages were noted: back to the file's.
                self.stages = StageBook(self.conn)
                self._stages_stale = False
        except BaseException as e:
            self._failed(e)

    def write(self, outcome: Outcome, reading: ClockReading) -> list[StoredEvent]:
        """Add one outcome to the open transaction; returns its events, numbered."""
        conn = self.conn
        stored: list[StoredEvent] = []
        seq = self._pending_seq
        stage_plan = self._stage_plan(outcome)
        try:
            if outcome.tickets:
                conn.executemany(_TICKET_UPSERT, [_ticket_row(t) for t in outcome.tickets.values()])
            if outcome.redated:
                conn.executemany("UPDATE tickets SET day = ? WHERE id = ?",
                                 [(outcome.tickets[i].day, i) for i in outcome.redated])
            if outcome.windows:
                conn.executemany(
                    "INSERT OR REPLACE INTO windows (number, state, ticket_id, last_done_ticket_id, "
                    "last_done_ms, operator) VALUES (?, ?, ?, ?, ?, ?)",
                    [(w.number, w.state.value, w.ticket_id, w.last_done_ticket_id,
                      w.last_done_mono_ms, w.operator) for w in outcome.windows.values()])
            if outcome.counters:
                conn.executemany(
                    "INSERT OR REPLACE INTO counters (service, day, last_number) VALUES (?, ?, ?)",
                    [(s, ctr.day, ctr.last) for s, ctr in outcome.counters.items()])
            if outcome.bookings:
                conn.executemany(
                    f"INSERT OR REPLACE INTO bookings ({', '.join(_BOOKING_COLS)}) "
                    f"VALUES ({', '.join('?' * len(_BOOKING_COLS))})",
                    [_booking_row(b) for b in outcome.bookings.values()])
            if outcome.events:
                rows_out = []
                for ev in outcome.events:
                    seq += 1
                    se = StoredEvent(seq=seq, id=str(uuid.uuid4()), type=ev.type,
                                     ts_ms=outcome.now_ms, mono_ms=reading.mono_ms,
                                     boot=reading.boot, clock_synced=reading.synced, data=ev.data)
                    rows_out.append((se.seq, se.id, se.type, se.ts_ms, se.mono_ms, se.boot,
                                     int(se.clock_synced), se.data_json()))
                    stored.append(se)
                conn.executemany(
                    "INSERT INTO outbox (seq, id, type, ts_ms, mono_ms, boot, clock_synced, data) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows_out)
            if stage_plan is not None and not stage_plan.is_empty:
                self.stages.write(stage_plan)
            meta = dict(outcome.meta)
            if stored:
                meta["last_seq"] = seq
            # Only what changed: fewer rows written per command on the SD card.
            # Compare the values first (cheap), encode only what differs.
            known = self._pending_meta
            rows = [(k, _meta_json(v)) for k, v in meta.items()
                    if known.get(k, self._meta_values.get(k, _UNSET)) != v]
            if rows:
                conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", rows)
        except BaseException as e:
            self._failed(e)
        for k, _ in rows:
            v = meta[k]
            # Dicts (alarms, devices) are the engine's and may change in place later (in a
            # group, before the commit); ints, strings and frozen dataclasses cannot.
            known[k] = copy.deepcopy(v) if isinstance(v, (dict, list)) else v
        self._pending_seq = seq
        if stage_plan is not None:
            # What this transaction has written already: the next outcome in it reads it.
            # A failure before the commit rebuilds the book from the file (_failed).
            self.stages.committed(stage_plan)
        return stored

    def finish(self) -> None:
        """Commit the open transaction: everything write() added is on the card."""
        try:
            self.conn.execute("COMMIT")
        except BaseException as e:
            self._failed(e)
        self._meta_values.update(self._pending_meta)
        self._pending_meta = {}
        self._last_seq = self._pending_seq
        if self._checkpointer is not None:
            self._checkpointer.note_commit()

    def _failed(self, e: BaseException) -> NoReturn:
        # SQLite may have rolled back by itself (a full disk, an I/O error) or never
        # begun (a read-only file system): the real fault is the one raised.
        roll_back(self.conn)
        self._stages_stale = True
        self._pending_meta = {}
        self._pending_seq = self._last_seq
        if isinstance(e, sqlite3.Error):
            raise storage_error(e, self.path, "cannot save the command") from None
        raise e

    def _stage_plan(self, outcome: Outcome) -> StagePlan | None:
        if not outcome.events:
            return None
        try:
            return self.stages.plan(outcome)
        except Exception:
            # The manager's figures are not worth a refused ticket: the queue goes on and
            # this command's stage rows are missing (said loudly, with the traceback).
            logger.exception("visit stages: cannot derive this command's rows; the queue "
                             "goes on, the day's figures miss them")
            return None

    # -- reads for tests, sync and tools ---------------------------------------------
    def outbox(self, after_seq: int = 0, limit: int = 1_000_000) -> list[StoredEvent]:
        rows = self.conn.execute(
            "SELECT seq, id, type, ts_ms, mono_ms, boot, clock_synced, data FROM outbox "
            "WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit))
        return [StoredEvent(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), json.loads(r[7]))
                for r in rows]

    def tickets(self, day: str | None = None) -> Iterator[Ticket]:
        q = f"SELECT {', '.join(_TICKET_COLS)} FROM tickets"
        rows = self.conn.execute(q + " WHERE day = ? ORDER BY id", (day,)) if day else \
            self.conn.execute(q + " ORDER BY id")
        for row in rows:
            yield _ticket_from_row(row)


def _meta_json(v: Any) -> str:
    if type(v) is int:  # the counters written by every command; str() is their JSON
        return str(v)
    if isinstance(v, TimeBase):  # written by every command: skip asdict's deep copy
        v = {"eff_ms": v.eff_ms, "mono_ms": v.mono_ms, "boot": v.boot,
             "wall_offset_ms": v.wall_offset_ms}
    elif dataclasses.is_dataclass(v) and not isinstance(v, type):
        v = dataclasses.asdict(v)
    return json.dumps(v, ensure_ascii=False)


def _ticket_row(t: Ticket) -> tuple[Any, ...]:
    return (t.id, t.day, t.service, t.number, t.label, t.category.value, t.state.value, t.visit,
            t.arrival, t.tier, t.window, t.recalls, t.issued_ms, t.queued_ms, t.called_ms,
            t.serving_ms, t.finished_ms, t.origin_service, t.booking, t.print_state.value,
            t.printer,
            json.dumps(t.extra, ensure_ascii=False, sort_keys=True) if t.extra else "{}",
            t.token)


def _booking_row(b: Booking) -> tuple[Any, ...]:
    return (b.code, b.service, b.day, b.slot_start, b.slot_minutes, b.status.value, b.version,
            b.iin_hmac, b.site, b.rebooked_to, b.ticket_id, b.checked_in_ms)


def _booking_from_row(r: tuple[Any, ...]) -> Booking:
    d = dict(zip(_BOOKING_COLS, r))
    d["status"] = BookingStatus(d["status"])
    return Booking(**d)


def _ticket_from_row(r: tuple[Any, ...]) -> Ticket:
    d = dict(zip(_TICKET_COLS, r))
    d["category"] = Category(d["category"])
    d["state"] = TicketState(d["state"])
    d["print_state"] = PrintState(d["print_state"])
    d["extra"] = json.loads(d["extra"])
    return Ticket(**d)
