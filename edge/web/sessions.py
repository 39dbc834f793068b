"""Sign-in sessions of staff pages, in a small SQLite file of their own.

Only a hash of each session token is stored: the file (or a backup of it) does not let
anyone take over a session. Sessions survive a restart of the service, so a panel goes on
working after one. A session ends on sign-out, after `idle_s` without a request, and at
its `expires_ms` (the end of the business day for an operator). Not queue state: the
controller's database is not touched from web requests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from edge.storage.connect import use_wal

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, subject TEXT NOT NULL, role TEXT NOT NULL,
    place TEXT, lang TEXT NOT NULL, csrf TEXT NOT NULL, created_ms INTEGER NOT NULL,
    seen_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_subject ON sessions(subject);
"""


@dataclass(frozen=True)
class Session:
    token_hash: str
    subject: str         # who: an operator id, a central account
    role: str            # operator, manager, staff, admin...
    place: str | None    # where: the window number of an operator, or None
    lang: str            # kk, ru or en: the language the person chose
    csrf: str            # sent back with every state-changing request
    created_ms: int
    seen_ms: int
    expires_ms: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


class SessionStore:
    def __init__(self, path: Path | str, *, idle_s: float, clock_ms: Callable[[], int]) -> None:
        self.idle_ms = int(idle_s * 1000)
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        use_wal(self._db)
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create(self, subject: str, role: str, place: str | None, lang: str,
               expires_ms: int) -> tuple[str, Session]:
        """A new session; returns the token (for the cookie, never stored) and the session."""
        token = secrets.token_urlsafe(32)
        now = self._clock_ms()
        s = Session(token_hash(token), subject, role, place, lang, secrets.token_urlsafe(24),
                    now, now, expires_ms)
        with self._lock:
            self._db.execute("INSERT INTO sessions VALUES (?,?,?,?,?,?,?,?,?)",
                             (s.token_hash, s.subject, s.role, s.place, s.lang, s.csrf,
                              s.created_ms, s.seen_ms, s.expires_ms))
        return token, s

    def get(self, token: str | None, *, touch: bool = True) -> Session | None:
        """The live session of a token, or None (unknown, signed out, idle or expired)."""
        if not token or len(token) > 128:
            return None
        now = self._clock_ms()
        with self._lock:
            row = self._db.execute("SELECT * FROM sessions WHERE token_hash = ?",
                                   (token_hash(token),)).fetchone()
            if row is None:
                return None
            s = Session(*row)
            if now >= s.expires_ms or now - s.seen_ms > self.idle_ms:
                self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (s.token_hash,))
                return None
            if touch:
                self._db.execute("UPDATE sessions SET seen_ms = ? WHERE token_hash = ?",
                                 (now, s.token_hash))
                s = replace(s, seen_ms=now)
        return s

    def update(self, s: Session, **changes: Any) -> Session:
        new = replace(s, **changes)
        with self._lock:
            self._db.execute("UPDATE sessions SET place = ?, lang = ?, role = ?, expires_ms = ? "
                             "WHERE token_hash = ?",
                             (new.place, new.lang, new.role, new.expires_ms, s.token_hash))
        return new

    def end(self, s: Session) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (s.token_hash,))

    def end_subject(self, subject: str) -> int:
        """End every session of one person (removed from the config, or signed in anew)."""
        with self._lock:
            return self._db.execute("DELETE FROM sessions WHERE subject = ?",
                                    (subject,)).rowcount

    def live(self) -> list[Session]:
        now = self._clock_ms()
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE expires_ms <= ? OR seen_ms < ?",
                             (now, now - self.idle_ms))
            rows = self._db.execute("SELECT * FROM sessions ORDER BY created_ms").fetchall()
        return [Session(*r) for r in rows]


def csrf_ok(session: Session, sent: str | None) -> bool:
    """The token a page sends back with a change (header X-CSRF-Token) matches its session."""
    return bool(sent) and hmac.compare_digest(session.csrf.encode(), (sent or "").encode())
