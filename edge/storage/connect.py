"""Opening an SQLite file as every Kezek connection does: WAL, full sync, a busy wait."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

BUSY_TIMEOUT_S = 10.0


def use_wal(conn: sqlite3.Connection, timeout_s: float = BUSY_TIMEOUT_S) -> None:
    """Put the file in WAL mode, waiting while another connection holds it.

    Switching a new file to WAL needs it to itself, and SQLite answers "database is locked"
    at once, without its busy wait, when another connection opens it at the same moment
    (two central instances starting together, measured: 9 of 300 three-way opens)."""
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def connect(path: Path | str) -> sqlite3.Connection:
    """A connection with the pragmas every Kezek connection uses."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                           timeout=BUSY_TIMEOUT_S)
    use_wal(conn)
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    return conn
