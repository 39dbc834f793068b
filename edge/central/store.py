"""Central's store: one interface, two back-ends (SQLite embedded, PostgreSQL for the country).

`open_store(target)` picks the back-end from what it is given: a `postgresql://` URL (or
a libpq "dbname=..." string) is PostgreSQL, anything else a SQLite file. Both keep the
same promises (ledger.py): events kept once per (site, device stream, seq), acks
computed from what is committed, streams, forks, gaps, conflicts and copies alike; both
answer the same reads (reads.py). `CentralStore(path)` is the SQLite store, as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.central.ledger import INF, LedgerStore
from edge.central.tx import StoreResult
from edge.central.pg_store import INSTALL_HINT, MissingDriver, is_postgres_url
from edge.central.sqlite_store import SqliteStore

__all__ = ["CentralStore", "EventStore", "INF", "INSTALL_HINT", "MissingDriver", "StoreResult",
           "describe", "format_summary", "is_postgres_url", "open_store"]

EventStore = LedgerStore
CentralStore = SqliteStore


def open_store(target: str | Path, *, timezone: str = "Asia/Almaty",
               pool_size: int = 4) -> LedgerStore:
    """The store at `target`; raises MissingDriver (with the pip line) when PostgreSQL is
    asked for and psycopg is not installed, SchemaTooNew for a database of a newer Kezek."""
    text = str(target)
    if is_postgres_url(text):
        from edge.central.pg_store import PostgresStore
        return PostgresStore(text, timezone=timezone, pool_size=pool_size)
    return SqliteStore(Path(text), timezone=timezone)


def describe(target: str | Path) -> str:
    """`target` fit for a log line: a URL's password is never printed."""
    text = str(target)
    if not is_postgres_url(text):
        return text
    try:
        from psycopg.conninfo import conninfo_to_dict
        info: dict[str, Any] = conninfo_to_dict(text)
    except Exception:  # no driver, or a string libpq cannot read: say only what it is
        return "postgresql (the given connection string)"
    return (f"postgresql://{info.get('user', '')}@{info.get('host', 'local socket')}:"
            f"{info.get('port', 5432)}/{info.get('dbname', '')}")


def format_summary(rows: list[dict[str, Any]]) -> str:
    """The live per-site table `kezek central run` prints."""
    lines = [f"{'site':<20} {'online':>7} {'waiting':>8} {'serving':>8} {'events':>9}  alarms"]
    for r in rows:
        online = f"{r['online']}/{r['devices']}"
        alarms = ", ".join(r["alarms"]) or "-"
        lines.append(f"{r['site']:<20} {online:>7} {r['waiting']:>8} {r['serving']:>8} "
                     f"{r['stored']:>9}  {alarms}")
    if not rows:
        lines.append("(no site has reported yet)")
    return "\n".join(lines)


def why_not_opened(e: Exception) -> str:
    """Why a store could not be opened, in one line for a person (a missing driver says
    what to install; anything else, its kind and message)."""
    if isinstance(e, MissingDriver):
        return str(e)
    return f"{type(e).__name__}: {e}".strip()
