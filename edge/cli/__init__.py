"""The `kezek` command line: one module per subcommand, registered here."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module edge/cli/<name>.py has register(subparsers); they import heavy things only
# inside their handlers, so `kezek --help` and `kezek run` stay fast on a Pi.
SUBCOMMANDS = [
    "run", "demo", "check_config", "print_test", "ticket_preview", "bookings", "doctor",
    "status", "central", "clips", "simulate", "bench",
    "backup", "ports", "init", "update", "box", "operator_hash",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kezek", description="Kezek Edge: the ticket queue controller of a public service center")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"edge.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"edge.cli.{name}":
                continue  # that part is not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
