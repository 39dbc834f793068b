"""The manager's day from the queue database: its own read-only connection, figures and CSV.

The controller alone writes the queue database; this reads the committed visit stages
through a separate read-only connection (WAL: readers never block the controller's
commits, and see only what is committed). Nothing here holds an IIN: the stages have
none (labels, visit ids, services, windows, operator ids and times only).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sqlite3
import threading
import zoneinfo
from pathlib import Path
from typing import Any

from edge.config.model import AppConfig
from edge.manager.figures import Sla, day_figures
from edge.storage.stages import STAGE_COLS

CSV_COLUMNS = ("day", "ticket", "stage", "visit", "service", "category", "window", "operator",
               "issued", "queued", "called", "started", "ended", "outcome", "waited_s",
               "served_s", "sla_breached", "rating")
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class DayReader:
    """Reads the day's visit stages from the queue database, read-only."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True,
                                   check_same_thread=False, timeout=5)
            conn.execute("PRAGMA busy_timeout=5000")
            self._conn = conn
        return self._conn

    def stages(self, day: str) -> list[dict[str, Any]]:
        """The day's stages, in the order they began."""
        with self._lock:
            rows = self._connection().execute(
                f"SELECT {', '.join(STAGE_COLS)} FROM visit_stages WHERE day = ? "
                "ORDER BY id", (day,)).fetchall()
        return [dict(zip(STAGE_COLS, r)) for r in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def slas_of(config: AppConfig) -> dict[str, Sla]:
    """Each service's SLA from the running configuration."""
    return {sid: Sla(p.max_wait_min, p.max_service_min)
            for sid, p in config.policies.services.items()}


def day_report(stages: list[dict[str, Any]], config: AppConfig, day: str,
               now_ms: int) -> dict[str, Any]:
    """The figures of the day, with the names the page shows (services, windows)."""
    tz = zoneinfo.ZoneInfo(config.center.timezone)
    slas = slas_of(config)
    report = day_figures(stages, slas, now_ms, tz)
    report["day"] = day
    report["now_ms"] = now_ms
    report["service_names"] = {s.id: s.names.as_dict() for s in config.services}
    report["slas"] = {sid: {"max_wait_min": s.max_wait_min,
                            "max_service_min": s.max_service_min} for sid, s in slas.items()}
    return report


def _local(ms: int | None, tz: zoneinfo.ZoneInfo) -> str:
    return "" if ms is None else dt.datetime.fromtimestamp(ms / 1000, tz).strftime("%H:%M:%S")


def _seconds(ms: int | None) -> str:
    return "" if ms is None else str(round(ms / 1000))


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def day_csv(stages: list[dict[str, Any]], timezone: str) -> str:
    """One row per visit stage; times local (HH:MM:SS, the center's zone), durations in s."""
    tz = zoneinfo.ZoneInfo(timezone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for s in stages:
        writer.writerow([_cell(v) for v in (
            s["day"], s["label"], s["stage"], s["visit"], s["service"], s["category"],
            s["window"], s["operator"], _local(s["issued_ms"], tz), _local(s["queued_ms"], tz),
            _local(s["called_ms"], tz), _local(s["started_ms"], tz), _local(s["ended_ms"], tz),
            s["outcome"], _seconds(s["waited_ms"]), _seconds(s["served_ms"]),
            int(bool(s["sla_breached"])), s["rating"])])
    return out.getvalue()
