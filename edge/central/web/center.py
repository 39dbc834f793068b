"""One center's screen and the day's reports: windows and who is signed in, the queue per
service, waits and service times (p50/p90) per service and per operator, ratings per
operator, alarms with their history, waits through the day; and the CSV downloads.

Built on demand from one site's day of events (the `events_day` index, one partition) and
its devices' last birth/will and health. An event without an `operator` key counts under
"unknown". No IIN: only tickets, services, windows, operators and figures are read out.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from edge.central.livereads import devices_now

UNKNOWN = "unknown"
TYPES = ["ticket.called", "ticket.done", "rating.recorded", "alarm.raised", "alarm.cleared",
         "window.opened", "window.closed", "window.paused", "window.resumed", "ticket.issued"]


def pct(values: list[int], p: float) -> int | None:
    """The p-th percentile (nearest rank) of whole seconds; None for no values."""
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def _figures(waits: list[int], services: list[int], scores: list[int]) -> dict[str, Any]:
    return {"calls": len(waits), "wait_p50_s": pct(waits, 50), "wait_p90_s": pct(waits, 90),
            "served": len(services), "service_p50_s": pct(services, 50),
            "service_p90_s": pct(services, 90), "ratings": len(scores),
            "rating_avg": round(sum(scores) / len(scores), 2) if scores else None}


def center_view(store: Any, site: str, day: date, now: int, zone: ZoneInfo) -> dict[str, Any]:
    events = store.day_events(site, day, TYPES)
    groups: dict[str, dict[str, dict[str, list[int]]]] = {"service": {}, "operator": {}}
    window_operator: dict[tuple[str, int], str] = {}
    hours: dict[int, list[int]] = {}
    alarms: list[dict[str, Any]] = []

    def add(kind: str, key: str, what: str, value: int) -> None:
        groups[kind].setdefault(key, {"w": [], "s": [], "r": []})[what].append(value)

    for e in events:
        d = e["data"] if isinstance(e["data"], dict) else {}
        device = e["stream"].split("~", 1)[0]
        window = d.get("window")
        named = d.get("operator") if isinstance(d.get("operator"), str) else None
        if named and isinstance(window, int):
            window_operator[(device, window)] = named
        op: str = named or (window_operator.get((device, window), UNKNOWN)
                            if isinstance(window, int) else UNKNOWN)
        service: str = d["service"] if isinstance(d.get("service"), str) else UNKNOWN
        t = e["type"]
        if t == "ticket.called" and int(d.get("calls", 1) or 1) == 1 \
                and isinstance(d.get("wait_s"), int):
            add("service", service, "w", d["wait_s"])
            add("operator", op, "w", d["wait_s"])
            hour = datetime.fromtimestamp(e["ts"] / 1000, zone).hour
            hours.setdefault(hour, []).append(d["wait_s"])
        elif t == "ticket.done" and isinstance(d.get("service_s"), int):
            add("service", service, "s", d["service_s"])
            add("operator", op, "s", d["service_s"])
        elif t == "rating.recorded" and isinstance(d.get("score"), int):
            add("service", service, "r", d["score"])
            add("operator", op, "r", d["score"])
        elif t in ("alarm.raised", "alarm.cleared"):
            alarms.append({"ts": e["ts"], "device": device, "raised": t == "alarm.raised",
                           "alarm": str(d.get("alarm", "")),
                           "severity": str(d.get("severity", "")),
                           "message": str(d.get("message", ""))[:300]})
    devices, windows, queue = [], [], []
    open_alarms: list[str] = []
    for dv in devices_now(store):
        if dv["site"] != site:
            continue
        h = dv["health"] if isinstance(dv["health"], dict) else {}
        q = h.get("queue") or {}
        devices.append({"device": dv["device"], "online": dv["online"],
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
    for (device, number), op in sorted(window_operator.items()):
        if not any(w["device"] == device and w["number"] == number for w in windows):
            windows.append({"device": device, "number": number, "label": "", "state": None,
                            "ticket": None, "service": None, "operator": op})
    return {
        "site": site, "day": day.isoformat(), "now_ms": now, "devices": devices,
        "windows": sorted(windows, key=lambda w: (w["device"], w["number"])), "queue": queue,
        "per_service": {k: _figures(g["w"], g["s"], g["r"])
                        for k, g in sorted(groups["service"].items())},
        "per_operator": {k: _figures(g["w"], g["s"], g["r"])
                         for k, g in sorted(groups["operator"].items())},
        "waits_by_hour": [{"hour": h, "avg_s": round(sum(v) / len(v)), "calls": len(v)}
                          for h, v in sorted(hours.items())],
        "alarms_open": sorted(set(open_alarms)), "alarms": alarms[-200:],
    }


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
