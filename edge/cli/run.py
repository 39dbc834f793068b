"""`kezek run --config FILE [--state-dir DIR]`: run the controller until SIGTERM or `quit`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from edge.exits import CONFIG_EXIT, STORAGE_EXIT, STORAGE_RETRY_EXIT


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the queue controller")
    p.add_argument("--config", required=True, type=Path, help="the center's TOML config")
    p.add_argument("--state-dir", type=Path, default=None,
                   help="where the database lives (overrides storage.state_dir)")
    p.add_argument("--log-level", default=None,
                   help="DEBUG, INFO, WARNING or ERROR (default: system.log_level)")
    p.set_defaults(func=handle)


def with_default_status_socket(config: Any, runtime_directory: str | None) -> Any:
    """Under systemd (RuntimeDirectory=kezek sets RUNTIME_DIRECTORY=/run/kezek) an unset
    system.status_socket means `<runtime dir>/status.sock`, where `kezek status` looks
    first: an installed box answers `kezek status` without a config change. Elsewhere
    (a checkout, the tests) unset stays off, so two runs never share one socket."""
    if config.system.status_socket is not None or not runtime_directory:
        return config
    path = Path(runtime_directory.split(":")[0]) / "status.sock"
    return config.model_copy(update={"system": config.system.model_copy(
        update={"status_socket": path})})


def handle(args: argparse.Namespace) -> int:
    from edge.config import load_config_or_report
    from edge.errors import ConfigError, KezekError, StorageError
    from edge.service import run_service
    config = load_config_or_report(args.config)
    if config is None:
        return CONFIG_EXIT
    config = with_default_status_socket(config, os.environ.get("RUNTIME_DIRECTORY"))
    state_dir = args.state_dir or config.storage.state_dir
    try:
        return run_service(config, state_dir, config_path=args.config, log_level=args.log_level)
    except ConfigError as e:
        # Found while starting (a clip folder, the IIN secret file, the hall port): the
        # file is as wrong as a bad key, and restarting cannot fix it either.
        print(f"kezek: {e}", file=sys.stderr)
        return CONFIG_EXIT
    except StorageError as e:
        from edge.storage.faults import TRANSIENT_KINDS
        if e.kind in TRANSIENT_KINDS:
            print(f"kezek: {e} (the service tries again in a few seconds)", file=sys.stderr)
            return STORAGE_RETRY_EXIT
        print(f"kezek: {e}", file=sys.stderr)
        return STORAGE_EXIT
    except KezekError as e:
        print(f"kezek: {e}", file=sys.stderr)
        return 1
