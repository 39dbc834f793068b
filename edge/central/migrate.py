"""Versioned schema migrations for central's store, the same runner for both back-ends.

Each back-end lists its migrations in order; `schema_version` records which ones a
database has. Each migration runs in its own transaction under the back-end's migration
lock, and re-reads the version inside it, so several central instances starting at once
apply each migration exactly once (the others wait, then find it done). A database newer
than this code (a rolled-back upgrade) is refused with a message, not written to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Union

from edge.central.reads import now_ms

if TYPE_CHECKING:
    from edge.central.ledger import LedgerStore
    from edge.central.tx import Tx

Step = Union[str, Callable[["Tx"], None]]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    steps: tuple[Step, ...]


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer Kezek than this one."""


def migrate(store: "LedgerStore", migrations: list[Migration]) -> int:
    """Bring the store's schema up to the last migration; returns its version."""
    known = migrations[-1].version if migrations else 0
    with store._tx() as tx:
        store._lock_migrations(tx)
        tx.run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
               "name TEXT NOT NULL, applied_ms BIGINT NOT NULL)")
        applied = _applied(tx)
    unknown = applied - {m.version for m in migrations}
    if unknown:
        raise SchemaTooNew(
            f"central's database is at schema version {max(unknown)}, newer than this Kezek "
            f"knows ({known}): run the Kezek version that migrated it, or a newer one")
    for m in migrations:
        # Each missing version is applied, not only those above the highest: migrations
        # written on parallel branches (3 and 4) both land whatever order they merge in.
        if m.version in applied:
            continue
        with store._tx() as tx:
            store._lock_migrations(tx)
            if m.version in _applied(tx):   # another instance applied it meanwhile
                continue
            for step in m.steps:
                if isinstance(step, str):
                    tx.run(step)
                else:
                    step(tx)
            tx.run("INSERT INTO schema_version(version, name, applied_ms) VALUES (?,?,?)",
                   (m.version, m.name, now_ms()))
    with store._read() as tx:
        return _version(tx)


def _applied(tx: "Tx") -> set[int]:
    return {int(r[0]) for r in tx.rows("SELECT version FROM schema_version")}


def _version(tx: "Tx") -> int:
    return int(tx.rows("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0][0])
