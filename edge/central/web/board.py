"""The country at a glance: a live projection of every center, kept by folding new events.

`Board.refresh()` reads the small per-device tables (birth/will, health, stored ranges),
then only the events each stream committed since the last refresh (livereads.py), folds
the ticket events into the day's visits (reads.fold_visit) and window events into the
windows' states, and returns the country's rows and the visits over their standard.
Finished visits within their standard are dropped as they finish, so memory holds only
what is open or overran. Day boundaries start a new fold. No IIN is ever read: visits
carry tickets, services, windows and operators only.
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from datetime import date, datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

from edge.central.livereads import devices_now, stream_events
from edge.central.reads import STAGE_AFTER, fold_visit, now_ms
from edge.central.web.config import CentralWebConfig, Standard

MIN_MS = 60_000
# Bounds on what a bad day can make the board hold and send: the finished visits that
# overran, per site (the count is kept whole), and the visits listed on the country's
# "over standard" screen (the open ones longest first, then the latest finished).
FINISHED_KEPT = 50
LISTED_OPEN, LISTED_FINISHED = 300, 200
# The day's served counts and ratings (the roll-up of every site) are re-read this often,
# not at every refresh: a third of a refresh's time at national scale, for figures that
# need not follow each event.
DAILY_EVERY_MS = 5_000
WINDOW_STATE = {"window.opened": "open", "window.resumed": "open", "window.closed": "closed",
                "window.paused": "paused"}


def assess(v: dict[str, Any], standards: dict[str, Standard], now: int) -> dict[str, Any] | None:
    """How a visit stands against its standard: None when within it, else what overran
    (the visit's whole time, and each stage over its own limit; when no stage is over its
    own, the longest stage is the one named)."""
    std = standards.get(v["origin"] or "") or Standard()
    end = v["end_ms"] if v["end_ms"] is not None else now
    elapsed = end - v["issued_ms"]
    visit_over = bool(std.visit_sla_min) and elapsed > (std.visit_sla_min or 0) * MIN_MS
    stages = []
    blamed = []
    for i, s in enumerate(v["stages"]):
        took = (s["to_ms"] if s["to_ms"] is not None else end) - s["from_ms"]
        sstd = standards.get(s["service"] or "") or Standard()
        limit = sstd.max_wait_min if s["stage"] == "waiting" else \
            sstd.max_service_min if s["stage"] in ("called", "serving") else None
        over = bool(limit) and took > (limit or 0) * MIN_MS
        if over:
            blamed.append(i)
        stages.append({**s, "took_s": max(0, took // 1000), "limit_min": limit, "over": over})
    if not visit_over and not blamed:
        return None
    if not blamed and stages:
        blamed = [max(range(len(stages)), key=lambda i: stages[i]["took_s"])]
    for i in blamed:
        stages[i]["over"] = True
    return {"ticket": v["ticket"], "device": v["device"], "service": v["service"],
            "origin": v["origin"], "issued_ms": v["issued_ms"], "end_ms": v["end_ms"],
            "outcome": v["outcome"] or "open", "elapsed_s": max(0, elapsed // 1000),
            "limit_min": std.visit_sla_min, "visit_over": visit_over, "stages": stages,
            "overran": [stages[i]["stage"] for i in blamed]}


class SiteFold:
    """One center's day so far: its open (and overrun) visits and its windows."""

    def __init__(self, day: date) -> None:
        self.day = day
        self.cursors: dict[str, int] = {}       # stream key -> last seq folded
        self.visits: dict[tuple[str, Any], dict[str, Any]] = {}
        self.windows: dict[tuple[str, int], str] = {}   # (device, window) -> state
        self.operators: dict[tuple[str, int], str] = {}  # (device, window) -> last operator
        self.finished_late: deque[dict[str, Any]] = deque(maxlen=FINISHED_KEPT)
        self.overran = 0        # finished visits that overran today

    def fold(self, events: list[dict[str, Any]], standards: dict[str, Standard],
             now: int) -> None:
        touched = set()
        for e in events:
            t = e["type"]
            data = e["data"] if isinstance(e["data"], dict) else {}
            device = e["stream"].split("~", 1)[0]
            if t in WINDOW_STATE and isinstance(data.get("window"), int):
                self.windows[(device, data["window"])] = WINDOW_STATE[t]
            if isinstance(data.get("operator"), str) and isinstance(data.get("window"), int):
                self.operators[(device, data["window"])] = data["operator"]
            if t in STAGE_AFTER:
                fold_visit(self.visits, e)
                touched.add((e["stream"], data.get("ticket_id")))
        for key in touched:
            v = self.visits.get(key)
            if v is None or v["outcome"] is None:
                continue
            # Finished: within the standard it is nothing to show any more; over it, its
            # assessment is final, kept (the latest FINISHED_KEPT per site) and counted.
            late = assess(v, standards, now)
            del self.visits[key]
            if late is not None:
                self.overran += 1
                self.finished_late.append(late)


class Board:
    def __init__(self, store: Any, cfg: CentralWebConfig, *,
                 clock_ms: Callable[[], int] = now_ms, timezone: str = "Asia/Almaty") -> None:
        self.store = store
        self.cfg = cfg
        self.clock_ms = clock_ms
        self.zone = ZoneInfo(timezone)
        self.sites: dict[str, SiteFold] = {}
        self._lock = threading.Lock()   # one refresh at a time (the folds are not shared)
        self.last: dict[str, Any] = {"sites": [], "overdue": []}
        self._daily: tuple[date | None, dict[str, Any]] = (None, {})
        self._daily_ms = 0

    def late_of(self, site: str) -> list[dict[str, Any]]:
        """One site's visits over their standard: open ones longest first, then finished."""
        with self._lock:
            fold = self.sites.get(site)
            if fold is None:
                return []
            now = self.clock_ms()
            still = [a for v in fold.visits.values()
                     if (a := assess(v, self.cfg.standards, now)) is not None]
            return sorted(still, key=lambda v: -v["elapsed_s"]) + [
                {**a, "site": site} for a in reversed(fold.finished_late)]

    def today(self, now: int) -> date:
        return datetime.fromtimestamp(now / 1000, self.zone).date()

    def refresh(self) -> dict[str, Any]:
        """Read what changed and return the country: {"now_ms", "day", "sites", "overdue"}."""
        with self._lock:
            now = self.clock_ms()
            day = self.today(now)
            devices = devices_now(self.store)
            if self._daily[0] != day or now - self._daily_ms >= DAILY_EVERY_MS \
                    or now < self._daily_ms:
                self._daily = (day, {r["site"]: r for r in self.store.day_report(day)})
                self._daily_ms = now
            daily = self._daily[1]
            by_site: dict[str, list[dict[str, Any]]] = {}
            for d in devices:
                by_site.setdefault(d["site"], []).append(d)
            for site in set(self.cfg.sites) - set(by_site):
                by_site[site] = []       # listed but never heard of: shown, and silent
            rows, overdue = [], []
            for site in sorted(by_site):
                fold = self._fold(site, day, by_site[site], now)
                row, late = self._row(site, by_site[site], fold, daily.get(site), now)
                rows.append(row)
                overdue += late
            still = [v for v in overdue if v["outcome"] == "open"]
            ended = [v for v in overdue if v["outcome"] != "open"]
            listed = heapq.nlargest(LISTED_OPEN, still, key=lambda v: v["elapsed_s"]) + \
                heapq.nlargest(LISTED_FINISHED, ended, key=lambda v: v["end_ms"] or 0)
            self.last = {"now_ms": now, "day": day.isoformat(), "sites": rows,
                         "overdue": listed, "overdue_open": len(still),
                         "overran_today": sum(r["overran_today"] for r in rows)}
            return self.last

    def _fold(self, site: str, day: date, devices: list[dict[str, Any]], now: int) -> SiteFold:
        fold = self.sites.get(site)
        if fold is None or fold.day != day:
            fold = self.sites[site] = SiteFold(day)
        for d in devices:
            for stream, upto in d["streams"].items():
                after = fold.cursors.get(stream, 0)
                if upto > after:
                    fold.fold(stream_events(self.store, site, stream, day, after, upto),
                              self.cfg.standards, now)
                    fold.cursors[stream] = upto
        return fold

    def _row(self, site: str, devices: list[dict[str, Any]], fold: SiteFold,
             day: dict[str, Any] | None, now: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        meta = self.cfg.sites.get(site)
        silent_ms = self.cfg.web.silent_after_s * 1000
        known = [d for d in devices if d["online"] is not None]
        online = sum(1 for d in known if d["online"])
        heard = max([d["health_ms"] or 0 for d in devices] +
                    [d["last_seen_ms"] or 0 for d in devices] + [0]) or None
        waiting_h = windows_h = None
        alarms: list[str] = []
        for d in devices:
            h = d["health"] if isinstance(d["health"], dict) else None
            if h is None or (d["health_ms"] or 0) < now - silent_ms:
                continue
            s = h.get("summary") or {}
            waiting_h = (waiting_h or 0) + int(s.get("waiting", 0) or 0)
            alarms += [f"{a}" for a in s.get("alarms", []) if isinstance(a, str)]
            q = h.get("queue") or {}
            if isinstance(q.get("windows"), list):
                windows_h = (windows_h or 0) + sum(
                    1 for w in q["windows"] if isinstance(w, dict) and w.get("state") == "open")
        waiting_visits = [v for v in fold.visits.values() if v["outcome"] is None
                          and v["stages"] and v["stages"][-1]["stage"] == "waiting"]
        longest = max((now - v["stages"][-1]["from_ms"] for v in waiting_visits), default=None)
        late = [a for v in fold.visits.values()
                if (a := assess(v, self.cfg.standards, now)) is not None]
        open_late = len(late)
        late += fold.finished_late
        for a in late:
            a["site"] = site
        silent = not devices or online == 0 or heard is None or heard < now - silent_ms
        problems = [p for p, on in (("offline", bool(known) and online < len(known)),
                                    ("silent", silent), ("alarms", bool(alarms)),
                                    ("overdue", open_late > 0)) if on]
        return ({
            "site": site, "name": meta.name if meta and meta.name else site,
            "region": meta.region if meta else "",
            "devices": len(known), "online": online, "silent": silent,
            "heard_ms": heard,
            "waiting": waiting_h if waiting_h is not None else len(waiting_visits),
            "windows_open": windows_h if windows_h is not None else
            sum(1 for s in fold.windows.values() if s == "open"),
            "longest_wait_s": longest // 1000 if longest is not None else None,
            "overdue_now": open_late, "overran_today": fold.overran,
            "served": day["served"] if day else 0,
            "rating_avg": day["rating_avg"] if day else None,
            "alarms": sorted(set(alarms)), "problems": problems,
        }, late)
