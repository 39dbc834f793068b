"""Central's staff accounts (who may open the Situational Center's screens), in central's store.

One table on both back-ends (migration 4): a name, a role and the password as a slow
salted hash (edge/web/secrets.py, scrypt); the password itself is never stored or shown.
Roles: `viewer` (a wall screen, a desk analyst) reads every screen and downloads every
report; `admin` too, and manages the accounts (from the web's /accounts screen or with
`kezek central staff`). Every change keeps at least one admin: the last one can be
neither removed nor made a viewer. Changes are serialised by one `meta` row, so two admins
demoting each other at once on PostgreSQL still leave one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from edge.central.migrate import Migration
from edge.central.reads import now_ms
from edge.web.secrets import hash_secret, verify_secret

if TYPE_CHECKING:
    from edge.central.ledger import LedgerStore

ADMIN, VIEWER = "admin", "viewer"
ROLES = (VIEWER, ADMIN)
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
    """A bad account name, role or password, said with how to fix it; `code` names the
    case for the web page's own kk/ru/en text."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


def check_name(name: str) -> None:
    if not NAME.match(name):
        raise StaffError(f"account name {name!r}: use 1-64 lowercase letters, digits, '.', '_' "
                         "or '-', starting with a letter or digit (e.g. 'aigerim.k')", "name")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise StaffError(f"role {role!r}: expected one of {', '.join(ROLES)}", "role")


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"the password is {len(password)} characters; use at least "
                         f"{MIN_PASSWORD} (a passphrase of a few words is best)", "password")


def check_new(name: str, role: str, password: str) -> None:
    check_name(name)
    check_role(role)
    check_password(password)


def _serialised(tx: Any) -> None:
    # One row every staff change writes first: on PostgreSQL its row lock queues
    # concurrent changes, so the count of admins each reads is the committed one.
    tx.run("INSERT INTO meta(key, value) VALUES ('staff.changes', '1') ON CONFLICT(key) "
           "DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)")


def _keep_an_admin(tx: Any, name: str, new_role: str | None) -> None:
    """Refuse taking `name` out of the admins (new_role None: removing it) when it is the
    last admin."""
    row = tx.rows("SELECT role FROM staff WHERE name=?", (name,))
    if not row or row[0][0] != ADMIN or new_role == ADMIN:
        return
    if tx.rows("SELECT COUNT(*) FROM staff WHERE role=?", (ADMIN,))[0][0] <= 1:
        what = "removed" if new_role is None else f"made a {new_role}"
        raise StaffError(f"{name!r} is the last admin and cannot be {what}; make another "
                         "account admin first", "last_admin")


def add(store: "LedgerStore", name: str, role: str, password: str, *,
        replace: bool = True) -> bool:
    """Create the account, or (`replace`) set a new role and password; True when it is
    new. Without `replace`, an existing name is refused (the web's "add")."""
    check_new(name, role, password)
    secret = hash_secret(password)
    with store._tx() as tx:
        _serialised(tx)
        had = tx.rows("SELECT 1 FROM staff WHERE name=?", (name,))
        if had and not replace:
            raise StaffError(f"an account {name!r} exists already; change its role or "
                             "password instead", "exists")
        if had:
            _keep_an_admin(tx, name, role)
            tx.run("UPDATE staff SET role=?, secret=? WHERE name=?", (role, secret, name))
        else:
            tx.run("INSERT INTO staff(name, role, secret, created_ms) VALUES (?,?,?,?)",
                   (name, role, secret, now_ms()))
    return not had


def _unknown(name: str) -> StaffError:
    return StaffError(f"no account {name!r} (removed meanwhile?); reload the list", "unknown")


def set_role(store: "LedgerStore", name: str, role: str) -> None:
    check_role(role)
    with store._tx() as tx:
        _serialised(tx)
        _keep_an_admin(tx, name, role)
        if tx.run("UPDATE staff SET role=? WHERE name=?", (role, name)) == 0:
            raise _unknown(name)


def set_password(store: "LedgerStore", name: str, password: str) -> None:
    check_password(password)
    secret = hash_secret(password)
    with store._tx() as tx:
        if tx.run("UPDATE staff SET secret=? WHERE name=?", (secret, name)) == 0:
            raise _unknown(name)


def remove(store: "LedgerStore", name: str) -> bool:
    """Remove the account; False when there is none; StaffError for the last admin."""
    with store._tx() as tx:
        _serialised(tx)
        _keep_an_admin(tx, name, None)
        return tx.run("DELETE FROM staff WHERE name=?", (name,)) > 0


def roles(store: "LedgerStore") -> dict[str, str]:
    """Every account's role by name (what a request is allowed is read from here)."""
    with store._read() as tx:
        return {str(r[0]): str(r[1]) for r in tx.rows("SELECT name, role FROM staff")}


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
