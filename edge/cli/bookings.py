"""`kezek bookings load --config FILE [--state-dir DIR] BOOKINGS.json|csv`: queue bookings.

For standalone centers (and until central sends bookings): the file is validated here,
every IIN is replaced by its keyed hash, and the result is queued in the state
directory's bookings inbox; the running service loads it within seconds (or at start).
Nothing is queued when a row is wrong, unless --skip-bad is given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

CSV_COLUMNS = ("code", "service", "date", "slot_start", "slot_minutes", "iin", "iin_hmac",
               "status", "version", "site", "rebooked_to")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bookings", help="load bookings from a file (standalone centers)")
    bsub = p.add_subparsers(dest="bookings_command", metavar="ACTION")
    bsub.required = True
    load = bsub.add_parser("load", help="validate a JSON or CSV file and queue it for the service")
    load.add_argument("--config", required=True, type=Path, help="the center's TOML config")
    load.add_argument("--state-dir", type=Path, default=None,
                      help="the service's state directory (default: storage.state_dir)")
    load.add_argument("--skip-bad", action="store_true",
                      help="queue the valid rows even if some rows are wrong")
    load.add_argument("file", type=Path, help="bookings as .json (a list, or {\"bookings\": [...]}) "
                                              "or .csv with a header row")
    load.set_defaults(func=handle_load)


def read_rows(path: Path) -> list[tuple[str, Any]]:
    """(where, raw booking dict) per booking in a .json or .csv file; ValueError if unreadable."""
    import csv

    from edge.jsonin import loads as loads_untrusted
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        # Strict: a deep file ended in a RecursionError traceback, a lone surrogate in a
        # traceback when the inbox file was written.
        data = loads_untrusted(text)
        items = data.get("bookings") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ValueError("expected a list of bookings or an object with a 'bookings' list")
        return [(f"item {i + 1}", item) for i, item in enumerate(items)]
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        unknown = [c for c in (reader.fieldnames or []) if c not in CSV_COLUMNS]
        if unknown:
            raise ValueError(f"unknown column(s) {', '.join(unknown)}; "
                             f"known: {', '.join(CSV_COLUMNS)}")
        rows = []
        for n, row in enumerate(reader, start=2):
            clean: dict[str, Any] = {k: v.strip() for k, v in row.items() if k and v and v.strip()}
            for key in ("slot_minutes", "version"):
                if key in clean and clean[key].isdigit():
                    clean[key] = int(clean[key])
            rows.append((f"line {n}", clean))
        return rows
    raise ValueError("the file name must end in .json or .csv")


def handle_load(args: argparse.Namespace, today: dt.date | None = None) -> int:
    """Validate args.file and queue it; `today` (the center's date) is passed in by tests."""
    import time

    from edge.config import load_config
    from edge.errors import ConfigError
    from edge.queue.bookings import BookingRejected, booking_wire, parse_booking
    from edge.queue.inbox import write_inbox_file

    try:
        config = load_config(args.config)
        key = config.bookings.read_iin_secret()
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print(f"kezek: IIN secret: {e}", file=sys.stderr)
        return 1
    try:
        rows = read_rows(args.file)
    except (OSError, ValueError) as e:
        # json/csv errors name a position, never a value: safe to print.
        print(f"{args.file}: cannot read bookings: {e}", file=sys.stderr)
        return 1
    services = {s.id for s in config.services}
    good: list[dict[str, Any]] = []
    bad: list[str] = []
    for where, raw in rows:
        try:
            b = parse_booking(raw, key)
            if b.service not in services:
                raise BookingRejected(f"service: no service {b.service!r} in {args.config} "
                                      f"(services: {', '.join(sorted(services))})")
        except BookingRejected as e:
            bad.append(f"{where}: {e}")
            continue
        good.append(booking_wire(b))
    for line in bad:
        print(f"{args.file}: {line}", file=sys.stderr)
    if bad and not args.skip_bad:
        print(f"{args.file}: {len(bad)} wrong row(s); nothing queued (fix them, or pass "
              "--skip-bad to queue the others)", file=sys.stderr)
        return 1
    if not good:
        print(f"{args.file}: no bookings to queue", file=sys.stderr)
        return 1
    state_dir = args.state_dir or config.storage.state_dir
    name = f"{time.strftime('%Y%m%dT%H%M%S')}-{args.file.stem}"
    target = write_inbox_file(state_dir, name, good)
    print(f"{len(good)} booking(s) queued in {target.resolve()}; the running service loads "
          "them within seconds (or when it starts) if this is its state folder "
          "(storage.state_dir)")
    return 0 if not bad else 2
