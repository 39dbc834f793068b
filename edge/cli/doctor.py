"""`kezek doctor --config FILE`: probe every configured device and dependency, print fixes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check the printers, ports, GPIO, broker, clock, disk "
                                      "and database; exit 0 only when all is well")
    p.add_argument("--config", required=True, type=Path, help="the center's TOML config")
    p.add_argument("--state-dir", type=Path, default=None,
                   help="where the database lives (overrides storage.state_dir)")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from edge.config import load_config
    from edge.errors import ConfigError
    from edge.service import DB_NAME
    from edge.system.doctor import Check, render_table, run_checks

    try:
        config = load_config(args.config)
    except ConfigError as e:
        rows = [Check("config", False, f"{e.source}: " + "; ".join(e.problems),
                      "fix the keys named above (kezek check-config FILE shows them)")]
    else:
        state_dir = args.state_dir or config.storage.state_dir
        rows = [Check("config", True, f"{args.config}: {len(config.services)} services, "
                                      f"{len(config.windows)} windows, "
                                      f"{len(config.printers)} printers")]
        rows += run_checks(config, state_dir, state_dir / DB_NAME)
    if args.json:
        print(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2))
    else:
        print(render_table(rows))
    sys.stdout.flush()
    return 0 if all(r.ok for r in rows) else 1
