"""The reference central's SQLite store: events kept once per (site, device, seq).

`store_batch` inserts a batch idempotently in one transaction and returns the newest seq
below which every event is stored (the ack). Several central processes may share the
file (WAL; BEGIN IMMEDIATE serialises writers), which is what a shared subscription
needs: batches of one device may reach different instances in any order.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from edge.sync.protocol import EventBatch

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
CREATE TABLE IF NOT EXISTS health (
    site TEXT NOT NULL, device TEXT NOT NULL, payload TEXT NOT NULL,
    received_ms INTEGER NOT NULL, PRIMARY KEY (site, device));
CREATE TABLE IF NOT EXISTS states (
    site TEXT NOT NULL, device TEXT NOT NULL, online INTEGER NOT NULL, session INTEGER NOT NULL,
    received_ms INTEGER NOT NULL, PRIMARY KEY (site, device));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class StoreResult:
    acked_seq: int
    inserted: int
    duplicates: int
    conflicts: int
    resend_from: int | None   # set when this batch starts beyond a gap


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

    def close(self) -> None:
        self._conn.close()

    def next_session(self) -> int:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            row = c.execute("SELECT value FROM meta WHERE key='session'").fetchone()
            session = (int(row[0]) if row else 0) + 1
            c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('session', ?)",
                      (str(session),))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return session

    def store_batch(self, batch: EventBatch) -> StoreResult:
        """Insert what is new, in one transaction; the result's acked_seq is committed."""
        c = self._conn
        site, device = batch.site, batch.device
        now = _now_ms()
        inserted = duplicates = conflicts = 0
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute("INSERT OR IGNORE INTO devices(site, device) VALUES (?, ?)", (site, device))
            contiguous = c.execute("SELECT contiguous FROM devices WHERE site=? AND device=?",
                                   (site, device)).fetchone()[0]
            fresh = [ev for ev in batch.events if ev.seq > contiguous]
            duplicates += len(batch.events) - len(fresh)
            # What is already stored in the batch's range (a resend after a lost ack),
            # in one query; the rest goes in with one statement.
            stored_ids: dict[int, str] = {}
            if fresh:
                stored_ids = dict(c.execute(
                    "SELECT seq, id FROM events WHERE site=? AND device=? AND seq BETWEEN ? AND ?",
                    (site, device, min(ev.seq for ev in fresh), max(ev.seq for ev in fresh))))
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
                    # Same seq, another event: the edge's database was replaced. Keep the
                    # first, record the clash for people to look at.
                    conflicts += 1
                    c.execute("INSERT INTO conflicts VALUES (?,?,?,?,?,?)",
                              (site, device, ev.seq, stored_id, ev.id, now))
            if batch.floor > contiguous:
                # The edge holds nothing at or below floor any more: what we lack there is
                # gone for good (dropped at the edge's outbox cap, or acked to another store).
                missing = batch.floor - contiguous - c.execute(
                    "SELECT COUNT(*) FROM events WHERE site=? AND device=? AND seq>? AND seq<=?",
                    (site, device, contiguous, batch.floor)).fetchone()[0]
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
                      " conflicts=conflicts+?, last_seen_ms=? WHERE site=? AND device=?",
                      (contiguous, inserted, duplicates, conflicts, now, site, device))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        first = batch.events[0].seq
        resend = contiguous + 1 if first > contiguous + 1 else None
        return StoreResult(contiguous, inserted, duplicates, conflicts, resend)

    def _advance(self, site: str, device: str, contiguous: int) -> int:
        while True:
            rows = self._conn.execute(
                "SELECT seq FROM events WHERE site=? AND device=? AND seq>? ORDER BY seq "
                "LIMIT 1000", (site, device, contiguous)).fetchall()
            for (seq,) in rows:
                if seq != contiguous + 1:
                    return contiguous
                contiguous = seq
            if len(rows) < 1000:
                return contiguous

    def put_health(self, site: str, device: str, payload: dict[str, Any]) -> None:
        self._conn.execute("INSERT OR REPLACE INTO health VALUES (?,?,?,?)",
                           (site, device, json.dumps(payload, ensure_ascii=False), _now_ms()))

    def put_state(self, site: str, device: str, online: bool, session: int) -> None:
        # A will from an older session must not overwrite a newer birth.
        self._conn.execute(
            "INSERT INTO states VALUES (?,?,?,?,?) ON CONFLICT(site, device) DO UPDATE SET "
            "online=excluded.online, session=excluded.session, received_ms=excluded.received_ms "
            "WHERE excluded.session >= states.session",
            (site, device, int(online), session, _now_ms()))

    # -- reading --------------------------------------------------------------------
    def events(self, site: str, device: str) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT seq, id, type, ts, mono_ms, boot, clock_synced, hist, data FROM events "
            "WHERE site=? AND device=? ORDER BY seq", (site, device)).fetchall()
        return [{"seq": r[0], "id": r[1], "type": r[2], "ts": r[3], "mono_ms": r[4],
                 "boot": r[5], "clock_synced": bool(r[6]), "hist": bool(r[7]),
                 "data": json.loads(r[8])} for r in rows]

    def device(self, site: str, device: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT contiguous, stored, duplicates, conflicts, last_seen_ms FROM devices "
            "WHERE site=? AND device=?", (site, device)).fetchone()
        if row is None:
            return None
        return dict(zip(("contiguous", "stored", "duplicates", "conflicts", "last_seen_ms"), row))

    def gaps(self, site: str, device: str) -> list[tuple[int, int, str]]:
        return [tuple(r) for r in self._conn.execute(  # type: ignore[misc]
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
