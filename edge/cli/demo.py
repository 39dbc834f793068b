"""`kezek demo`: the demo center's config (config/demo.toml) and a throwaway state directory.

What is simulated is said by the config alone (a mock pin factory, a file printer, a
fake board bus, clips made with espeak-ng): `kezek run --config config/demo.toml` runs
the same center, with its state kept.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

# A source checkout has config/ beside edge/; an installed box has it beside the venv
# (scripts/install.sh copies it to /opt/kezek/config, the venv being /opt/kezek/venv).
DEMO_CONFIGS = (Path(__file__).resolve().parents[2] / "config" / "demo.toml",
                Path(sys.prefix).parent / "config" / "demo.toml")


def demo_config() -> Path | None:
    return next((p for p in DEMO_CONFIGS if p.is_file()), None)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the demo center (simulated hardware, console input)")
    p.add_argument("--config", type=Path, default=None, help="another config (default: config/demo.toml)")
    p.add_argument("--keep", type=Path, default=None, help="keep state in this directory instead")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from edge.cli.run import setup_logging
    from edge.config import load_config_or_report
    from edge.service import run_service
    setup_logging("WARNING")
    path = args.config or demo_config()
    if path is None:
        print("kezek demo: the demo config is not here (looked for "
              + " and ".join(str(p) for p in DEMO_CONFIGS)
              + "); run scripts/install.sh again, or give one with --config FILE", file=sys.stderr)
        return 1
    config = load_config_or_report(path)
    if config is None:
        return 1
    if args.keep:
        return run_service(config, args.keep, config_path=path)
    with tempfile.TemporaryDirectory(prefix="kezek-demo-") as tmp:
        print(f"Kezek demo: {config.center.name.ru} — state in {tmp}. Type 'help'.", flush=True)
        return run_service(config, Path(tmp), config_path=path)
