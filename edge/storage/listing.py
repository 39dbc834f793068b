"""`list SERVICE`: a service's waiting, parked and no-show tickets, read from the queue file.

For the keypad operator's "call A-017": the console and `kezek status --list` show
which numbers wait (in the order they will be called), which are parked and which were
no-shows today (who may come back), with their waits and whether their paper is out.
Then the day's booked slots: how many bookings hold a place in each (against the
service's `slot_quota`, if it has one) and how many of them checked in.
Read through a read-only connection: only committed tickets, never the controller's
state from another thread.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import zoneinfo
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge.errors import CommandError

STATES = ("waiting", "parked", "no_show")


@dataclass(frozen=True)
class Listed:
    ticket: str
    state: str                 # waiting / parked / no_show
    category: str
    since_ms: int              # entered the line (waiting, parked) or missed the call (no_show)
    minutes: int               # since then, whole minutes
    printed: bool              # False: paper owed, not called until printed (or voided)


def open_read_only(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{Path(db_path)}?mode=ro", uri=True, check_same_thread=False,
                           timeout=5)
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def list_service(conn: sqlite3.Connection, service: str, day: str, now_ms: int) -> list[Listed]:
    """The service's tickets of `day`: waiting in line order, then parked, then no-shows."""
    rows = conn.execute(
        "SELECT label, state, category, queued_ms, finished_ms, print_state, extra FROM tickets "
        "WHERE service = ? AND day = ? AND state IN ('waiting', 'parked', 'no_show') "
        "ORDER BY CASE state WHEN 'waiting' THEN 0 WHEN 'parked' THEN 1 ELSE 2 END, "
        "tier, arrival", (service, day)).fetchall()
    out = []
    for label, state, category, queued, finished, print_state, extra in rows:
        since = (finished or queued) if state == "no_show" else queued
        owed = print_state in ("pending", "failed") and not json.loads(extra or "{}").get("printed")
        out.append(Listed(label, state, category, since, max(0, (now_ms - since) // 60_000),
                          not owed))
    return out


def slot_plan(conn: sqlite3.Connection, service: str, day: str) -> list[dict[str, Any]]:
    """The day's slots of the service that bookings hold a place in (as the engine counts
    them for slot quotas: active, checked in, or given a ticket), with their check-ins."""
    rows = conn.execute(
        "SELECT slot_start, count(*), sum(status = 'checked_in' OR ticket_id IS NOT NULL) "
        "FROM bookings WHERE service = ? AND day = ? AND (status IN ('active', 'checked_in') "
        "OR ticket_id IS NOT NULL) GROUP BY slot_start ORDER BY slot_start",
        (service, day)).fetchall()
    return [{"start": start, "booked": booked, "checked_in": int(came or 0)}
            for start, booked, came in rows]


def format_slots(slots: list[dict[str, Any]], quota: int | None, slot_minutes: int) -> list[str]:
    """The slot plan's lines (none when nobody booked this service today)."""
    if not slots:
        return []
    of = f" of {quota}" if quota is not None else ""
    lines = [f"SLOTS ({slot_minutes} min{', quota ' + str(quota) if quota else ''}): "
             f"{sum(x['booked'] for x in slots)} booked, "
             f"{sum(x['checked_in'] for x in slots)} checked in"]
    for x in slots:
        full = "  FULL" if quota is not None and x["booked"] >= quota else ""
        lines.append(f"  {x['start']}  {x['booked']}{of} booked, {x['checked_in']} checked in"
                     f"{full}")
    return lines


def slot_lines(config: Any, service: str, slots: list[dict[str, Any]]) -> list[str]:
    """format_slots with the service's quota and slot length from the running config."""
    rules = config.policies.services.get(service)
    return format_slots(slots, rules.slot_quota if rules is not None else None,
                        config.policies.slot_minutes)


def check_service(service: str, known: list[str]) -> None:
    if service not in known:
        raise CommandError("bad_argument", f"unknown service {service!r} (use one of: "
                                           f"{', '.join(known)})")


def as_json(listed: list[Listed]) -> list[dict[str, Any]]:
    return [asdict(x) for x in listed]


def format_list(service: str, prefix: str, listed: list[dict[str, Any]], timezone: str,
                slots: list[str] | None = None) -> list[str]:
    """Lines for people (console, `kezek status --list`), ending with END; `slots`: the
    lines of format_slots, after the tickets."""
    tz = zoneinfo.ZoneInfo(timezone)
    count = {s: sum(1 for x in listed if x["state"] == s) for s in STATES}
    lines = [f"LIST {service} ({prefix}): {count['waiting']} waiting, {count['parked']} parked, "
             f"{count['no_show']} no-show"]
    for x in listed:
        mark = "" if x["printed"] else "  NOT PRINTED (not called until printed)"
        cat = "" if x["category"] == "normal" else f" [{x['category']}]"
        if x["state"] == "no_show":
            at = dt.datetime.fromtimestamp(x["since_ms"] / 1000, tz).strftime("%H:%M")
            lines.append(f"  no-show {x['ticket']}{cat}  missed at {at} ({x['minutes']} min ago)"
                         f"{mark}")
        else:
            lines.append(f"  {x['state']:<7} {x['ticket']}{cat}  {x['minutes']} min{mark}")
    lines += slots or []
    lines.append("END")
    return lines
