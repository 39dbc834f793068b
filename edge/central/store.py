"""The reference central's SQLite store: events kept once per (site, device, seq).

`store_batch` inserts a batch idempotently in one transaction and returns the newest seq
below which every event is stored (the ack). Several central processes may share the
file (WAL; BEGIN IMMEDIATE serialises writers), which is what a shared subscription
needs: batches of one device may reach different instances in any order.

Streams: an edge names its database (`db`, a uuid made once per database). A device whose
database was replaced (a new SD card: seq starts again at 1) gets a new stream, stored
under the key `<device>~2`, `~3`... in the `device` column of every table, so its events
sit beside the old ones instead of clashing with them. An event whose (stream, seq) is
stored with another id is a conflict: it is kept whole in `conflicts`, never dropped.

Forks: an SD card moved to (or copied onto) another board gets a new `db` there and names
the old one (`prev_db`) and the newest seq it held then (`fork_seq`). Its events up to that
seq may also come under the old `db` (from the other box, or sent before the move) with
the same event `id`. Streams that share seqs this way are twins up to the lowest
`fork_seq` between them: an event a twin already holds under the same (seq, id) is not
stored again but noted in `copies` (where it is stored), and counts as held for the ack.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from edge.storage.transaction import write_transaction
from edge.sync.protocol import EventBatch

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    site TEXT NOT NULL, device TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,
    type TEXT NOT NULL, ts INTEGER NOT NULL, mono_ms INTEGER NOT NULL, boot TEXT NOT NULL,
    clock_synced INTEGER NOT NULL, hist INTEGER NOT NULL, data TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (site, device, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS devices (
    site TEXT NOT NULL, device TEXT NOT NULL, contiguous INTEGER NOT NULL DEFAULT 0,
    stored INTEGER NOT NULL DEFAULT 0, duplicates INTEGER NOT NULL DEFAULT 0,
    conflicts INTEGER NOT NULL DEFAULT 0, last_seen_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, device));
CREATE TABLE IF NOT EXISTS gaps (
    site TEXT NOT NULL, device TEXT NOT NULL, from_seq INTEGER NOT NULL,
    to_seq INTEGER NOT NULL, reason TEXT NOT NULL, received_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS conflicts (
    site TEXT NOT NULL, device TEXT NOT NULL, seq INTEGER NOT NULL, stored_id TEXT NOT NULL,
    new_id TEXT NOT NULL, received_ms INTEGER NOT NULL);
-- The "stored once" check of every conflicting event: without it each check scans the
-- whole table, and a restored edge resending 60,000 seqs held the write lock for seconds.
CREATE INDEX IF NOT EXISTS conflicts_key ON conflicts(site, device, seq, new_id);
CREATE TABLE IF NOT EXISTS streams (
    site TEXT NOT NULL, device TEXT NOT NULL, db TEXT NOT NULL, key TEXT NOT NULL,
    since_ms INTEGER NOT NULL, PRIMARY KEY (site, device, db));
-- Events of a stream stored under a twin stream (see Forks above): (stream, seq) -> where.
CREATE TABLE IF NOT EXISTS copies (
    site TEXT NOT NULL, device TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,
    stored_in TEXT NOT NULL, received_ms INTEGER NOT NULL,
    PRIMARY KEY (site, device, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS health (
    site TEXT NOT NULL, device TEXT NOT NULL, payload TEXT NOT NULL,
    received_ms INTEGER NOT NULL, PRIMARY KEY (site, device));
CREATE TABLE IF NOT EXISTS states (
    site TEXT NOT NULL, device TEXT NOT NULL, online INTEGER NOT NULL, session INTEGER NOT NULL,
    received_ms INTEGER NOT NULL, PRIMARY KEY (site, device));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Columns added after the first release: (table, column, declaration). A file made by an
# older central gets them at open; old rows keep NULL.
ADDED_COLUMNS = [
    ("conflicts", "type", "TEXT"), ("conflicts", "ts", "INTEGER"),
    ("conflicts", "mono_ms", "INTEGER"), ("conflicts", "boot", "TEXT"),
    ("conflicts", "clock_synced", "INTEGER"), ("conflicts", "hist", "INTEGER"),
    ("conflicts", "data", "TEXT"), ("states", "db", "TEXT"),
    ("streams", "parent_db", "TEXT"), ("streams", "fork_seq", "INTEGER"),
    ("devices", "copies", "INTEGER NOT NULL DEFAULT 0"),
]
INF = 1 << 62   # "shares every seq": one database under two device names


@dataclass(frozen=True)
class StoreResult:
    acked_seq: int
    inserted: int
    duplicates: int
    conflicts: int
    resend_from: int | None   # set when this batch starts beyond a gap
    copies: int = 0           # events a twin stream already holds (see Forks)


# pydantic-core writes compact UTF-8 JSON (what json.dumps(ensure_ascii=False,
# separators=(",", ":")) writes) about 4x faster: one call per stored event.
_DATA = TypeAdapter(dict[str, Any])


def _data_json(data: dict[str, Any]) -> str:
    return _DATA.dump_json(data).decode("utf-8")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class CentralStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), timeout=10.0, isolation_level=None,
                                     check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.executescript(SCHEMA)
        for table, column, decl in ADDED_COLUMNS:
            have = {r[1] for r in self._conn.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                try:
                    self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
                except sqlite3.OperationalError as e:  # another instance added it first
                    if "duplicate column" not in str(e):
                        raise

    def close(self) -> None:
        self._conn.close()

    def next_session(self) -> int:
        c = self._conn
        with write_transaction(c):
            row = c.execute("SELECT value FROM meta WHERE key='session'").fetchone()
            session = (int(row[0]) if row else 0) + 1
            c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('session', ?)",
                      (str(session),))
        return session

    def store_batch(self, batch: EventBatch) -> StoreResult:
        """Insert what is new, in one transaction; the result's acked_seq is committed."""
        c = self._conn
        site = batch.site
        now = _now_ms()
        inserted = duplicates = conflicts = copies = 0
        # A failure (a full disk, a COMMIT refused busy) stores nothing of the batch, and
        # is raised as it is: no ack goes out, the edge sends the batch again.
        with write_transaction(c):
            device = self._stream(site, batch.device, batch.db, now, batch.prev_db,
                                  batch.fork_seq)
            twins = self._twins(site, device)
            c.execute("INSERT OR IGNORE INTO devices(site, device) VALUES (?, ?)", (site, device))
            contiguous = c.execute("SELECT contiguous FROM devices WHERE site=? AND device=?",
                                   (site, device)).fetchone()[0]
            # What is already stored in the whole range of the batch (a resend after a lost
            # ack, or another database's events under the same seqs), in one query; ids
            # are compared below the contiguous mark too, else a replaced database's
            # events would pass for duplicates and be acked without being stored.
            lo, hi = batch.events[0].seq, batch.events[-1].seq
            stored_ids: dict[int, str] = {seq: eid for seq, eid, _ in
                                          self._held(site, device, lo, hi)}
            # What twin streams hold of this range (seq -> id -> the stream storing it).
            in_twins: dict[int, dict[str, str]] = {}
            for key, shared in twins:
                for seq, eid, where in self._held(site, key, lo, min(hi, shared)):
                    in_twins.setdefault(seq, {}).setdefault(eid, where)
            fresh = batch.events
            copied = [(ev, in_twins[ev.seq][ev.id]) for ev in fresh
                      if ev.seq not in stored_ids and ev.id in in_twins.get(ev.seq, {})]
            if copied:
                c.executemany("INSERT OR IGNORE INTO copies VALUES (?,?,?,?,?,?)",
                              [(site, device, ev.seq, ev.id, where, now)
                               for ev, where in copied])
                copies = len(copied)
                for ev, _ in copied:
                    stored_ids[ev.seq] = ev.id
                fresh = [ev for ev in fresh if ev.seq not in {e.seq for e, _ in copied}]
            new = [ev for ev in fresh if ev.seq not in stored_ids]
            before = c.total_changes
            c.executemany(  # OR IGNORE: a batch repeating a seq of its own stores it once
                "INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(site, device, ev.seq, ev.id, ev.type, ev.ts, ev.mono_ms, ev.boot,
                  int(ev.clock_synced), int(ev.hist), _data_json(ev.data), now)
                 for ev in new])
            inserted = c.total_changes - before
            for ev in fresh:
                stored_id = stored_ids.get(ev.seq)
                if stored_id is None:
                    continue
                if stored_id == ev.id:
                    duplicates += 1
                else:
                    # Same seq, another event: a database replaced without a new `db`
                    # (an old edge, a restored backup). Keep the first in `events` and
                    # this one whole in `conflicts` (once, however often it is resent), so
                    # that the ack covering it deletes nothing central does not hold.
                    conflicts += 1
                    c.execute(
                        "INSERT INTO conflicts(site, device, seq, stored_id, new_id, "
                        "received_ms, type, ts, mono_ms, boot, clock_synced, hist, data) "
                        "SELECT ?,?,?,?,?,?,?,?,?,?,?,?,? WHERE NOT EXISTS (SELECT 1 FROM "
                        "conflicts WHERE site=? AND device=? AND seq=? AND new_id=?)",
                        (site, device, ev.seq, stored_id, ev.id, now, ev.type, ev.ts,
                         ev.mono_ms, ev.boot, int(ev.clock_synced), int(ev.hist),
                         _data_json(ev.data), site, device, ev.seq, ev.id))
            if batch.floor > contiguous:
                # The edge holds nothing at or below floor any more: what we lack there is
                # gone for good (dropped at the edge's outbox cap, or acked to another store).
                # A forked stream starts at the card's floor: below it, its twins hold
                # the events (acked to the card under its earlier `db`).
                missing = batch.floor - contiguous - self._count_held(
                    site, [(device, INF)] + twins, contiguous, batch.floor)
                if missing:
                    c.execute("INSERT INTO gaps VALUES (?,?,?,?,?,?)",
                              (site, device, contiguous + 1, batch.floor,
                               f"{missing} events no longer held by the edge", now))
                contiguous = batch.floor
            if batch.events[0].seq <= contiguous + 1:
                # Every seq of this consecutive batch is stored now (new, or there already):
                # no need to read them back to move the contiguous mark over them.
                contiguous = max(contiguous, batch.events[-1].seq)
            contiguous = self._advance(site, device, contiguous)
            c.execute("UPDATE devices SET contiguous=?, stored=stored+?, duplicates=duplicates+?,"
                      " conflicts=conflicts+?, copies=copies+?, last_seen_ms=? "
                      "WHERE site=? AND device=?",
                      (contiguous, inserted, duplicates, conflicts, copies, now, site, device))
        first = batch.events[0].seq
        resend = contiguous + 1 if first > contiguous + 1 else None
        return StoreResult(contiguous, inserted, duplicates, conflicts, resend, copies)

    def _held(self, site: str, key: str, lo: int, hi: int) -> list[tuple[int, str, str]]:
        """(seq, id, stream storing it) of what stream `key` holds in lo..hi."""
        if hi < lo:
            return []
        return self._conn.execute(
            "SELECT seq, id, device FROM events WHERE site=? AND device=? AND seq BETWEEN ? AND ?"
            " UNION ALL SELECT seq, id, stored_in FROM copies WHERE site=? AND device=? AND "
            "seq BETWEEN ? AND ?", (site, key, lo, hi, site, key, lo, hi)).fetchall()

    def _count_held(self, site: str, streams: list[tuple[str, int]], after: int,
                    through: int) -> int:
        """How many seqs in (after, through] any of `streams` (key, up to seq) holds."""
        parts, args = [], []
        for key, shared in streams:
            top = min(through, shared)
            if top <= after:
                continue
            for table in ("events", "copies"):
                parts.append(f"SELECT seq FROM {table} WHERE site=? AND device=? AND seq>? "
                             "AND seq<=?")
                args += [site, key, after, top]
        if not parts:
            return 0
        return int(self._conn.execute(f"SELECT COUNT(*) FROM ({' UNION '.join(parts)})",
                                      args).fetchone()[0])

    def _twins(self, site: str, key: str) -> list[tuple[str, int]]:
        """Streams sharing seqs with stream `key`: (their key, up to which seq).

        Two streams of one database (a device renamed) share every seq; a card's stream
        and the one it forked into (`prev_db`) share seqs up to `fork_seq`. Over several
        forks the narrowest link on the way counts (a widest-path search over the site's
        few streams).
        """
        rows = self._conn.execute(
            "SELECT key, db, parent_db, fork_seq FROM streams WHERE site=?", (site,)).fetchall()
        if len(rows) < 2:
            return []
        links: dict[str, list[tuple[str, int]]] = {r[0]: [] for r in rows}
        for k1, db1, parent1, fork1 in rows:
            for k2, db2, _, _ in rows:
                if k1 == k2:
                    continue
                if db1 == db2:
                    links[k1].append((k2, INF))
                elif parent1 is not None and parent1 == db2:
                    links[k1].append((k2, int(fork1 or 0)))
                    links[k2].append((k1, int(fork1 or 0)))
        if not links.get(key):
            return []
        best: dict[str, int] = {key: INF}
        todo = [key]
        while todo:
            here = todo.pop()
            for there, width in links[here]:
                w = min(best[here], width)
                if w > best.get(there, 0):
                    best[there] = w
                    todo.append(there)
        return [(k, w) for k, w in best.items() if k != key and w > 0]

    def _stream(self, site: str, device: str, db: str | None, now: int,
                prev_db: str | None = None, fork_seq: int | None = None) -> str:
        """The `device` key under which this database's events are stored."""
        if db is None:
            return device  # an edge that does not name its database: one stream
        c = self._conn
        row = c.execute("SELECT key FROM streams WHERE site=? AND device=? AND db=?",
                        (site, device, db)).fetchone()
        if row is not None:
            if prev_db is not None:   # a stream made before its fork was known
                c.execute("UPDATE streams SET parent_db=?, fork_seq=? WHERE site=? AND device=? "
                          "AND db=? AND parent_db IS NULL", (prev_db, fork_seq or 0, site, device,
                                                             db))
            return str(row[0])
        known = c.execute("SELECT COUNT(*) FROM streams WHERE site=? AND device=?",
                          (site, device)).fetchone()[0]
        # The first database named for a device continues its stream (the events an
        # older edge sent without `db` came from it); a later one is a replacement.
        key = device if known == 0 else f"{device}~{known + 1}"
        if known:
            logger.warning("central: %s/%s sends from a new database %s%s: its events are "
                           "kept as the stream %s", site, device, db,
                           f" (its SD card came from database {prev_db}, up to seq {fork_seq})"
                           if prev_db else "", key)
        c.execute("INSERT INTO streams(site, device, db, key, since_ms, parent_db, fork_seq) "
                  "VALUES (?,?,?,?,?,?,?)", (site, device, db, key, now, prev_db,
                                             fork_seq if prev_db else None))
        return key

    def streams(self, site: str, device: str) -> list[tuple[str, str]]:
        """(db, key) of every database a device has sent from, oldest first."""
        return [(r[0], r[1]) for r in self._conn.execute(
            "SELECT db, key FROM streams WHERE site=? AND device=? ORDER BY since_ms, rowid",
            (site, device))]

    def conflicts(self, site: str, device: str) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT seq, stored_id, new_id, type, data FROM conflicts WHERE site=? AND "
            "device=? ORDER BY seq, rowid", (site, device)).fetchall()
        return [{"seq": r[0], "stored_id": r[1], "new_id": r[2], "type": r[3],
                 "data": json.loads(r[4]) if r[4] else None} for r in rows]

    def _advance(self, site: str, device: str, contiguous: int) -> int:
        while True:
            rows = self._conn.execute(
                "SELECT seq FROM events WHERE site=? AND device=? AND seq>? UNION "
                "SELECT seq FROM copies WHERE site=? AND device=? AND seq>? ORDER BY seq "
                "LIMIT 1000", (site, device, contiguous, site, device, contiguous)).fetchall()
            for (seq,) in rows:
                if seq != contiguous + 1:
                    return contiguous
                contiguous = seq
            if len(rows) < 1000:
                return contiguous

    def put_health(self, site: str, device: str, payload: dict[str, Any]) -> None:
        self._conn.execute("INSERT OR REPLACE INTO health VALUES (?,?,?,?)",
                           (site, device, json.dumps(payload, ensure_ascii=False), _now_ms()))

    def put_state(self, site: str, device: str, online: bool, session: int,
                  db: str | None = None) -> None:
        # A will from an older session must not overwrite a newer birth. The session
        # counter lives in the edge's database, so a replaced database starts again at 1:
        # a birth naming another database wins whatever its session, while a will from
        # another database (the old card's, late) changes nothing.
        self._conn.execute(
            "INSERT INTO states(site, device, online, session, received_ms, db) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT(site, device) DO UPDATE SET "
            "online=excluded.online, session=excluded.session, received_ms=excluded.received_ms, "
            "db=coalesce(excluded.db, states.db) "
            "WHERE (excluded.session >= states.session AND (excluded.db IS NULL "
            "OR states.db IS NULL OR excluded.db = states.db)) "
            "OR (excluded.online AND excluded.db IS NOT NULL AND excluded.db IS NOT states.db)",
            (site, device, int(online), session, _now_ms(), db))

    # -- reading --------------------------------------------------------------------
    def events(self, site: str, device: str) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT seq, id, type, ts, mono_ms, boot, clock_synced, hist, data FROM events "
            "WHERE site=? AND device=? ORDER BY seq", (site, device)).fetchall()
        return [{"seq": r[0], "id": r[1], "type": r[2], "ts": r[3], "mono_ms": r[4],
                 "boot": r[5], "clock_synced": bool(r[6]), "hist": bool(r[7]),
                 "data": json.loads(r[8])} for r in rows]

    def device_events(self, site: str, device: str) -> list[dict[str, Any]]:
        """Every event of a device over all its streams, each once (copies are not events),
        with the stream key it is stored under as `stream`."""
        out = []
        for _, key in self.streams(site, device) or [("", device)]:
            out += [{**e, "stream": key} for e in self.events(site, key)]
        return out

    def copies(self, site: str, key: str) -> list[tuple[int, str, str]]:
        """(seq, id, stored_in) of the events stream `key` sent that a twin already held."""
        return [tuple(r) for r in self._conn.execute(
            "SELECT seq, id, stored_in FROM copies WHERE site=? AND device=? ORDER BY seq",
            (site, key))]

    def device(self, site: str, device: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT contiguous, stored, duplicates, conflicts, last_seen_ms, copies FROM devices "
            "WHERE site=? AND device=?", (site, device)).fetchone()
        if row is None:
            return None
        return dict(zip(("contiguous", "stored", "duplicates", "conflicts", "last_seen_ms",
                         "copies"), row))

    def gaps(self, site: str, device: str) -> list[tuple[int, int, str]]:
        return [tuple(r) for r in self._conn.execute(
            "SELECT from_seq, to_seq, reason FROM gaps WHERE site=? AND device=? ORDER BY from_seq",
            (site, device))]

    def summary(self) -> list[dict[str, Any]]:
        """One row per site: devices online, waiting, serving, alarms, events stored."""
        sites: dict[str, dict[str, Any]] = {}

        def row(site: str) -> dict[str, Any]:
            return sites.setdefault(site, {"site": site, "devices": 0, "online": 0, "waiting": 0,
                                           "serving": 0, "alarms": [], "stored": 0,
                                           "contiguous": {}, "health_age_s": None})

        for site, device, contiguous, stored in self._conn.execute(
                "SELECT site, device, contiguous, stored FROM devices"):
            r = row(site)
            r["stored"] += stored
            r["contiguous"][device] = contiguous
        for site, device, online in self._conn.execute("SELECT site, device, online FROM states"):
            r = row(site)
            r["devices"] += 1
            r["online"] += int(online)
        now = _now_ms()
        for site, device, payload, received in self._conn.execute(
                "SELECT site, device, payload, received_ms FROM health"):
            r = row(site)
            try:
                s = json.loads(payload).get("summary", {})
                r["waiting"] += int(s.get("waiting", 0))
                r["serving"] += int(s.get("serving", 0))
                r["alarms"].extend(f"{device}:{a}" for a in s.get("alarms", []))
            except (ValueError, AttributeError, TypeError):
                r["alarms"].append(f"{device}:bad-health")
            age = (now - received) / 1000
            r["health_age_s"] = age if r["health_age_s"] is None else max(age, r["health_age_s"])
        return [sites[k] for k in sorted(sites)]


def format_summary(rows: list[dict[str, Any]]) -> str:
    """The live per-site table `kezek central run` prints."""
    lines = [f"{'site':<20} {'online':>7} {'waiting':>8} {'serving':>8} {'events':>9}  alarms"]
    for r in rows:
        online = f"{r['online']}/{r['devices']}"
        alarms = ", ".join(r["alarms"]) or "-"
        lines.append(f"{r['site']:<20} {online:>7} {r['waiting']:>8} {r['serving']:>8} "
                     f"{r['stored']:>9}  {alarms}")
    if not rows:
        lines.append("(no site has reported yet)")
    return "\n".join(lines)
