"""`kezek simulate --config FILE [--seed N] [--seeds N] [--windows N] [--out DIR] [--json]`: simulate a day."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="simulate a day of the center with the real queue engine",
                       description="Simulate a whole day (arrivals, service times, breaks, bookings, "
                                   "no-shows) through the real queue engine with a simulated clock; "
                                   "prints waits, SLA breaches and window use; writes a JSON report "
                                   "and a PNG chart with --out. See docs/simulator.md.")
    p.add_argument("--config", required=True, type=Path,
                   help="scenario TOML (e.g. config/sim-monday.toml); it names the center config")
    p.add_argument("--seed", type=int, default=1, help="random seed; the same seed gives the same day")
    p.add_argument("--seeds", type=int, default=None,
                   help="play this many days (seeds --seed, --seed+1, ...) and show each day's "
                        "numbers with their median and worst: one seed is one day's luck")
    p.add_argument("--windows", type=int, default=None,
                   help="open this many windows (the first N; more are copies of windows 1, 2, ...)")
    p.add_argument("--out", type=Path, default=None,
                   help="write report.json and chart.png here (named by windows and seed)")
    p.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import json

    from edge.errors import ConfigError, KezekError
    from edge.sim.report import build_report, days_summary, format_days, format_report
    from edge.sim.scenario import load_scenario
    from edge.sim.simulator import simulate

    # Exit codes as the other commands: 2 for a bad command line (argparse's own code),
    # 1 for an invalid scenario or center config (like check-config), 0 for a report.
    if args.windows is not None and not 1 <= args.windows <= 99:
        print(f"kezek simulate: --windows must be 1..99 (got {args.windows}); leave it out to open "
              "the scenario's windows", file=sys.stderr)
        return 2
    if args.seeds is not None and not 1 <= args.seeds <= 1000:
        print(f"kezek simulate: --seeds must be 1..1000 (got {args.seeds})", file=sys.stderr)
        return 2
    if args.seeds is not None and args.out is not None:
        print("kezek simulate: --out draws one day; leave out --seeds, or pick a seed with --seed",
              file=sys.stderr)
        return 2
    if args.out is not None:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            print(f"kezek simulate: --out {args.out}: cannot make that directory "
                  f"({e.strerror}); give a directory path", file=sys.stderr)
            return 2
    try:
        scenario, config = load_scenario(args.config, args.windows)
        if args.seeds is not None:
            summary = days_summary([build_report(simulate(scenario, config, seed))
                                    for seed in range(args.seed, args.seed + args.seeds)])
            print(json.dumps(summary, indent=2, ensure_ascii=False) if args.json
                  else format_days(summary))
            return 0
        run = simulate(scenario, config, args.seed)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 1
    except KezekError as e:
        print(f"kezek simulate: {e}", file=sys.stderr)
        return 1
    report = build_report(run)
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else format_report(report))
    if args.out:
        from edge.sim.chart import draw_chart
        stem = f"{args.config.stem}-w{len(run.desks)}-s{args.seed}"
        try:
            (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False)
                                                  + "\n", encoding="utf-8")
            chart = draw_chart(run, report, args.out / f"{stem}.png")
        except OSError as e:
            print(f"kezek simulate: --out {args.out}: cannot write the report ({e.strerror})",
                  file=sys.stderr)
            return 1
        print(f"\nsaved {args.out / (stem + '.json')} and {chart}", file=sys.stderr)
    return 0
