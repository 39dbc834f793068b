"""`kezek run --config FILE [--state-dir DIR]`: run the controller until SIGTERM or `quit`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the queue controller")
    p.add_argument("--config", required=True, type=Path, help="the center's TOML config")
    p.add_argument("--state-dir", type=Path, default=None,
                   help="where the database lives (overrides storage.state_dir)")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    p.set_defaults(func=handle)


def setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


def handle(args: argparse.Namespace) -> int:
    from edge.config import load_config
    from edge.errors import ConfigError, KezekError
    from edge.service import run_service
    setup_logging(args.log_level)
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 1
    state_dir = args.state_dir or config.storage.state_dir
    try:
        return run_service(config, state_dir)
    except KezekError as e:
        print(f"kezek: {e}", file=sys.stderr)
        return 1
