"""The numbers a manager reads from a simulated day: waits, SLA breaches, window use."""

from __future__ import annotations

from typing import Any

from edge.sim.simulator import DayRun
from edge.sim.stats import percentile


def hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _minutes(values: list[int]) -> dict[str, float]:
    m = [v / 60 for v in values]
    return {"p50": round(percentile(m, 50), 1), "p90": round(percentile(m, 90), 1),
            "max": round(max(m), 1) if m else 0.0}


def build_report(run: DayRun) -> dict[str, Any]:
    """A JSON-able report; identical for identical (scenario, config, seed)."""
    head = run.scenario.scenario
    sla = {s.id: (s.sla_wait_min or head.sla_wait_min) for s in run.scenario.services}
    services = []
    all_waits: list[int] = []
    total_breaches = 0
    for load in run.scenario.services:
        vs = [v for v in run.visitors if v.service == load.id]
        waits = [v.wait_s for v in vs if v.wait_s is not None]
        limit_s = sla[load.id] * 60
        # Waiting past the SLA counts whether or not the visitor was finally called.
        breaches = sum(1 for w in waits if w > limit_s) + \
            sum(1 for v in vs if v.outcome == "unserved")
        total_breaches += breaches
        all_waits += waits
        ticketed = [v for v in vs if v.ticket_id is not None]
        services.append({
            "service": load.id,
            "visitors": len(ticketed),
            "booked": sum(1 for v in vs if v.booked),
            "booked_checked_in": sum(1 for v in vs if v.checked_in),
            "booked_never_came": sum(1 for v in vs if v.outcome == "booked_no_show"),
            "served": sum(1 for v in vs if v.outcome == "done"),
            "no_shows": sum(1 for v in vs if v.outcome == "no_show"),
            "unserved": sum(1 for v in vs if v.outcome == "unserved"),
            "turned_away_after_close": sum(1 for v in vs if v.outcome == "not_issued"),
            "wait_min": _minutes(waits),
            "sla_wait_min": sla[load.id],
            "sla_breaches": breaches,
            "sla_breach_pct": round(100 * breaches / len(ticketed), 1) if ticketed else 0.0,
            "service_min_mean": round(sum(v.service_s for v in ticketed) / len(ticketed) / 60, 1)
            if ticketed else 0.0,
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
    return {
        "scenario": head.name,
        "date": head.date.isoformat(),
        "weekday": head.date.strftime("%A"),
        "seed": run.seed,
        "windows_open": len(run.desks),
        "hours": f"{head.open}-{head.close}",
        "bookings": run.bookings_mode,
        "summary": {
            "visitors": len(ticketed_all),
            "served": sum(1 for v in run.visitors if v.outcome == "done"),
            "wait_min": _minutes(all_waits),
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
        "services": services,
        "windows": windows,
        "timeline": [{"t": hhmm(t), "waiting": w} for t, w in run.samples],
    }


def format_report(r: dict[str, Any]) -> str:
    s = r["summary"]
    lines = [f"{r['scenario']} — {r['weekday']} {r['date']}, {r['hours']}, "
             f"{r['windows_open']} windows, seed {r['seed']}",
             f"  {s['visitors']} visitors, {s['served']} served; wait p50 {s['wait_min']['p50']} min, "
             f"p90 {s['wait_min']['p90']} min, max {s['wait_min']['max']} min; "
             f"SLA breaches {s['sla_breaches']} ({s['sla_breach_pct']}%)",
             f"  longest queue {s['peak_queue']} at {s['peak_at']}; last visitor done {s['last_visitor_done']}"
             f" ({s['overtime_min']} min after closing); windows busy {s['utilisation_pct']}%"
             + ("; STOPPED at the overtime limit with people waiting" if s["stopped_at_overtime_limit"] else ""),
             "",
             f"  {'service':<12}{'visitors':>9}{'served':>8}{'no-show':>8}{'wait p50':>9}{'p90':>7}"
             f"{'max':>7}{'SLA':>6}{'breaches':>10}"]
    for x in r["services"]:
        w = x["wait_min"]
        lines.append(f"  {x['service']:<12}{x['visitors']:>9}{x['served']:>8}{x['no_shows']:>8}"
                     f"{w['p50']:>9}{w['p90']:>7}{w['max']:>7}{x['sla_wait_min']:>6g}"
                     f"{x['sla_breaches']:>5} ({x['sla_breach_pct']:g}%)")
    lines += ["", f"  {'window':<28}{'served':>7}{'busy min':>10}{'break':>7}{'busy %':>8}"]
    for w in r["windows"]:
        lines.append(f"  {w['label'][:27]:<28}{w['served']:>7}{w['busy_min']:>10}{w['break_min']:>7g}"
                     f"{w['utilisation_pct']:>8}")
    if r["bookings"] != "engine":
        lines += ["", "  note: booked visitors were simulated as walk-ins (this engine has no bookings)"]
    return "\n".join(lines)
