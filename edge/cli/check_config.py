"""`kezek check-config FILE`: validate a config; exit 0, or 1 listing every problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-config", help="validate a config file")
    p.add_argument("file", type=Path, nargs="?", help="the config file")
    # Every other command takes --config FILE; an IT person who types it here too
    # should get the check, not a usage error.
    p.add_argument("--config", type=Path, default=None, help="the same, as other commands take it")
    p.set_defaults(func=handle, parser=p)


def handle(args: argparse.Namespace) -> int:
    from edge.config import load_config_or_report
    from edge.errors import ConfigError
    if args.file is not None and args.config is not None and args.file != args.config:
        args.parser.error(f"two config files given ({args.file} and --config {args.config}); check one")
    args.file = args.file or args.config
    if args.file is None:
        args.parser.error("which config? kezek check-config FILE (or --config FILE)")
    config = load_config_or_report(args.file)
    if config is None:
        return 1
    if config.printers:
        # Kept out of the model validator so that loading a config does not pull in
        # Pillow and the fonts: only this check and the printers themselves need them.
        from edge.drivers.printing.check import printing_problems
        problems = printing_problems(config)
        if problems:
            print(ConfigError(str(args.file), problems), file=sys.stderr)
            return 1
    print(f"{args.file}: OK — center {config.center.site}, {len(config.services)} services, "
          f"{len(config.windows)} windows")
    return 0
