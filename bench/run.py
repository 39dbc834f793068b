"""The benchmark runner: every measurement of issue 8 in one run, a table, a JSON file.

    python -m bench [--quick] [--out DIR] [--data-dir DIR] [--only NAME,...]

Exit status: 1 when a budget FAILs in a full run; 0 in --quick mode whatever the figures
(quick runs are for the test suite and for trying things; their samples are too few to
judge). A missing part (GAP) never fails the run: the table says what is missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from bench import budgets
from bench.common import ROOT
from bench.machine import describe

logger = logging.getLogger(__name__)

SCHEMA = 1
BENCHES = ("latency", "press", "drain", "startup", "footprint", "printing", "panel")


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"levels": [0, 500, 2000], "samples": 30, "presses": 5, "starts": 2,
                "visitors": 40, "drain_events": 1000, "paper_presses": 3, "paper_tickets": 40,
                "paper_rounds": 1, "clicks": 20}
    return {"levels": [0, 1000, 5000], "samples": 1000, "presses": 200, "starts": 7,
            "visitors": 500, "drain_events": 20000, "paper_presses": 30, "paper_tickets": 400,
            "paper_rounds": 7, "clicks": 200}


def _drain(data_dir: Path, events: int) -> dict[str, Any]:
    """The sync work's bench (bench/sync_drain.py): its broker, baseline and drain, one run."""
    try:
        sync_drain = importlib.import_module("bench.sync_drain")
    except ModuleNotFoundError as e:
        if e.name != "bench.sync_drain":
            raise
        return {"status": "missing", "reason": "bench/sync_drain.py (sync work) is not in the tree yet"}
    if hasattr(sync_drain, "run"):
        return sync_drain.run(data_dir, events)
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        return {"status": "missing", "reason": "mosquitto is not installed (apt-get install mosquitto)"}
    # The same payload as `bench/sync_drain.py` main(): one event as it goes on the wire.
    sample = json.dumps({"v": 1, "id": "0" * 36, "site": "bench", "device": "edge-1", "seq": 1,
                         "boot": "b" * 36, "type": "bench.event", "ts": 1_800_000_000_000,
                         "mono_ms": 1, "clock_synced": True, "hist": True,
                         "data": {"ticket": "A-001", "service": "docs", "window": 1,
                                  "note": "x" * 120}}).encode()
    tmp = data_dir / "drain"
    tmp.mkdir()
    broker, port = sync_drain.start_broker(tmp)
    try:
        base = sync_drain.baseline(port, events, sample)
        rate, info = sync_drain.drain(port, events, tmp)
    finally:
        broker.terminate()
        broker.wait(5)
    ratio = rate / base if base else 0.0
    return {"events": events, "payload_bytes": len(sample),
            "one_per_message_qos1_per_s": round(base), "drain_per_s": round(rate),
            "ratio": round(ratio, 2), "details": info,
            "summary": f"{rate:,.0f} events/s drained vs {base:,.0f}/s one-per-message QoS 1 "
                       f"({ratio:.2f}x, {events} events)",
            "detail": "drain = committed by central + acked + deleted; baseline = PUBACK only"}


def _runners(s: dict[str, Any], data_dir: Path) -> dict[str, Callable[[], dict[str, Any]]]:
    from bench import footprint, latency, panel, press, printing, startup
    return {
        "latency": lambda: latency.run(data_dir, s["levels"], s["samples"]),
        "press": lambda: press.run(data_dir, s["presses"]),
        "drain": lambda: _drain(data_dir, s["drain_events"]),
        "startup": lambda: startup.run(s["starts"], data_dir),
        "footprint": lambda: footprint.run(data_dir, s["visitors"]),
        "printing": lambda: printing.run(data_dir / "printing", s["paper_presses"],
                                         s["paper_tickets"], s["paper_rounds"]),
        "panel": lambda: panel.run(data_dir, s["clicks"]),
    }


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def table(report: dict[str, Any]) -> str:
    """The human view of a report: measurements, then the budget verdicts."""
    r = report["results"]
    rows: list[tuple[str, str]] = []
    lat = r.get("latency")
    if lat:
        rc = lat["raw_commit"]
        rows.append(("raw SQLite commit (WAL+FULL)", f"p50 {rc['p50_ms']:.3f} ms  p99 {rc['p99_ms']:.3f} ms"))
        for n, v in lat["levels"].items():
            for cmd in ("issue", "call_next"):
                x = v[cmd]
                rows.append((f"{cmd} with {n} waiting",
                             f"p50 {x['p50_ms']:.3f} ms  p99 {x['p99_ms']:.3f} ms  "
                             f"(raw commit p99 {v['raw_commit']['p99_ms']:.3f} ms)"))
        b = lat.get("breakdown")
        if b:
            for key, what in (("decide", "engine decide"), ("commit", "store commit"),
                              ("apply_snapshot", "engine apply + snapshot"),
                              ("in_process_total", "the three, on one thread"),
                              ("hand_over", "controller round trip, no change")):
                rows.append((f"  {what} ({b['waiting']} waiting)",
                             f"p50 {b[key]['p50_ms']:.3f} ms  p99 {b[key]['p99_ms']:.3f} ms"))
        fl = lat.get("floor")
        if fl:
            f, fr = fl["floor"], fl["raw_commit"]
            rows.append(("  floor: round trip + one raw commit, no queue work",
                         f"p50 {f['p50_ms']:.3f} ms  p99 {f['p99_ms']:.3f} ms  "
                         f"({f['p99_ms'] / fr['p99_ms']:.2f}x raw commit p99 {fr['p99_ms']:.3f} ms)"))
    p = r.get("press")
    if p:
        rows.append(("button release -> first printer byte",
                     f"p50 {p['p50_ms']:.1f} ms  p99 {p['p99_ms']:.1f} ms  ({p['n']} tickets)"))
        rows.append(("printer bytes per raster ticket", _fmt(p["printer_bytes_per_ticket"])))
    d = r.get("drain")
    if d:
        if d.get("status") == "missing":
            rows.append(("backlog drain", f"GAP: {d['reason']}"))
        else:
            rows.append(("backlog drain", d.get("summary") or json.dumps(d)[:100]))
    st = r.get("startup")
    if st:
        rows.append(("cold start to ready", f"p50 {st['ready_s']['p50']:.3f} s  max {st['ready_s']['max']:.3f} s  "
                     f"(CPU {st['start_cpu_s']:.3f} s)"))
        rows.append(("peak RSS (demo config)", f"{st['peak_rss_mb']:.1f} MB"))
        for change in st.get("config_changes", []):
            rows.append(("  demo config changed for `kezek run`", change))
        top = ", ".join(f"{m['module']} {m['cumulative_us'] / 1000:.0f} ms" for m in st["slowest_imports"][:5])
        rows.append(("slowest imports at start", top))
    f = r.get("footprint")
    if f:
        rows.append(("database bytes per visitor", f"{f['db_file_bytes_per_visitor']:.0f} B file growth"
                     + (f" (tickets {f['tickets_bytes_per_visitor']:.0f} B, outbox "
                        f"{f['outbox_bytes_per_visitor']:.0f} B until acked)"
                        if "tickets_bytes_per_visitor" in f else "")))
    pr = r.get("printing")
    if pr:
        for name, b in pr["bytes"].items():
            rows.append((f"raster ticket {name}, bytes",
                         f"whole {b['whole']} ({b['whole_s_115200']:.2f} s at 115200), with stored "
                         f"graphics {b['stored']} ({b['stored_s_115200']:.2f} s)"))
        c = pr["render_cpu"]
        rows.append(("render CPU per ticket", f"p50 {c['p50_ms']:.3f} ms  p99 {c['p99_ms']:.3f} ms  "
                                               f"mean {c['mean_ms']:.3f} ms"))
        for key, what in (("press_stored", "stored graphics"), ("press_whole", "whole tickets")):
            x = pr[key]
            rows.append((f"release -> last byte, pty 115200, {what}",
                         f"p50 {x['p50_ms']:.1f} ms  p99 {x['p99_ms']:.1f} ms  ({x['n']} tickets)"))
        sr = pr["service_rate"]
        rows.append(("service tickets/s, printing on / off",
                     f"{sr['on_printed_per_s']:.0f} / {sr['off_per_s']:.0f} ({sr['ratio']:.2f}x, "
                     f"{sr['tickets']} tickets x {sr['rounds']})"))
    pa = r.get("panel")
    if pa:
        for key, what in (("call_next_reply", "committed reply"), ("call_next_hall", "hall screen shows it"),
                          ("call_next_panel", "panel's live view shows it"), ("done_reply", "done: reply")):
            x = pa[key]
            rows.append((f"panel click -> {what}",
                         f"p50 {x['p50_ms']:.1f} ms  p99 {x['p99_ms']:.1f} ms  ({x['n']} clicks)"))
        m = pa["peak_rss_mb"]
        rows.append(("peak RSS, demo config, panel on / off",
                     f"{m['panel_on']:.1f} / {m['panel_off']:.1f} MB (sign-in {pa['sign_in_ms']:.0f} ms)"))
    for name, err in report.get("errors", {}).items():
        rows.append((f"{name}: ERROR", err))
    width = max(len(a) for a, _ in rows) if rows else 10
    lines = [f"Kezek Edge benchmarks — {report['machine']['cpu']}, {report['machine']['cores']} cores, "
             f"Python {report['machine']['python']}{' (quick)' if report['quick'] else ''}", ""]
    lines += [f"  {a:<{width}}  {b}" for a, b in rows]
    lines += ["", "Budget:"]
    for v in report["budgets"]:
        lines.append(f"  {v['status']:<4}  {v['name']:<36} {v['value']:>10}  (budget {v['limit']})  {v['detail']}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="few samples (seconds, for tests); budget misses do not fail the run")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results",
                   help="where the JSON report goes (default bench/results/)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="where the benchmark databases are written (default: a temporary directory "
                        "inside --out, i.e. the same disk); point it at the Pi's state disk")
    p.add_argument("--only", default=",".join(BENCHES),
                   help=f"comma-separated subset of: {', '.join(BENCHES)}")
    p.add_argument("--samples", type=int, default=None, help="override samples per latency level")
    p.add_argument("--levels", default=None, help="override waiting counts, e.g. 0,1000,5000")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    s = _settings(args.quick)
    if args.samples:
        s["samples"] = args.samples
    if args.levels:
        s["levels"] = [int(x) for x in args.levels.split(",")]
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = [x for x in only if x not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    base = args.data_dir or args.out
    base.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="kezek-bench-", dir=base))
    started = dt.datetime.now(dt.timezone.utc)
    report: dict[str, Any] = {"schema": SCHEMA, "quick": args.quick, "settings": s,
                              "started": started.isoformat(timespec="seconds"),
                              "machine": describe(data_dir), "results": {}, "errors": {}}
    runners = _runners(s, data_dir)
    try:
        for name in only:
            t0 = time.perf_counter()
            print(f"running {name} ...", file=sys.stderr, flush=True)
            try:
                report["results"][name] = runners[name]()
            except Exception as e:  # one broken bench must not hide the others' figures
                logger.exception("benchmark %s failed", name)
                report["errors"][name] = f"{type(e).__name__}: {e}"
            report.setdefault("durations_s", {})[name] = round(time.perf_counter() - t0, 2)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    verdicts = budgets.check(report["results"])
    report["budgets"] = [v.as_dict() for v in verdicts]
    name = f"bench-{started.strftime('%Y%m%dT%H%M%SZ')}{'-quick' if args.quick else ''}.json"
    path = args.out / name
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(report))
    print(f"\nsaved {path}")
    failed = [v for v in verdicts if v.status == "FAIL"]
    if report["errors"]:
        return 1
    return 1 if failed and not args.quick else 0


if __name__ == "__main__":
    sys.exit(main())
