"""One center's screen and the day's reports: windows and who is signed in, the queue per
service, waits and service times (p50/p90) per service and per operator, ratings per
operator, alarms with their history, waits through the day; and the CSV downloads.

Today's screen comes from the board's fold (CenterDay, kept as events arrive: board.py);
another day's is built on demand from that site's day of events (the `events_day` index,
one partition). Both add the devices' last birth/will and health. An event without an
`operator` key counts under "unknown". No IIN: only tickets, services, windows,
operators and figures are read out.
"""

from __future__ import annotations

import csv
import io
from array import array
from collections import deque
from datetime import date, datetime
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from edge.central.livereads import devices_now

UNKNOWN = "unknown"
TYPES = ["ticket.called", "ticket.done", "rating.recorded", "alarm.raised", "alarm.cleared",
         "window.opened", "window.closed", "window.paused", "window.resumed", "ticket.issued"]
TYPE_SET = frozenset(TYPES)
ALARMS_KEPT = 200       # the day's alarm history shown: the latest
INT64 = 1 << 63
QUARTER_MS = 15 * 60_000


def pct(values: Sequence[int], p: float) -> int | None:
    """The p-th percentile (nearest rank) of whole seconds; None for no values."""
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def _figures(waits: Sequence[int], services: Sequence[int], scores: Sequence[int]
             ) -> dict[str, Any]:
    return {"calls": len(waits), "wait_p50_s": pct(waits, 50), "wait_p90_s": pct(waits, 90),
            "served": len(services), "service_p50_s": pct(services, 50),
            "service_p90_s": pct(services, 90), "ratings": len(scores),
            "rating_avg": round(sum(scores) / len(scores), 2) if scores else None}


class CenterDay:
    """One center's day figures, folded event by event in each stream's seq order: from
    the store on demand (center_view), or as the board folds new events (board.py), so a
    screen of today costs no read of the day."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        # service / operator -> waits ("w"), service times ("s"), ratings ("r")
        self.groups: dict[str, dict[str, dict[str, array[int]]]] = {"service": {},
                                                                    "operator": {}}
        self.window_operator: dict[tuple[str, int], str] = {}
        self.hours: dict[int, list[int]] = {}      # hour -> [sum of waits, calls]
        self.alarms: deque[dict[str, Any]] = deque(maxlen=ALARMS_KEPT)
        self._hours: dict[int, int] = {}         # quarter hour since the epoch -> local hour

    def _hour(self, ts: int) -> int:
        # Every zone's offset today, and every change of it, falls on a quarter hour: the local
        # hour is the same within one, so it is computed once per quarter.
        q = ts // QUARTER_MS
        hour = self._hours.get(q)
        if hour is None:
            hour = self._hours[q] = datetime.fromtimestamp(ts / 1000, self.zone).hour
        return hour

    def _add(self, kind: str, key: str, what: str, value: int) -> None:
        g = self.groups[kind].get(key)
        if g is None:
            g = self.groups[kind][key] = {"w": array("q"), "s": array("q"), "r": array("q")}
        # Compact arrays (a country's day is millions of figures); a value no clock can
        # measure is clamped to what the array holds rather than refused, so it still counts.
        g[what].append(min(max(value, -INT64), INT64 - 1))

    def add(self, e: dict[str, Any]) -> None:
        """One event (with its `stream`); types not in TYPES change nothing."""
        t = e["type"]
        if t not in TYPE_SET:
            return
        d = e["data"] if isinstance(e["data"], dict) else {}
        device = e["stream"].split("~", 1)[0]
        window = d.get("window")
        named = d.get("operator") if isinstance(d.get("operator"), str) else None
        if named and isinstance(window, int):
            self.window_operator[(device, window)] = named
        op: str = named or (self.window_operator.get((device, window), UNKNOWN)
                            if isinstance(window, int) else UNKNOWN)
        service: str = d["service"] if isinstance(d.get("service"), str) else UNKNOWN
        if t == "ticket.called" and int(d.get("calls", 1) or 1) == 1 \
                and isinstance(d.get("wait_s"), int):
            self._add("service", service, "w", d["wait_s"])
            self._add("operator", op, "w", d["wait_s"])
            hour = self.hours.setdefault(self._hour(e["ts"]), [0, 0])
            hour[0] += d["wait_s"]
            hour[1] += 1
        elif t == "ticket.done" and isinstance(d.get("service_s"), int):
            self._add("service", service, "s", d["service_s"])
            self._add("operator", op, "s", d["service_s"])
        elif t == "rating.recorded" and isinstance(d.get("score"), int):
            self._add("service", service, "r", d["score"])
            self._add("operator", op, "r", d["score"])
        elif t in ("alarm.raised", "alarm.cleared"):
            self.alarms.append({"ts": e["ts"], "device": device, "raised": t == "alarm.raised",
                                "alarm": str(d.get("alarm", "")),
                                "severity": str(d.get("severity", "")),
                                "message": str(d.get("message", ""))[:300]})

    def view(self, site: str, day: date, now: int, devices: list[dict[str, Any]]
             ) -> dict[str, Any]:
        """The screen: these figures with the site's devices (livereads.devices_now rows)."""
        return {"site": site, "day": day.isoformat(), "now_ms": now,
                **_devices_part(devices, self.window_operator, now),
                "per_service": {k: _figures(g["w"], g["s"], g["r"])
                                for k, g in sorted(self.groups["service"].items())},
                "per_operator": {k: _figures(g["w"], g["s"], g["r"])
                                 for k, g in sorted(self.groups["operator"].items())},
                "waits_by_hour": [{"hour": h, "avg_s": round(v[0] / v[1]), "calls": v[1]}
                                  for h, v in sorted(self.hours.items())],
                "alarms": list(self.alarms)}


def center_view(store: Any, site: str, day: date, now: int, zone: ZoneInfo) -> dict[str, Any]:
    """One center's screen for any day, read from the store (its day of events)."""
    figures = CenterDay(zone)
    for e in store.day_events(site, day, TYPES):
        figures.add(e)
    return figures.view(site, day, now, [d for d in devices_now(store) if d["site"] == site])


def _devices_part(devices: list[dict[str, Any]], window_operator: dict[tuple[str, int], str],
                  now: int) -> dict[str, Any]:
    """What the site's devices' last birth/will and health say: devices, windows (with who
    is signed in at each), the queue per service, open alarms."""
    out_devices, windows, queue = [], [], []
    open_alarms: list[str] = []
    for dv in devices:
        h = dv["health"] if isinstance(dv["health"], dict) else {}
        q = h.get("queue") or {}
        out_devices.append({"device": dv["device"], "online": dv["online"],
                            "health_age_s": (now - dv["health_ms"]) // 1000
                            if dv["health_ms"] else None})
        open_alarms += [a for a in (h.get("summary") or {}).get("alarms", [])
                        if isinstance(a, str)]
        for w in q.get("windows", []) if isinstance(q.get("windows"), list) else []:
            if not isinstance(w, dict) or not isinstance(w.get("number"), int):
                continue
            windows.append({"device": dv["device"], "number": w["number"],
                            "label": str(w.get("label") or ""), "state": w.get("state"),
                            "ticket": w.get("ticket"), "service": w.get("service"),
                            "operator": window_operator.get((dv["device"], w["number"]),
                                                            UNKNOWN)})
        for s in q.get("services", []) if isinstance(q.get("services"), list) else []:
            if isinstance(s, dict) and isinstance(s.get("id"), str):
                queue.append({"device": dv["device"], "service": s["id"],
                              "names": s.get("names") or {},
                              "waiting": int(s.get("waiting", 0) or 0)})
    shown = {(w["device"], w["number"]) for w in windows}
    for (device, number), op in sorted(window_operator.items()):
        if (device, number) not in shown:
            windows.append({"device": device, "number": number, "label": "", "state": None,
                            "ticket": None, "service": None, "operator": op})
    return {"devices": out_devices,
            "windows": sorted(windows, key=lambda w: (w["device"], w["number"])),
            "queue": queue, "alarms_open": sorted(set(open_alarms))}


def country_csv(rows: list[dict[str, Any]]) -> str:
    """The day's report per center (kezek central's roll-up: docs/central.md)."""
    out = io.StringIO()
    w = csv.writer(out)
    cols = ["site", "issued", "served", "no_show", "ratings", "rating_avg", "wait_avg_s",
            "service_avg_s"]
    w.writerow(cols)
    for r in rows:
        w.writerow(["" if r.get(c) is None else r[c] for c in cols])
    return out.getvalue()


def operators_csv(view: dict[str, Any]) -> str:
    """One center's day per operator and per service: waits, service times, ratings."""
    out = io.StringIO()
    w = csv.writer(out)
    cols = ["calls", "wait_p50_s", "wait_p90_s", "served", "service_p50_s", "service_p90_s",
            "ratings", "rating_avg"]
    w.writerow(["site", "day", "by", "key", *cols])
    for by in ("operator", "service"):
        for key, f in view[f"per_{by}"].items():
            w.writerow([view["site"], view["day"], by, key,
                        *("" if f[c] is None else f[c] for c in cols)])
    return out.getvalue()
