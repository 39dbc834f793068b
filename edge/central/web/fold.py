"""One center's day as the board folds it: open visits with the time each turns overdue,
finished visits that overran, window states, and the center's day figures.

What a refresh asks of a site that did not change is cheap on purpose: each open visit
carries the moment it goes over its standard (computed once, when it is folded), so
"over standard now" is a count of moments before now, and the longest wait is now minus
the oldest waiting stage's start. Only the visits a screen lists are assessed in full.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from edge.central.reads import STAGE_AFTER, fold_visit
from edge.central.web.center import TYPE_SET, CenterDay
from edge.central.web.config import Standard

MIN_MS = 60_000
# Bound on what a bad day can make a site hold: the finished visits that overran (the
# count is kept whole).
FINISHED_KEPT = 50
ALWAYS = -(1 << 62)     # over already, whatever the time: a finished stage overran
WINDOW_STATE = {"window.opened": "open", "window.resumed": "open", "window.closed": "closed",
                "window.paused": "paused"}
# Every type a site's fold reads (the rest of a day's events are not even decoded).
FOLDED = frozenset(STAGE_AFTER) | frozenset(WINDOW_STATE) | TYPE_SET


def _limit(stage: dict[str, Any], standards: dict[str, Standard]) -> int | None:
    sstd = standards.get(stage["service"] or "") or Standard()
    return sstd.max_wait_min if stage["stage"] == "waiting" else \
        sstd.max_service_min if stage["stage"] in ("called", "serving") else None


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
        limit = _limit(s, standards)
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


def overdue_after(v: dict[str, Any], standards: dict[str, Standard]) -> int | None:
    """For an open visit: the clock reading after which assess() finds it over its
    standard (ALWAYS when a finished stage overran), None when nothing can make it so.
    assess(v, now) is not None exactly when now > this."""
    std = standards.get(v["origin"] or "") or Standard()
    due = [v["issued_ms"] + std.visit_sla_min * MIN_MS] if std.visit_sla_min else []
    for s in v["stages"]:
        limit = _limit(s, standards)
        if not limit:
            continue
        if s["to_ms"] is None:
            due.append(s["from_ms"] + limit * MIN_MS)
        elif s["to_ms"] - s["from_ms"] > limit * MIN_MS:
            return ALWAYS
    return min(due) if due else None


def overran(v: dict[str, Any], standards: dict[str, Standard]) -> bool:
    """Whether a finished visit went over its standard: what assess() finds, without
    building its report (most visits end within it; a day's first read checks them all)."""
    std = standards.get(v["origin"] or "") or Standard()
    if std.visit_sla_min and v["end_ms"] - v["issued_ms"] > std.visit_sla_min * MIN_MS:
        return True
    for s in v["stages"]:
        limit = _limit(s, standards)
        if limit and (s["to_ms"] if s["to_ms"] is not None else v["end_ms"]) - s["from_ms"] \
                > limit * MIN_MS:
            return True
    return False


class SiteFold:
    """One center's day so far: its open (and overrun) visits, its windows, its figures."""

    def __init__(self, day: date, zone: ZoneInfo) -> None:
        self.day = day
        self.cursors: dict[str, int] = {}       # stream key -> last seq folded
        self.visits: dict[tuple[str, Any], dict[str, Any]] = {}   # open ones only
        self.due: dict[tuple[str, Any], int] = {}   # open visit -> overdue_after()
        self.windows: dict[tuple[str, int], str] = {}   # (device, window) -> state
        self.figures = CenterDay(zone)
        self.finished_late: deque[dict[str, Any]] = deque(maxlen=FINISHED_KEPT)
        self.overran = 0        # finished visits that overran today
        self.late_changed = True   # finished_late changed since the board last looked
        # Summaries of the open visits, remade only when events were folded:
        self._due_sorted: list[int] = []
        self.waiting = 0
        self.waiting_since: int | None = None   # the oldest waiting stage's start
        self.windows_open = 0

    def fold(self, events: list[dict[str, Any]], standards: dict[str, Standard],
             now: int) -> None:
        """New events of this site, each stream's in seq order."""
        touched = set()
        for e in events:
            t = e["type"]
            data = e["data"] if isinstance(e["data"], dict) else {}
            self.figures.add(e)
            if t in WINDOW_STATE and isinstance(data.get("window"), int):
                self.windows[(e["stream"].split("~", 1)[0], data["window"])] = WINDOW_STATE[t]
            if t in STAGE_AFTER:
                fold_visit(self.visits, e)
                touched.add((e["stream"], data.get("ticket_id")))
        for key in touched:
            v = self.visits.get(key)
            if v is None:
                continue
            if v["outcome"] is None:
                due = overdue_after(v, standards)
                if due is None:
                    self.due.pop(key, None)
                else:
                    self.due[key] = due
                continue
            # Finished: within the standard it is nothing to show any more; over it, its
            # assessment is final, kept (the latest FINISHED_KEPT per site) and counted.
            late = assess(v, standards, now) if overran(v, standards) else None
            del self.visits[key]
            self.due.pop(key, None)
            if late is not None:
                self.overran += 1
                self.finished_late.append(late)
                self.late_changed = True
        if events:
            self._summarise()

    def _summarise(self) -> None:
        self._due_sorted = sorted(self.due.values())
        since = [v["stages"][-1]["from_ms"] for v in self.visits.values()
                 if v["stages"] and v["stages"][-1]["stage"] == "waiting"]
        self.waiting = len(since)
        self.waiting_since = min(since, default=None)
        self.windows_open = sum(1 for s in self.windows.values() if s == "open")

    def overdue_now(self, now: int) -> int:
        """Open visits over their standard at `now`."""
        return bisect_left(self._due_sorted, now)

    def overdue_visits(self, now: int) -> list[dict[str, Any]]:
        """The open visits over their standard at `now` (not assessed)."""
        if not self.overdue_now(now):
            return []
        return [self.visits[k] for k, due in self.due.items() if due < now]
