"""Central's staff accounts (who may open the Situational Center's screens), in central's store.

One table on both back-ends (migration 4): a name, a role and the password as a slow
salted hash (edge/web/secrets.py, scrypt); the password itself is never stored or shown.
Roles: `viewer` sees every screen and report; `admin` too, and is who the central team
makes accounts for (the accounts are managed by `kezek central staff`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from edge.central.migrate import Migration
from edge.central.reads import now_ms
from edge.web.secrets import hash_secret, verify_secret

if TYPE_CHECKING:
    from edge.central.ledger import LedgerStore

ROLES = ("viewer", "admin")
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD = 10
# A hash verified when the name is unknown, so a wrong name costs as long as a wrong
# password (the time does not tell which names exist).
_DUMMY = hash_secret("no such account, only a decoy")

MIGRATION = Migration(4, "staff accounts of the Situational Center", (
    """CREATE TABLE IF NOT EXISTS staff (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, secret TEXT NOT NULL,
    created_ms BIGINT NOT NULL)""",
))


class StaffError(ValueError):
    """A bad account name, role or password, said with how to fix it."""


def check_new(name: str, role: str, password: str) -> None:
    if not NAME.match(name):
        raise StaffError(f"account name {name!r}: use 1-64 lowercase letters, digits, '.', '_' "
                         "or '-', starting with a letter or digit (e.g. 'aigerim.k')")
    if role not in ROLES:
        raise StaffError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"the password is {len(password)} characters; use at least "
                         f"{MIN_PASSWORD} (a passphrase of a few words is best)")


def add(store: "LedgerStore", name: str, role: str, password: str) -> bool:
    """Create the account, or set a new role and password; True when it is new."""
    check_new(name, role, password)
    secret = hash_secret(password)
    with store._tx() as tx:
        had = tx.rows("SELECT 1 FROM staff WHERE name=?", (name,))
        if had:
            tx.run("UPDATE staff SET role=?, secret=? WHERE name=?", (role, secret, name))
        else:
            tx.run("INSERT INTO staff(name, role, secret, created_ms) VALUES (?,?,?,?)",
                   (name, role, secret, now_ms()))
    return not had


def remove(store: "LedgerStore", name: str) -> bool:
    with store._tx() as tx:
        return tx.run("DELETE FROM staff WHERE name=?", (name,)) > 0


def accounts(store: "LedgerStore") -> list[dict[str, Any]]:
    """Every account: name, role, created_ms (never the hash)."""
    with store._read() as tx:
        rows = tx.rows("SELECT name, role, created_ms FROM staff ORDER BY name")
    return [{"name": r[0], "role": r[1], "created_ms": int(r[2])} for r in rows]


def verify(store: "LedgerStore", name: str, password: str) -> str | None:
    """The account's role when the password is right, else None (same cost either way)."""
    with store._read() as tx:
        rows = tx.rows("SELECT role, secret FROM staff WHERE name=?", (name,)) \
            if NAME.match(name) else []
    if not rows:
        verify_secret(password, _DUMMY)
        return None
    return str(rows[0][0]) if verify_secret(password, str(rows[0][1])) else None
