"""The country at a glance: a live projection of every center, kept by folding new events.

`Board.refresh()` reads the small per-device tables (birth/will, health, stored ranges),
then, in one query, only the events the streams committed since the last refresh
(livereads.py), folds them into each site's day (fold.py: open visits with the moment
each turns overdue, windows, the center's figures) and returns the country's rows and the
visits over their standard. A refresh costs the events that arrived plus a few cheap
steps per site, not a reassessment of every open visit. Finished visits within their
standard are dropped as they finish, so memory holds only what is open or overran. Day
boundaries start a new fold. No IIN is ever read: visits carry tickets, services, windows
and operators only.
"""

from __future__ import annotations

import gc
import heapq
import threading
from datetime import date, datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

from edge.central.livereads import devices_now, new_events
from edge.central.reads import now_ms
from edge.central.web.center import center_view
from edge.central.web.config import CentralWebConfig
from edge.central.web.fold import FOLDED, SiteFold, assess

# Bounds on what the board sends: the visits listed on the country's "over standard"
# screen (the open ones longest first, then the latest finished).
LISTED_OPEN, LISTED_FINISHED = 300, 200
# The day's served counts and ratings (the roll-up of every site) are re-read this often,
# not at every refresh: a third of a refresh's time at national scale, for figures that
# need not follow each event.
DAILY_EVERY_MS = 5_000
# A fold this large (a day read at start, a backlog) is frozen out of the cyclic GC.
FREEZE_AFTER = 100_000


class Board:
    def __init__(self, store: Any, cfg: CentralWebConfig, *,
                 clock_ms: Callable[[], int] = now_ms, timezone: str = "Asia/Almaty",
                 loading_after: int = FREEZE_AFTER) -> None:
        self.store = store
        self.loading_after = loading_after   # events to fold that make a refresh "loading"
        self.cfg = cfg
        self.clock_ms = clock_ms
        self.zone = ZoneInfo(timezone)
        self.sites: dict[str, SiteFold] = {}
        self.devices: dict[str, list[dict[str, Any]]] = {}   # per site, at the last refresh
        self._lock = threading.Lock()   # one refresh at a time (the folds are not shared)
        self.last: dict[str, Any] = {"sites": [], "overdue": []}
        self._daily: tuple[date | None, dict[str, Any]] = (None, {})
        self._daily_ms = 0
        self._finished: list[dict[str, Any]] = []    # the country's latest overrun visits

    def late_of(self, site: str) -> list[dict[str, Any]]:
        """One site's visits over their standard: open ones longest first, then finished."""
        with self._lock:
            fold = self.sites.get(site)
            if fold is None:
                return []
            return self._late_of(site, fold, self.clock_ms())

    def _late_of(self, site: str, fold: SiteFold, now: int) -> list[dict[str, Any]]:
        still = [a for v in fold.overdue_visits(now)
                 if (a := assess(v, self.cfg.standards, now)) is not None]
        return sorted(still, key=lambda v: -v["elapsed_s"]) + [
            {**a, "site": site} for a in reversed(fold.finished_late)]

    def center(self, site: str, day: date | None = None) -> dict[str, Any]:
        """One center's screen: today's from the fold (as of the last refresh), another
        day's read from the store; with its country row and its visits over standard."""
        now = self.clock_ms()
        day = day or self.today(now)
        with self._lock:
            fold = self.sites.get(site)
            if fold is not None and fold.day == day:
                view = fold.figures.view(site, day, now, self.devices.get(site, []))
                view["overdue"] = self._late_of(site, fold, now)
            else:
                view = None
        if view is None:
            view = center_view(self.store, site, day, now, self.zone)
            view["overdue"] = self.late_of(site)
        view["row"] = next((r for r in self.last["sites"] if r["site"] == site), None)
        return view

    def today(self, now: int) -> date:
        return datetime.fromtimestamp(now / 1000, self.zone).date()

    def refresh(self, early: Callable[[dict[str, Any]], None] | None = None
                ) -> dict[str, Any]:
        """Read what changed and return the country: {"now_ms", "day", "sites", "overdue"}.

        When the events to fold are many (the day read when a web process starts, a large
        backlog: tens of seconds at national scale), `early` is given the country first
        with `"loading": true`: every center's row from its birth, will and health, the
        figures the fold gives (longest wait, over standard) not yet there, so the wall
        screen shows the centers at once instead of nothing.
        """
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
            self.devices = by_site
            ranges = self._ranges(by_site, day)
            if early is not None and sum(u - a for _, _, a, u in ranges) >= self.loading_after:
                early({**self._country(by_site, daily, day, now), "loading": True})
            self._fold(ranges, day, now)
            self.last = self._country(by_site, daily, day, now)
            return self.last

    def _country(self, by_site: dict[str, list[dict[str, Any]]], daily: dict[str, Any],
                 day: date, now: int) -> dict[str, Any]:
        rows, still = [], []
        for site in sorted(by_site):
            fold = self.sites[site]
            row = self._row(site, by_site[site], fold, daily.get(site), now)
            rows.append(row)
            if row["overdue_now"]:
                still += [(site, v) for v in fold.overdue_visits(now)]
        # Only the visits listed are assessed: the open ones longest first.
        listed = []
        for site, v in heapq.nlargest(LISTED_OPEN, still,
                                      key=lambda sv: max(0, now - sv[1]["issued_ms"])
                                      // 1000):
            a = assess(v, self.cfg.standards, now)
            if a is not None:
                listed.append({**a, "site": site})
        return {"now_ms": now, "day": day.isoformat(), "sites": rows,
                "overdue": listed + self._latest_finished(sorted(by_site)),
                "overdue_open": len(still),
                "overran_today": sum(r["overran_today"] for r in rows)}

    def _ranges(self, by_site: dict[str, list[dict[str, Any]]], day: date
                ) -> list[tuple[str, str, int, int]]:
        """(site, stream, after, upto) of every stream with events committed since the last
        refresh; a site new today gets an empty fold."""
        ranges = []
        for site, devices in by_site.items():
            fold = self.sites.get(site)
            if fold is None or fold.day != day:
                fold = self.sites[site] = SiteFold(day, self.zone)
            for d in devices:
                for stream, upto in d["streams"].items():
                    after = fold.cursors.get(stream, 0)
                    if upto > after:
                        ranges.append((site, stream, after, upto))
        return ranges

    def _fold(self, ranges: list[tuple[str, str, int, int]], day: date, now: int) -> None:
        """Fold every stream's events committed since the last refresh (one query)."""
        folded = 0
        for site, events in new_events(self.store, day, ranges, FOLDED):
            self.sites[site].fold(events, self.cfg.standards, now)
            folded += len(events)
        for site, stream, _, upto in ranges:
            self.sites[site].cursors[stream] = upto
        if folded >= FREEZE_AFTER:
            # The day just folded lives as long as the process: take it out of the cyclic
            # collector's full passes, which otherwise walk it (~0.2 s at national scale)
            # in the middle of a later refresh. Collected first, so no garbage is kept.
            gc.collect()
            gc.freeze()

    def _latest_finished(self, sites: list[str]) -> list[dict[str, Any]]:
        """The country's latest finished visits that overran (remade only when a site's
        changed)."""
        folds = [(s, self.sites[s]) for s in sites]
        if any(f.late_changed for _, f in folds):
            ended = [{**a, "site": s} for s, f in folds for a in f.finished_late]
            self._finished = heapq.nlargest(LISTED_FINISHED, ended,
                                            key=lambda v: v["end_ms"] or 0)
            for _, f in folds:
                f.late_changed = False
        return self._finished

    def _row(self, site: str, devices: list[dict[str, Any]], fold: SiteFold,
             day: dict[str, Any] | None, now: int) -> dict[str, Any]:
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
        longest = now - fold.waiting_since if fold.waiting_since is not None else None
        open_late = fold.overdue_now(now)
        silent = not devices or online == 0 or heard is None or heard < now - silent_ms
        problems = [p for p, on in (("offline", bool(known) and online < len(known)),
                                    ("silent", silent), ("alarms", bool(alarms)),
                                    ("overdue", open_late > 0)) if on]
        return {
            "site": site, "name": meta.name if meta and meta.name else site,
            "region": meta.region if meta else "",
            "devices": len(known), "online": online, "silent": silent,
            "heard_ms": heard,
            "waiting": waiting_h if waiting_h is not None else fold.waiting,
            "windows_open": windows_h if windows_h is not None else fold.windows_open,
            "longest_wait_s": longest // 1000 if longest is not None else None,
            "overdue_now": open_late, "overran_today": fold.overran,
            "served": day["served"] if day else 0,
            "rating_avg": day["rating_avg"] if day else None,
            "alarms": sorted(set(alarms)), "problems": problems,
        }
