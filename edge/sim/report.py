"""The numbers a manager reads from a simulated day: waits, SLA breaches, window use."""

from __future__ import annotations

import math
from typing import Any

from edge.sim.simulator import DayRun
from edge.sim.stats import percentile
from edge.sim.visitors import Visitor


def hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _minutes(values: list[int], still_waiting: int) -> dict[str, float]:
    m = [v / 60 for v in values]
    return {"p50": round(percentile(m, 50), 1), "p90": round(percentile(m, 90), 1),
            "max": round(max(m), 1) if m else 0.0, "still_waiting": still_waiting}


def waits_of(run: DayRun, vs: list[Visitor]) -> tuple[list[int], int]:
    """Seconds each ticketed visitor waited for the first call, and how many were never
    called.

    A called visitor's wait is the engine's own figure (ticket.called's wait_s, from the
    ticket or check-in to the call). A visitor never called waited at least until the day
    stopped; leaving them out would make a day with an unserved crowd look short-waited,
    so their wait counts up to then (the percentiles are then "at least" figures)."""
    waits, never = [], 0
    for v in vs:
        if v.ticket_id is None:
            continue
        if v.wait_s is not None:
            waits.append(v.wait_s)
        else:
            never += 1
            waits.append(max(0, run.end_s - v.arrive_s))
    return waits, never


def breached(v: Visitor, limit_s: float) -> bool:
    """Waited past the SLA: called after it, or never called at all (still waiting)."""
    return v.ticket_id is not None and (v.wait_s is None or v.wait_s > limit_s)


def build_report(run: DayRun) -> dict[str, Any]:
    """A JSON-able report; identical for identical (scenario, config, seed).

    Every visitor who came is counted once: served + no_shows + unserved + turned_away =
    visitors. Booked visitors who never came are not visitors (booked_never_came)."""
    head = run.scenario.scenario
    sla = {s.id: (s.sla_wait_min or head.sla_wait_min) for s in run.scenario.services}
    services = []
    all_waits: list[int] = []
    all_never = 0
    total_breaches = 0
    for load in run.scenario.services:
        vs = [v for v in run.visitors if v.service == load.id]
        waits, never = waits_of(run, vs)
        limit_s = sla[load.id] * 60
        breaches = sum(1 for v in vs if breached(v, limit_s))
        total_breaches += breaches
        all_waits += waits
        all_never += never
        ticketed = [v for v in vs if v.ticket_id is not None]
        came = [v for v in vs if v.comes]
        done = [v for v in vs if v.outcome == "done"]
        refused = sorted({v.refused for v in vs if v.outcome == "turned_away"})
        services.append({
            "service": load.id,
            "visitors": len(came),
            "ticketed": len(ticketed),
            "booked": sum(1 for v in vs if v.booked),
            "booked_checked_in": sum(1 for v in vs if v.checked_in),
            "booked_never_came": sum(1 for v in vs if v.outcome == "booked_no_show"),
            "served": len(done),
            "no_shows": sum(1 for v in vs if v.outcome == "no_show"),
            "unserved": sum(1 for v in vs if v.outcome == "unserved"),
            "turned_away": sum(1 for v in vs if v.outcome == "turned_away"),
            "turned_away_why": {why: sum(1 for v in vs if v.outcome == "turned_away" and v.refused == why)
                                for why in refused},
            "wait_min": _minutes(waits, never),
            "sla_wait_min": sla[load.id],
            "sla_breaches": breaches,
            "sla_breach_pct": round(100 * breaches / len(ticketed), 1) if ticketed else 0.0,
            "service_min_mean": round(sum(v.service_s for v in done) / len(done) / 60, 1)
            if done else 0.0,
        })
    day_s = run.end_s - run.open_s
    windows = []
    for d in run.desks:
        available = max(1, day_s - d.break_s)
        windows.append({"window": d.number, "label": d.label, "served": d.served,
                        "busy_min": round(d.busy_s / 60, 1), "break_min": round(d.break_s / 60, 1),
                        "utilisation_pct": round(100 * d.busy_s / available, 1)})
    peak_t, peak = max(((t, sum(w.values())) for t, w in run.samples), key=lambda x: (x[1], -x[0]),
                       default=(run.open_s, 0))
    ticketed_all = [v for v in run.visitors if v.ticket_id is not None]
    came_all = [v for v in run.visitors if v.comes]

    def count(outcome: str) -> int:
        return sum(1 for v in run.visitors if v.outcome == outcome)
    return {
        "scenario": head.name,
        "date": head.date.isoformat(),
        "weekday": head.date.strftime("%A"),
        "seed": run.seed,
        "windows_open": len(run.desks),
        "hours": f"{head.open}-{head.close}",
        "bookings": run.bookings_mode,
        "summary": {
            "visitors": len(came_all),
            "ticketed": len(ticketed_all),
            "served": count("done"),
            "no_shows": count("no_show"),
            "unserved": count("unserved"),
            "turned_away": count("turned_away"),
            "wait_min": _minutes(all_waits, all_never),
            "sla_breaches": total_breaches,
            "sla_breach_pct": round(100 * total_breaches / len(ticketed_all), 1) if ticketed_all else 0.0,
            "peak_queue": peak, "peak_at": hhmm(peak_t),
            "last_visitor_done": hhmm(run.end_s),
            "overtime_min": max(0, (run.end_s - run.close_s) // 60),
            "stopped_at_overtime_limit": run.cutoff,
            "checkin_refused": run.checkin_refused,
            "utilisation_pct": round(100 * sum(d.busy_s for d in run.desks) /
                                     max(1, sum(max(1, day_s - d.break_s) for d in run.desks)), 1),
        },
        "warnings": list(run.warnings),
        "services": services,
        "windows": windows,
        "timeline": [{"t": hhmm(t), "waiting": w} for t, w in run.samples],
    }


REFUSALS = {"after_close": "came after closing", "capacity_full": "capacity stop",
            "booking_only": "booked visitors only", "daily_cap": "daily cap reached",
            "closed": "center closed", "numbers_exhausted": "all ticket numbers in use"}


def _w(wait: dict[str, Any], key: str) -> str:
    """A wait figure; '>=' when visitors never called are in it (it is a lower bound)."""
    return f"{'>=' if wait['still_waiting'] else ''}{wait[key]}"


def format_report(r: dict[str, Any]) -> str:
    s = r["summary"]
    w = s["wait_min"]
    lines = [f"{r['scenario']} — {r['weekday']} {r['date']}, {r['hours']}, "
             f"{r['windows_open']} windows, seed {r['seed']}",
             f"  {s['visitors']} visitors: {s['served']} served, {s['no_shows']} no-shows, "
             f"{s['unserved']} unserved, {s['turned_away']} turned away",
             f"  wait p50 {_w(w, 'p50')} min, p90 {_w(w, 'p90')} min, max {_w(w, 'max')} min; "
             f"SLA breaches {s['sla_breaches']} ({s['sla_breach_pct']}% of {s['ticketed']} with a ticket)",
             f"  longest queue {s['peak_queue']} at {s['peak_at']}; last visitor done {s['last_visitor_done']}"
             f" ({s['overtime_min']} min after closing); windows busy {s['utilisation_pct']}%"
             + (f"; STOPPED at {s['last_visitor_done']} (the overtime limit, or midnight) with "
                f"{s['unserved']} not served" if s["stopped_at_overtime_limit"] else "")]
    if s["checkin_refused"]:
        lines.append(f"  {s['checkin_refused']} booked visitors were refused at check-in (too early or "
                     "late for the center's bookings.early_min / late_min) and took a walk-in ticket")
    if w["still_waiting"]:
        lines.append(f"  {w['still_waiting']} visitors were never called: their waits count until "
                     f"{s['last_visitor_done']}, so the waits marked >= are at least that long")
    lines += [f"  ! {warning}" for warning in r.get("warnings", [])]
    lines += ["",
              f"  {'service':<12}{'visitors':>9}{'served':>8}{'no-show':>8}{'unserved':>9}{'turned away':>12}"
              f"{'wait p50':>9}{'p90':>8}{'max':>8}{'SLA':>5}{'breaches':>11}"]
    for x in r["services"]:
        w = x["wait_min"]
        lines.append(f"  {x['service']:<12}{x['visitors']:>9}{x['served']:>8}{x['no_shows']:>8}"
                     f"{x['unserved']:>9}{x['turned_away']:>12}"
                     f"{_w(w, 'p50'):>9}{_w(w, 'p90'):>8}{_w(w, 'max'):>8}{x['sla_wait_min']:>5g}"
                     f"{x['sla_breaches']:>5} ({x['sla_breach_pct']:g}%)")
    for x in r["services"]:
        if x["turned_away"]:
            why = ", ".join(f"{REFUSALS.get(k, k)} {n}" for k, n in x["turned_away_why"].items())
            lines.append(f"  {x['service']}: {x['turned_away']} turned away ({why})")
    lines += ["", f"  {'window':<28}{'served':>7}{'busy min':>10}{'break':>7}{'busy %':>8}"]
    for win in r["windows"]:
        lines.append(f"  {win['label'][:27]:<28}{win['served']:>7}{win['busy_min']:>10}{win['break_min']:>7g}"
                     f"{win['utilisation_pct']:>8}")
    if r["bookings"] != "engine":
        lines += ["", "  note: booked visitors were simulated as walk-ins (this engine has no bookings)"]
    return "\n".join(lines)


def days_summary(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Many seeds of one scenario: each day's headline numbers, and their median and worst.

    One seed is one day's luck: on the example Monday with 4 windows the p90 wait goes
    from 8 to 149 minutes across 20 seeds. A decision needs the spread, not one draw."""
    def pick(r: dict[str, Any]) -> dict[str, Any]:
        s = r["summary"]
        return {"seed": r["seed"], "visitors": s["visitors"], "wait_p50": s["wait_min"]["p50"],
                "wait_p90": s["wait_min"]["p90"], "wait_max": s["wait_min"]["max"],
                "still_waiting": s["wait_min"]["still_waiting"], "sla_breach_pct": s["sla_breach_pct"],
                "last_visitor_done": s["last_visitor_done"], "utilisation_pct": s["utilisation_pct"]}
    days = [pick(r) for r in reports]
    keys = ("visitors", "wait_p50", "wait_p90", "wait_max", "sla_breach_pct", "utilisation_pct")

    def median(key: str) -> float:
        value = round(percentile([d[key] for d in days], 50), 1)
        return int(value) if key == "visitors" else value

    def worst(key: str) -> float:
        return round(max(d[key] for d in days), 1)
    first = reports[0]
    return {"scenario": first["scenario"], "date": first["date"], "windows_open": first["windows_open"],
            "seeds": [d["seed"] for d in days], "days": days,
            "median": {k: median(k) for k in keys} | {"last_visitor_done": percentile_hhmm(days, 50)},
            "worst": {k: worst(k) for k in keys} | {"last_visitor_done": max(d["last_visitor_done"] for d in days)}}


def percentile_hhmm(days: list[dict[str, Any]], p: int) -> str:
    """Nearest-rank percentile of "HH:MM" times (zero-padded, so they sort as text)."""
    ordered = sorted(d["last_visitor_done"] for d in days)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1] if ordered else ""


def format_days(summary: dict[str, Any]) -> str:
    lines = [f"{summary['scenario']} — {summary['date']}, {summary['windows_open']} windows, "
             f"{len(summary['days'])} seeds ({summary['seeds'][0]}..{summary['seeds'][-1]})",
             "",
             f"  {'seed':<8}{'visitors':>9}{'wait p50':>10}{'p90':>8}{'max':>8}{'over SLA %':>12}"
             f"{'last done':>11}{'busy %':>8}"]

    def row(name: str, d: dict[str, Any], marker: str = "") -> str:
        return (f"  {name:<8}{d['visitors']:>9}{marker + str(d['wait_p50']):>10}"
                f"{marker + str(d['wait_p90']):>8}{marker + str(d['wait_max']):>8}"
                f"{d['sla_breach_pct']:>12}{d['last_visitor_done']:>11}{d['utilisation_pct']:>8}")
    for d in summary["days"]:
        lines.append(row(str(d["seed"]), d, ">=" if d["still_waiting"] else ""))
    lines += ["", row("median", summary["median"]), row("worst", summary["worst"]),
              "", "  worst = the worst day on each column (not one day); >= : visitors never called"]
    return "\n".join(lines)
