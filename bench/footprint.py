"""Bytes per ticket: database growth per issued + called + served + done visitor."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from bench.common import Rig, bench_config, checkpoint
from edge.clock import SystemClock
from edge.queue import commands as c

SERVICES = ("docs", "realty", "benefits")


def _size(path: Path) -> int:
    checkpoint(path)
    return path.stat().st_size


def _table_bytes(path: Path) -> dict[str, int] | None:
    """Bytes of pages per table (indexes counted with their table); None without dbstat."""
    conn = sqlite3.connect(str(path))
    try:
        rows = conn.execute("SELECT s.name, m.tbl_name, SUM(s.pgsize) FROM dbstat s "
                            "LEFT JOIN sqlite_schema m ON m.name = s.name GROUP BY s.name").fetchall()
    except sqlite3.OperationalError:
        return None  # this SQLite was built without SQLITE_ENABLE_DBSTAT_VTAB
    finally:
        conn.close()
    out: dict[str, int] = {}
    for name, table, size in rows:
        key = table or name
        out[key] = out.get(key, 0) + int(size)
    return out


def run(dir_: Path, visitors: int) -> dict[str, Any]:
    """Serve `visitors` visitors fully (issue, call, start, done) and measure the file.

    The outbox share is reported apart: those rows leave the file once central acks them.
    """
    path = dir_ / "footprint.db"
    clock = SystemClock()
    config = bench_config()
    serves = {w.number: set(w.services) for w in config.windows}
    windows = sorted(serves)
    rig = Rig.open(config, path, clock)
    rig.start()
    try:
        rig.controller.call(c.IssueTicket("docs", source="bench"))  # creates meta/counter rows
        rig.controller.call(c.CallNext(1))
        rig.controller.call(c.Finish(1))
        seq0 = rig.store.last_seq
        before, tables0 = _size(path), _table_bytes(path)
        for i in range(visitors):
            rig.controller.call(c.IssueTicket(SERVICES[i % 3], source="bench"))
        served = 0
        window = 0
        while served < visitors:
            w = windows[window % len(windows)]
            window += 1
            if not any(s.waiting for s in rig.controller.snapshot.services if s.id in serves[w]):
                continue
            rig.controller.call(c.CallNext(w))
            rig.controller.call(c.StartService(w))
            rig.controller.call(c.Finish(w))
            served += 1
        events = rig.store.last_seq - seq0
    finally:
        rig.close()
    after, tables1 = _size(path), _table_bytes(path)
    out: dict[str, Any] = {"visitors": visitors, "events_per_visitor": round(events / visitors, 2),
                           "db_file_bytes_per_visitor": round((after - before) / visitors, 1)}
    if tables0 is not None and tables1 is not None:
        grow = {k: tables1.get(k, 0) - tables0.get(k, 0) for k in tables1}
        out["tickets_bytes_per_visitor"] = round(grow.get("tickets", 0) / visitors, 1)
        out["outbox_bytes_per_visitor"] = round(grow.get("outbox", 0) / visitors, 1)
    return out

