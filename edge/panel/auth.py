"""Who is using a panel: sign-in with an operator's id and PIN (slow hash, lockout), the
session behind the cookie, and `current_operator(request)` for routes mounted beside it.

Sessions live in their own SQLite file (edge/web/sessions.py): a restart of the service
keeps them, so a panel goes on working. A session ends on sign-out, after `idle_min`
without a request, and at the end of the business day (its expiry is the next local
midnight); the engine also ends an operator's work at the day's roll (operator.signed_out).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from starlette.requests import Request

from edge.config.panel import OperatorConfig, PanelConfig
from edge.web.lockout import Lockout
from edge.web.secrets import verify_secret
from edge.web.sessions import Session, SessionStore

COOKIE = "kezek_panel"
# A PIN is checked against this when the operator id is unknown: the answer takes as long
# as for a known one, so timing does not tell which ids exist.
_DUMMY = ("scrypt$14$8$1$AAAAAAAAAAAAAAAAAAAAAA==$"
          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")


@dataclass(frozen=True)
class Operator:
    """The person behind a request: from the running config, with their session's place."""

    id: str
    name: str
    role: str                   # operator or manager
    services: tuple[str, ...]   # empty = every service
    window: int | None          # the window chosen in this session
    lang: str


class SignInRefused(Exception):
    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code, self.params = code, params


class Auth:
    """Sign-in, sessions and lockout of one panel server."""

    def __init__(self, cfg: PanelConfig, sessions_path: Path,
                 operators: Callable[[], list[OperatorConfig]], clock_ms: Callable[[], int],
                 tz: Callable[[], str]) -> None:
        self.operators = operators       # the running config's, read at each sign-in
        self.clock_ms = clock_ms
        self.tz = tz
        self.sessions = SessionStore(sessions_path, idle_s=cfg.idle_min * 60, clock_ms=clock_ms)
        self.lockout = Lockout(cfg.max_failures, cfg.failure_window_s, cfg.lock_s)

    def close(self) -> None:
        self.sessions.close()

    def find(self, operator_id: str) -> OperatorConfig | None:
        return next((o for o in self.operators() if o.id == operator_id), None)

    async def sign_in(self, operator_id: str, pin: str, lang: str, client: str
                      ) -> tuple[str, Session, OperatorConfig]:
        """A new session for a right PIN; else SignInRefused (bad_pin or locked)."""
        keys = (f"op:{operator_id}", f"ip:{client}")
        locked = self.lockout.locked_for(*keys)
        if locked > 0:
            raise SignInRefused("locked", minutes=max(1, round(locked / 60)))
        op = self.find(operator_id)
        # scrypt takes tens of ms (hundreds on a Pi): off the event loop.
        ok = await asyncio.to_thread(verify_secret, pin, op.secret if op else _DUMMY)
        if op is None or not ok:
            lock = self.lockout.failed(*keys)
            if lock > 0:
                raise SignInRefused("locked", minutes=max(1, round(lock / 60)))
            raise SignInRefused("bad_pin")
        self.lockout.succeeded(keys[0])
        self.lockout.succeeded(keys[1])
        token, session = self.sessions.create(op.id, op.role, None, lang, self.day_end_ms())
        return token, session, op

    def day_end_ms(self) -> int:
        """The next local midnight: a session does not outlive the business day."""
        zone = zoneinfo.ZoneInfo(self.tz())
        now = dt.datetime.fromtimestamp(self.clock_ms() / 1000, zone)
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), zone)
        return int(midnight.timestamp() * 1000)

    def session(self, request: Request, *, touch: bool = True) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE), touch=touch)

    def operator(self, session: Session | None) -> Operator | None:
        """The session's operator as the running config has them now (None: removed)."""
        if session is None:
            return None
        op = self.find(session.subject)
        if op is None:
            return None
        return Operator(op.id, op.name, op.role, tuple(op.services),
                        int(session.place) if session.place else None, session.lang)


def current_operator(request: Request) -> Operator | None:
    """The signed-in operator of a request to the panel's app (with their role), or None:
    what routes mounted beside the panel (the manager's day) check access with."""
    auth: Auth | None = getattr(request.app.state, "panel_auth", None)
    if auth is None:
        return None
    return auth.operator(auth.session(request))
