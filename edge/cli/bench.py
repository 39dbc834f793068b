"""`kezek bench [--quick] [--out DIR] ...`: the benchmarks of bench/ (a source checkout only)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run the performance benchmarks (docs/performance.md)",
                       description="Same as `python -m bench` in the project root.")
    p.add_argument("--quick", action="store_true", help="seconds; budget misses do not fail the run")
    p.add_argument("--out", default=None, help="where the JSON report goes (default bench/results/)")
    p.add_argument("--data-dir", default=None, help="where the benchmark databases are written")
    p.add_argument("--only", default=None, help="latency,press,drain,startup,footprint")
    p.add_argument("--samples", default=None, help="samples per latency level")
    p.add_argument("--levels", default=None, help="waiting counts, e.g. 0,1000,5000")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    if not (ROOT / "bench" / "run.py").exists():
        print("kezek bench: the benchmarks live in the source tree (bench/); run it from a "
              "checkout of kezek-edge", file=sys.stderr)
        return 2
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench.run import main
    argv = ["--quick"] if args.quick else []
    for name in ("out", "data_dir", "only", "samples", "levels"):
        value = getattr(args, name)
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    return main(argv)
