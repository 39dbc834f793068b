"""`kezek bench [--quick] [--out DIR] ...`: the benchmarks of bench/ (a source checkout only)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run the performance benchmarks (docs/performance.md)",
                       description="Same as `python -m bench` in the project root; options are "
                                   "passed through (see `kezek bench -- --help`).")
    p.add_argument("args", nargs=argparse.REMAINDER, help="options for python -m bench")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    if not (ROOT / "bench" / "run.py").exists():
        print("kezek bench: the benchmarks live in the source tree (bench/); run it from a "
              "checkout of kezek-edge", file=sys.stderr)
        return 2
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench.run import main
    rest = [a for a in args.args if a != "--"]
    return main(rest)
