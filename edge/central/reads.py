"""What central's store answers: a device's events, streams and marks, the live summary,
and the Situational Center's day figures (docs/central.md), on either back-end."""

from __future__ import annotations

import json
import time
from contextlib import AbstractContextManager
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.central.tx import Tx

# The day roll-up keeps, per (site, day, type, service), a count and the sum of one
# measure of the type, so averages of a day cost one small query at any scale.
MEASURES = {"rating.recorded": "score", "ticket.done": "service_s", "ticket.called": "wait_s"}
# A visit's stage after each ticket event (None: the event changes no stage).
STAGE_AFTER = {"ticket.issued": "waiting", "ticket.called": "called", "ticket.recalled": None,
               "ticket.serving": "serving", "ticket.transferred": "waiting",
               "ticket.parked": "parked", "ticket.unparked": "waiting",
               "ticket.returned": "waiting", "ticket.done": "done",
               "ticket.no_show": "no_show", "ticket.voided": "voided"}
FINAL = ("done", "no_show", "voided")
EVENT_COLUMNS = ("seq", "id", "type", "ts", "mono_ms", "boot", "clock_synced", "hist", "data")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


class StoreReads:
    ORDER = "rowid"

    def _read(self) -> AbstractContextManager["Tx"]:
        raise NotImplementedError

    def _load(self, data: Any) -> Any:
        raise NotImplementedError

    def _day(self, day: date) -> Any:
        """A day as the back-end stores it."""
        raise NotImplementedError

    def _event(self, r: tuple[Any, ...]) -> dict[str, Any]:
        return {"seq": r[0], "id": r[1], "type": r[2], "ts": r[3], "mono_ms": r[4],
                "boot": r[5], "clock_synced": bool(r[6]), "hist": bool(r[7]),
                "data": self._load(r[8])}

    # -- one device -----------------------------------------------------------------------
    def events(self, site: str, device: str) -> list[dict[str, Any]]:
        """The events of one stream (`device` is the stream key), in seq order."""
        with self._read() as tx:
            rows = tx.rows(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events "
                           "WHERE site=? AND device=? ORDER BY seq", (site, device))
        return [self._event(r) for r in rows]

    def device_events(self, site: str, device: str) -> list[dict[str, Any]]:
        """Every event of a device over all its streams, each once (copies are not events),
        with the stream key it is stored under as `stream`."""
        out = []
        for _, key in self.streams(site, device) or [("", device)]:
            out += [{**e, "stream": key} for e in self.events(site, key)]
        return out

    def streams(self, site: str, device: str) -> list[tuple[str, str]]:
        """(db, key) of every database a device has sent from, oldest first."""
        with self._read() as tx:
            return [(r[0], r[1]) for r in tx.rows(
                f"SELECT db, key FROM streams WHERE site=? AND device=? "
                f"ORDER BY since_ms, {self.ORDER}", (site, device))]

    def conflicts(self, site: str, device: str) -> list[dict[str, Any]]:
        with self._read() as tx:
            rows = tx.rows("SELECT seq, stored_id, new_id, type, data FROM conflicts WHERE "
                           f"site=? AND device=? ORDER BY seq, {self.ORDER}", (site, device))
        return [{"seq": r[0], "stored_id": r[1], "new_id": r[2], "type": r[3],
                 "data": _loads(r[4]) if r[4] else None} for r in rows]

    def copies(self, site: str, key: str) -> list[tuple[int, str, str]]:
        """(seq, id, stored_in) of the events stream `key` sent that a twin already held."""
        with self._read() as tx:
            return [(int(r[0]), str(r[1]), str(r[2])) for r in tx.rows(
                "SELECT seq, id, stored_in FROM copies WHERE site=? AND device=? ORDER BY seq",
                (site, key))]

    def device(self, site: str, device: str) -> dict[str, Any] | None:
        with self._read() as tx:
            rows = tx.rows("SELECT contiguous, stored, duplicates, conflicts, last_seen_ms, "
                           "copies FROM devices WHERE site=? AND device=?", (site, device))
        if not rows:
            return None
        return dict(zip(("contiguous", "stored", "duplicates", "conflicts", "last_seen_ms",
                         "copies"), rows[0]))

    def gaps(self, site: str, device: str) -> list[tuple[int, int, str]]:
        with self._read() as tx:
            return [(int(r[0]), int(r[1]), str(r[2])) for r in tx.rows(
                "SELECT from_seq, to_seq, reason FROM gaps WHERE site=? AND device=? "
                "ORDER BY from_seq", (site, device))]

    def state(self, site: str, device: str) -> dict[str, Any] | None:
        """The device's last birth or will as central took it (online, session, db)."""
        with self._read() as tx:
            rows = tx.rows("SELECT online, session, db, received_ms FROM states "
                           "WHERE site=? AND device=?", (site, device))
        if not rows:
            return None
        online, session, db, received = rows[0]
        return {"online": bool(online), "session": session, "db": db, "received_ms": received}

    def health(self, site: str, device: str) -> dict[str, Any] | None:
        """The device's last retained health snapshot, with when it came."""
        with self._read() as tx:
            rows = tx.rows("SELECT payload, received_ms FROM health WHERE site=? AND device=?",
                           (site, device))
        if not rows:
            return None
        return {"payload": _loads(rows[0][0]), "received_ms": rows[0][1]}

    # -- every site -----------------------------------------------------------------------
    def summary(self) -> list[dict[str, Any]]:
        """One row per site: devices online, waiting, serving, alarms, events stored, and
        when the site was last heard of (the Situational Center's country view)."""
        sites: dict[str, dict[str, Any]] = {}

        def row(site: str) -> dict[str, Any]:
            return sites.setdefault(site, {"site": site, "devices": 0, "online": 0, "waiting": 0,
                                           "serving": 0, "alarms": [], "stored": 0,
                                           "contiguous": {}, "health_age_s": None,
                                           "last_seen_ms": None})

        with self._read() as tx:
            devices = tx.rows("SELECT site, device, contiguous, stored, last_seen_ms "
                              "FROM devices")
            states = tx.rows("SELECT site, device, online FROM states")
            health = tx.rows("SELECT site, device, payload, received_ms FROM health")
        for site, device, contiguous, stored, seen in devices:
            r = row(site)
            r["stored"] += stored
            r["contiguous"][device] = contiguous
            r["last_seen_ms"] = max(r["last_seen_ms"] or 0, seen or 0) or None
        for site, device, online in states:
            r = row(site)
            r["devices"] += 1
            r["online"] += int(bool(online))
        now = now_ms()
        for site, device, payload, received in health:
            r = row(site)
            try:
                s = _loads(payload).get("summary", {})
                r["waiting"] += int(s.get("waiting", 0))
                r["serving"] += int(s.get("serving", 0))
                r["alarms"].extend(f"{device}:{a}" for a in s.get("alarms", []))
            except (ValueError, AttributeError, TypeError):
                r["alarms"].append(f"{device}:bad-health")
            age = (now - received) / 1000
            r["health_age_s"] = age if r["health_age_s"] is None else max(age, r["health_age_s"])
            r["last_seen_ms"] = max(r["last_seen_ms"] or 0, received)
        return [sites[k] for k in sorted(sites)]

    # -- the Situational Center's day figures ----------------------------------------------
    def day_events(self, site: str, day: date, types: list[str] | None = None
                   ) -> list[dict[str, Any]]:
        """A site's events filed under one day (all devices and streams), in the order they
        were stored per stream; `types` narrows them (e.g. the ticket events of a visit)."""
        sql = (f"SELECT {', '.join(EVENT_COLUMNS)}, device FROM events "
               "WHERE day=? AND site=?")
        args: list[Any] = [self._day(day), site]
        if types:
            sql += f" AND type IN ({', '.join('?' for _ in types)})"
            args += types
        with self._read() as tx:
            rows = tx.rows(sql + " ORDER BY device, seq", args)
        return [{**self._event(r), "stream": r[9]} for r in rows]

    def daily(self, day: date, site: str | None = None) -> list[dict[str, Any]]:
        """The day's roll-up: per site, type and service, the events and the sum of the
        type's measure (MEASURES: a rating's score, a visit's service_s, a call's wait_s)."""
        sql = "SELECT site, type, service, n, total FROM daily WHERE day=?"
        args: list[Any] = [self._day(day)]
        if site is not None:
            sql += " AND site=?"
            args.append(site)
        with self._read() as tx:
            rows = tx.rows(sql + " ORDER BY site, type, service", args)
        return [{"site": r[0], "type": r[1], "service": r[2], "n": int(r[3]),
                 "total": int(r[4])} for r in rows]

    def day_report(self, day: date) -> list[dict[str, Any]]:
        """Per site for one day: tickets issued, visits served, no-shows, ratings and their
        average, the average wait to the first call and the average service time."""
        out: dict[str, dict[str, Any]] = {}
        for r in self.daily(day):
            s = out.setdefault(r["site"], {"site": r["site"], "issued": 0, "served": 0,
                                           "no_show": 0, "ratings": 0, "_score": 0,
                                           "calls": 0, "_wait": 0, "_service": 0})
            t = r["type"]
            if t == "ticket.issued":
                s["issued"] += r["n"]
            elif t == "ticket.done":
                s["served"] += r["n"]
                s["_service"] += r["total"]
            elif t == "ticket.no_show":
                s["no_show"] += r["n"]
            elif t == "rating.recorded":
                s["ratings"] += r["n"]
                s["_score"] += r["total"]
            elif t == "ticket.called":
                s["calls"] += r["n"]
                s["_wait"] += r["total"]
        rows = []
        for s in out.values():
            rows.append({
                "site": s["site"], "issued": s["issued"], "served": s["served"],
                "no_show": s["no_show"], "ratings": s["ratings"],
                "rating_avg": round(s["_score"] / s["ratings"], 2) if s["ratings"] else None,
                "wait_avg_s": round(s["_wait"] / s["calls"]) if s["calls"] else None,
                "service_avg_s": round(s["_service"] / s["served"]) if s["served"] else None})
        return sorted(rows, key=lambda r: r["site"])

    def visits(self, site: str, day: date, now_ms_: int | None = None) -> list[dict[str, Any]]:
        """Each visit of a site's day with its stages (waiting, called, serving, parked:
        from, to, window, service), its outcome and its time so far: what "visits over
        their standard" needs (the standards per service come from cfg, not from here).
        Built from the day's ticket events of every stream, in each stream's seq order."""
        now = now_ms_ if now_ms_ is not None else now_ms()
        visits: dict[tuple[str, Any], dict[str, Any]] = {}
        for e in self.day_events(site, day, list(STAGE_AFTER)):
            fold_visit(visits, e)
        out = []
        for v in visits.values():
            end = v["end_ms"] if v["end_ms"] is not None else now
            v["elapsed_s"] = max(0, (end - v["issued_ms"]) // 1000)
            out.append(v)
        return sorted(out, key=lambda v: v["issued_ms"])


def fold_visit(visits: dict[tuple[str, Any], dict[str, Any]], e: dict[str, Any]) -> None:
    """One ticket event (with its `stream`) into the visits of a day, keyed by (stream,
    ticket id); the events of each stream must come in seq order. visits() and the
    Situational Center's live projection (edge/central/web/board.py) both fold with it."""
    if e["type"] not in STAGE_AFTER:
        return
    data = e["data"]
    key = (e["stream"], data.get("ticket_id"))
    v = visits.get(key)
    if v is None:
        if e["type"] != "ticket.issued":
            return   # a ticket issued on an earlier day (or in a dropped month)
        v = visits[key] = {"visit": data.get("visit"), "ticket": data.get("ticket"),
                           "device": e["stream"], "service": data.get("service"),
                           "origin": data.get("service"),
                           "issued_ms": e["ts"], "stages": [], "outcome": None,
                           "end_ms": None}
    stage = STAGE_AFTER[e["type"]]
    if stage is None:
        return
    if v["stages"] and v["stages"][-1]["to_ms"] is None:
        v["stages"][-1]["to_ms"] = e["ts"]
    service = data.get("to_service", data.get("service"))   # a transfer names both
    if isinstance(service, str):
        v["service"] = service
    if stage in FINAL:
        v["outcome"], v["end_ms"] = stage, e["ts"]
        return
    v["outcome"] = v["end_ms"] = None   # a no-show who came back is open again
    operator = data.get("operator")
    v["stages"].append({"stage": stage, "from_ms": e["ts"], "to_ms": None,
                        "window": None if stage == "waiting" else data.get("window"),
                        "service": v["service"],
                        "operator": operator if isinstance(operator, str) else None})
