"""`kezek bookings load --config FILE [--state-dir DIR] BOOKINGS.json|csv`: queue bookings.

For standalone centers (and until central sends bookings): the file is validated here
with the same check as central's bookings (edge.queue.bookings.parse_booking) plus what
only this center's config can tell (services, site, past days, working hours, duplicate
codes); every IIN is replaced by its keyed hash, and the result is queued in the state
directory's bookings inbox; the running service loads it within seconds (or at start).
Nothing is queued when a row is wrong, unless --skip-bad is given. docs/bookings.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CSV_COLUMNS = ("code", "service", "date", "slot_start", "slot_minutes", "iin", "iin_hmac",
               "status", "version", "site", "rebooked_to")
REQUIRED_COLUMNS = ("code", "service", "date", "slot_start")
# 20,000 bookings of ~120 bytes; a file far beyond is not a day's export.
MAX_FILE_BYTES = 8 * 1024 * 1024
SEPARATORS = (",", ";", "\t")


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
                                              "or .csv with a header row (',' ';' or tab)")
    load.set_defaults(func=handle_load)


@dataclass
class Row:
    """One booking of the file: where it is, and its raw fields."""

    where: str                  # "line 7" / "item 3 (bookings[2])"
    raw: Any
    problems: list[tuple[str, str]] = field(default_factory=list)   # (field, text)


@dataclass
class FileRead:
    rows: list[Row]
    kind: str                   # "column" (CSV) or "field" (JSON): how problems name a key
    notes: list[str] = field(default_factory=list)


def decode_text(data: bytes, allow_cp1251: bool) -> tuple[str, str | None]:
    """The file's text and a note on its encoding (None for UTF-8); ValueError if not text.

    Excel writes "CSV UTF-8" with a BOM, "Unicode text" as UTF-16 with a BOM, and plain
    "CSV" in the Windows code page: CP1251 in a Russian or Kazakh locale.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError:
            raise ValueError("starts like UTF-16 but is not valid UTF-16; save it as "
                             "CSV UTF-8") from None
    if b"\x00" in data[:4096]:
        raise ValueError("not a text file (it holds NUL bytes: UTF-16 without its byte-order "
                         "mark, or a spreadsheet .xlsx renamed?); in Excel use Save As "
                         "'CSV UTF-8'")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        if not allow_cp1251:
            raise ValueError(f"not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    try:
        text = data.decode("cp1251")
    except UnicodeDecodeError:
        raise ValueError("neither UTF-8 nor Windows-1251 text; in Excel use Save As "
                         "'CSV UTF-8'") from None
    return text, "read as Windows-1251 (Excel's 'CSV' in a Russian or Kazakh locale), not UTF-8"


def read_rows(path: Path) -> FileRead:
    """The bookings of a .json or .csv file; ValueError (naming no value) if unreadable."""
    from edge.jsonin import loads as loads_untrusted
    from edge.queue.bookings import MAX_BOOKINGS_PER_BATCH

    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ValueError("the file name must end in .json or .csv")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"the file is {size / 2**20:.1f} MB, at most "
                         f"{MAX_FILE_BYTES // 2**20} MB per file: split it (by day, say)")
    text, note = decode_text(path.read_bytes(), allow_cp1251=suffix == ".csv")
    if suffix == ".json":
        # Strict: a deep file ended in a RecursionError traceback, a lone surrogate in a
        # traceback when the inbox file was written.
        data = loads_untrusted(text)
        items = data.get("bookings") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ValueError("expected a list of bookings or an object with a 'bookings' list")
        read = FileRead([Row(f"item {i + 1} (bookings[{i}])", item)
                         for i, item in enumerate(items)], "field")
    else:
        read = read_csv(text)
    if note:
        read.notes.append(note)
    if len(read.rows) > MAX_BOOKINGS_PER_BATCH:
        raise ValueError(f"{len(read.rows)} bookings, at most {MAX_BOOKINGS_PER_BATCH} per "
                         "file: split it (by day, say)")
    return read


def read_csv(text: str) -> FileRead:
    import csv

    from edge.queue.bookings import shown

    lines = text.splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None:
        return FileRead([], "column")
    head = lines[header_at]
    # Excel in a Russian or Kazakh locale writes ';' (the comma is the decimal sign there),
    # "Unicode text" uses tabs: take the separator that splits the header the most.
    sep = max(SEPARATORS, key=lambda s: head.count(s))
    reader = csv.reader(lines[header_at:], delimiter=sep)
    try:
        header = [h.strip().lower() for h in next(reader)]
        while header and not header[-1]:
            header.pop()   # trailing separators
        unknown = [h for h in header if h not in CSV_COLUMNS]
        if unknown:
            # shown: without its header row, line 1 is a booking and holds an IIN.
            listed = ", ".join(shown(h) for h in unknown[:5])
            raise ValueError(f"line {header_at + 1}: unknown column(s) {listed}; known: "
                             f"{', '.join(CSV_COLUMNS)}; the first line must be the header "
                             "row naming the columns")
        twice = sorted({h for h in header if header.count(h) > 1})
        if twice:
            raise ValueError(f"column {', '.join(twice)} appears twice in the header")
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ValueError(f"no column {', '.join(missing)} in the header (required: "
                             f"{', '.join(REQUIRED_COLUMNS)}); is line {header_at + 1} "
                             "the header row?")
        rows = []
        for cells in reader:
            where = f"line {header_at + reader.line_num}"
            cells = [x.strip() for x in cells]
            if not any(cells):
                continue   # blank lines, and Excel's ";;;;" rows
            while len(cells) > len(header) and not cells[-1]:
                cells.pop()
            row = Row(where, {})
            if len(cells) != len(header):
                row.problems.append(("", f"{len(cells)} values, but the header has "
                                         f"{len(header)} columns; a value holding the "
                                         f"separator '{sep}' (a decimal comma, a comma in a "
                                         "name) must be in double quotes, a missing one "
                                         "needs its empty cell"))
            else:
                row.raw = {k: _cell(k, v) for k, v in zip(header, cells) if v}
            rows.append(row)
    except csv.Error as e:
        raise ValueError(f"line {header_at + reader.line_num}: not CSV ({e})") from None
    return FileRead(rows, "column")


def _cell(column: str, value: str) -> Any:
    """A CSV cell as the JSON value it stands for: numbers for the number columns."""
    import re
    if column in ("slot_minutes", "version"):
        if re.fullmatch(r"[+-]?\d{1,30}", value):
            return int(value)
        if re.fullmatch(r"[+-]?\d{1,30}[.,]\d{1,30}", value):
            return float(value.replace(",", "."))   # 15.0 is 15; 15.5 is refused
    return value


def check_rows(read: FileRead, config: Any, key: bytes | None, today: dt.date) -> list[dict[str, Any]]:
    """Each row's problems, added to row.problems; returns the wire form of the good ones.

    Besides the shared check of a booking: what the center's config says (services,
    site, working hours), past days and codes that appear twice (an IIN typed into
    another column is the shared check's). Every problem of every row is found, in one run.
    """
    from edge.queue.bookings import BookingRejected, booking_wire, parse_booking, shown

    services = sorted(s.id for s in config.services)
    pol = config.policies
    site = config.center.site
    by_code: dict[str, list[Row]] = defaultdict(list)
    good: dict[int, dict[str, Any]] = {}
    for n, row in enumerate(read.rows):
        raw = row.raw
        if row.problems:
            continue
        try:
            b = parse_booking(raw, key)
        except BookingRejected as e:
            row.problems.extend(e.problems)
            b = None
        if not isinstance(raw, dict):
            continue
        bad = {f for f, _ in row.problems}
        code = raw.get("code")
        # A code holding an IIN is in `bad` (parse_booking): never printed or compared.
        if isinstance(code, str) and "code" not in bad:
            by_code[code.upper()].append(row)
        svc = raw.get("service")
        if isinstance(svc, str) and "service" not in bad and svc not in services:
            row.problems.append(("service", f"no service {shown(svc)} in this center's config "
                                            f"(services: {', '.join(services)})"))
        bsite = raw.get("site")
        if isinstance(bsite, str) and "site" not in bad and bsite != site:
            row.problems.append(("site", f"the booking is for center {shown(bsite)}, this "
                                         f"config is for {site}; load it on that center"))
        # On the raw values, so a row with another problem still gets these named too.
        if not bad & {"date", "slot_start", "status"} and raw.get("status", "active") == "active":
            row.problems.extend(_day_problems(raw["date"], raw["slot_start"], pol, today))
        if b is not None:
            good[n] = booking_wire(b)
    for code_rows in by_code.values():
        if len(code_rows) > 1:
            for row in code_rows:
                others = ", ".join(r.where for r in code_rows if r is not row)
                row.problems.append(("code", f"the same booking code is also on {others} "
                                             "(codes are case-insensitive); keep one row per "
                                             "booking"))
    return [w for n, w in sorted(good.items()) if not read.rows[n].problems]


def _day_problems(day: str, slot: str, pol: Any, today: dt.date) -> list[tuple[str, str]]:
    from edge.config.policies import WEEKDAYS, minutes_of

    d = dt.date.fromisoformat(day)
    if d < today:
        return [("date", f"{day} is before today ({today.isoformat()}, the center's time "
                         "zone): it can no longer be checked in; fix the year or remove the row")]
    if d in pol.closed_dates:
        return [("date", f"the center is closed on {day} ([policies] closed_dates in the "
                         "config); fix the date, or the config")]
    if pol.hours is None:
        return []
    weekday = WEEKDAYS[d.weekday()]
    hours = pol.hours.get(weekday)
    if hours is None:
        return [("date", f"the center is closed on {weekday} ({day}): no {weekday} in "
                         "[policies.hours]; fix the date, or the hours in the config")]
    if not minutes_of(hours.open) <= minutes_of(slot) < minutes_of(hours.close):
        return [("slot_start", f"outside the working hours of {weekday} "
                               f"{hours.open}-{hours.close} ([policies.hours] in the config); "
                               "fix the slot, or the hours")]
    return []


def handle_load(args: argparse.Namespace, today: dt.date | None = None) -> int:
    """Validate args.file and queue it; `today` (the center's date) is passed in by tests."""
    import time
    import zoneinfo

    from edge.config import load_config
    from edge.errors import ConfigError
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
        read = read_rows(args.file)
    except (OSError, ValueError) as e:
        # Our messages and json's name a position, never a value: safe to print.
        print(f"{args.file}: cannot read bookings: {e}", file=sys.stderr)
        return 1
    for note in read.notes:
        print(f"{args.file}: {note}", file=sys.stderr)
    if today is None:
        today = dt.datetime.now(zoneinfo.ZoneInfo(config.center.timezone)).date()
    good = check_rows(read, config, key, today)
    bad = [row for row in read.rows if row.problems]
    for row in bad:
        for name, text in row.problems:
            where = f"{row.where}, {read.kind} {name}" if name else row.where
            print(f"{args.file}: {where}: {text}", file=sys.stderr)
    if bad and not args.skip_bad:
        print(f"{args.file}: {len(bad)} wrong row(s); nothing queued (fix them and load the "
              "file again, or pass --skip-bad to queue the others)", file=sys.stderr)
        return 1
    if not good:
        print(f"{args.file}: no bookings to queue", file=sys.stderr)
        return 1
    state_dir = args.state_dir or config.storage.state_dir
    name = f"{time.strftime('%Y%m%dT%H%M%S')}-{args.file.stem}"
    target = write_inbox_file(state_dir, name, good)
    skipped = f" ({len(bad)} wrong row(s) left out)" if bad else ""
    print(f"{len(good)} booking(s) queued in {target.resolve()}{skipped}; the running service "
          "loads them within seconds (or when it starts) if this is its state folder "
          "(storage.state_dir)")
    return 0 if not bad else 2
