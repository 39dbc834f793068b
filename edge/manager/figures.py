"""The manager's figures of the day: pure functions over visit stage rows (no I/O, no clock).

Every figure and its rule is described in docs/manager.md. In short: a stage is one
ticket's time in one service (edge/storage/stages.py); "served" counts stages that ended
done, "no-shows" those that ended no_show (a no-show who came back and was served is
served, once); waits are from entering the service's line to the first call; service
times from "start" (or the call, if start was never pressed) to done, pauses left out.
Percentiles are nearest-rank: p50 of 1, 2, 3, 4 minutes is 2 minutes, never an average.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

Stage = Mapping[str, Any]


@dataclass(frozen=True)
class Sla:
    """A service's limits from the running configuration ([policies.services.<id>])."""

    max_wait_min: int | None = None
    max_service_min: int | None = None


def percentile(values: Sequence[int], p: int) -> int | None:
    """Nearest-rank percentile of `values` (ms); None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def breached(stage: Stage, sla: Sla | None, now_ms: int) -> bool:
    """Whether the stage broke its service's SLA: the engine raised an SLA alarm for it
    (flag in the row), or its wait or service time is over a limit of the running config.
    A visitor still waiting counts once the wait so far is over the limit."""
    if stage.get("sla_breached"):
        return True
    if sla is None:
        return False
    if sla.max_wait_min is not None:
        waited = stage.get("waited_ms")
        if waited is None and stage.get("outcome") == "open" and stage.get("called_ms") is None:
            waited = now_ms - stage["queued_ms"]
        if waited is not None and waited > sla.max_wait_min * 60_000:
            return True
    if sla.max_service_min is not None:
        served = stage.get("served_ms")
        if served is not None and served > sla.max_service_min * 60_000:
            return True
    return False


def figures(stages: Iterable[Stage], slas: Mapping[str, Sla], now_ms: int) -> dict[str, Any]:
    """One row of figures for a group of stages (a service, a window, an operator)."""
    rows = list(stages)
    waits = [s["waited_ms"] for s in rows if s.get("waited_ms") is not None]
    served = [s["served_ms"] for s in rows
              if s.get("outcome") == "done" and s.get("served_ms") is not None]
    ratings = [s["rating"] for s in rows if s.get("rating") is not None]
    return {
        "stages": len(rows),
        "served": sum(1 for s in rows if s.get("outcome") == "done"),
        "no_shows": sum(1 for s in rows if s.get("outcome") == "no_show"),
        "transferred": sum(1 for s in rows if s.get("outcome") == "transferred"),
        "waiting": sum(1 for s in rows if s.get("outcome") == "open"
                       and s.get("called_ms") is None),
        "wait_p50_ms": percentile(waits, 50), "wait_p90_ms": percentile(waits, 90),
        "wait_max_ms": max(waits) if waits else None,
        "service_p50_ms": percentile(served, 50), "service_p90_ms": percentile(served, 90),
        "sla_breaches": sum(1 for s in rows if breached(s, slas.get(s["service"]), now_ms)),
        "rating_avg": round(sum(ratings) / len(ratings), 2) if ratings else None,
        "ratings": len(ratings),
    }


def grouped(stages: Sequence[Stage], key: Callable[[Stage], Any], slas: Mapping[str, Sla],
            now_ms: int) -> list[dict[str, Any]]:
    """Figures per value of `key` (stages whose key is None are left out), sorted by key."""
    groups: dict[Any, list[Stage]] = {}
    for s in stages:
        k = key(s)
        if k is not None:
            groups.setdefault(k, []).append(s)
    return [{"key": k, **figures(groups[k], slas, now_ms)}
            for k in sorted(groups, key=lambda v: (isinstance(v, str), v))]


def waits_by_hour(stages: Iterable[Stage], tz: zoneinfo.ZoneInfo) -> list[dict[str, Any]]:
    """Waits through the day, for the chart: per local hour in which visitors were called,
    how many and their wait p50/p90/max (ms). Hours with no call are left out."""
    hours: dict[int, list[int]] = {}
    for s in stages:
        if s.get("called_ms") is None or s.get("waited_ms") is None:
            continue
        hour = dt.datetime.fromtimestamp(s["called_ms"] / 1000, tz).hour
        hours.setdefault(hour, []).append(s["waited_ms"])
    return [{"hour": h, "called": len(w), "wait_p50_ms": percentile(w, 50),
             "wait_p90_ms": percentile(w, 90), "wait_max_ms": max(w)}
            for h, w in sorted(hours.items())]


def day_figures(stages: Sequence[Stage], slas: Mapping[str, Sla], now_ms: int,
                tz: zoneinfo.ZoneInfo) -> dict[str, Any]:
    """Everything the manager's page shows of the day's figures."""
    return {
        "total": figures(stages, slas, now_ms),
        "services": grouped(stages, lambda s: s["service"], slas, now_ms),
        "windows": grouped(stages, lambda s: s.get("window"), slas, now_ms),
        # Stages nobody signed in for (keypads, the console) are their own row, "".
        "operators": grouped([s for s in stages if s.get("called_ms") is not None],
                             lambda s: s.get("operator") or "", slas, now_ms),
        "hours": waits_by_hour(stages, tz),
    }
