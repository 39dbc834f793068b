"""`kezek status`: the running service's queue and devices, over its local status socket."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Exit codes: 0 shown, 1 the service answered with an error, 3 no status socket to ask:
# not running (as systemctl's 3), or running without one.
NOT_RUNNING = 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="show the running service's queue and device states")
    p.add_argument("--socket", type=Path, default=None,
                   help="status socket (default: system.status_socket of --config, else "
                        "/run/kezek/status.sock)")
    p.add_argument("--config", type=Path, default=None,
                   help="read the socket path from this config")
    p.add_argument("--list", metavar="SERVICE", default=None,
                   help="list the service's waiting, parked and no-show tickets (numbers, "
                        "waits, not printed) instead, e.g. for a keypad's \"call A-017\"")
    p.add_argument("--json", action="store_true", help="print the raw status as JSON")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    p.set_defaults(func=handle)


def _socket_path(args: argparse.Namespace) -> Path:
    from edge.system.status import DEFAULT_SOCKET
    if args.socket is not None:
        return args.socket
    if args.config is not None:
        from edge.config import load_config
        # Unset: the service under systemd still has DEFAULT_SOCKET (see cli/run.py).
        return load_config(args.config).system.status_socket or DEFAULT_SOCKET
    return DEFAULT_SOCKET


def handle(args: argparse.Namespace) -> int:
    from edge.errors import ConfigError
    from edge.system.status import DEFAULT_SOCKET, render_text, request_status

    try:
        path = _socket_path(args)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 1
    request = {"cmd": "list", "service": args.list} if args.list is not None else None
    try:
        status = request_status(path, timeout=args.timeout, request=request)
    except FileNotFoundError:
        # A running service has no socket unless its config sets one (the key is off by
        # default): the missing file alone does not say the service is down.
        print(f"no status socket at {path}: kezek is not running (see `systemctl status "
              f"kezek`, `journalctl -u kezek -e`), or it runs outside systemd without "
              f"system.status_socket (under systemd it is {DEFAULT_SOCKET} unless the config "
              f"names another; then pass --config or --socket)", file=sys.stderr)
        return NOT_RUNNING
    except ConnectionRefusedError:
        print(f"kezek is not running ({path} is left from an earlier run); see "
              "`systemctl status kezek`", file=sys.stderr)
        return NOT_RUNNING
    except PermissionError:
        print(f"permission denied on {path}: run as root (sudo kezek status) or join the "
              "service's group (sudo usermod -aG kezek $USER, then log in again)", file=sys.stderr)
        return 1
    except ValueError as e:
        print(f"kezek status: {e}" if request is not None else
              f"kezek status: no answer from {path}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"kezek status: no answer from {path}: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
    elif request is not None:
        from edge.storage.listing import format_list
        print("\n".join(format_list(status["service"], status["prefix"], status["tickets"],
                                    status["timezone"], status.get("slot_lines"))[:-1]))
    else:
        print(render_text(status))
    return 0
