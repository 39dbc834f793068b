"""The admin's screen behind /accounts: the staff accounts (list, add with a role, change
a role, set a new password, remove) and the sign-in lockouts (see, lift). Admins only,
enforced here (403 for anyone else, whatever the page shows); every POST carries the
CSRF token. A hash never leaves the store. And /api/password, for everyone: one's own
new password, given the current one (/password).

What keeps an admin from locking the team out by accident: nobody removes or changes the
role of their own account here (another admin does, or `kezek central staff`), and the
last admin can be neither removed nor made a viewer (edge/central/staff.py). A new
password or a removal ends the account's open sessions, and its live streams
(`while_allowed`: a stream is one long request the session check saw only once).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any, AsyncIterable, AsyncIterator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from edge.central import staff
from edge.web.sessions import Session

if TYPE_CHECKING:
    from edge.central.web.app import CentralApp

logger = logging.getLogger(__name__)
NO_STORE = {"Cache-Control": "no-store"}
Handler = Callable[[Request, Session], Awaitable[Response]]
RECHECK_S = 5.0     # how often a live stream checks that its account is still there


class Roles:
    """Each account's role as the store has it, re-read at most every `ttl_s`: a change
    made from the CLI or another web process reaches every request within that."""

    def __init__(self, store: Any, ttl_s: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._clock = clock
        self._roles: dict[str, str] = {}
        self._at: float | None = None

    async def of(self, name: str) -> str | None:
        now = self._clock()
        if self._at is None or now - self._at > self.ttl_s:
            try:
                self._roles = await asyncio.to_thread(staff.roles, self.store)
                self._at = now
            except Exception as e:  # the store away: keep the roles last read, if any
                if self._at is None:
                    raise
                logger.warning("central-web: cannot re-read the staff roles: %s", e)
        return self._roles.get(name)

    def forget(self) -> None:
        """Re-read at the next request (this process changed an account)."""
        self._at = None


class Accounts:
    def __init__(self, app: "CentralApp") -> None:
        self.app = app
        self._ended: dict[str, float] = {}   # account -> when its sessions were ended

    async def while_allowed(self, s: Session, body: AsyncIterable[Any]) -> AsyncIterator[Any]:
        """A live stream (one long request) ends, within `RECHECK_S` and its keepalive, when
        its account is removed or its sessions were ended here; the page then signs in anew."""
        since = checked = time.monotonic()
        try:
            async for chunk in body:
                yield chunk
                if time.monotonic() - checked >= RECHECK_S:
                    checked = time.monotonic()
                    if await self.app.roles.of(s.subject) is None \
                            or self._ended.get(s.subject, 0.0) > since:
                        return
        finally:
            close = getattr(body, "aclose", None)
            if close is not None:
                await close()

    def _admin(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            s, refused = await self.app.check(request, admin=True)
            if s is None:
                assert refused is not None
                return refused
            try:
                return await handler(request, s)
            except staff.StaffError as e:
                return _refuse(str(e), e.code, 409 if e.code in ("exists", "last_admin")
                               else 404 if e.code == "unknown" else 400)
            except (ValueError, KeyError, TypeError, AttributeError):
                return _refuse("expected a JSON object with the fields of this form", "body", 400)
        return endpoint

    async def index(self, request: Request, s: Session) -> Response:
        accounts = await asyncio.to_thread(staff.accounts, self.app.store)
        live: dict[str, int] = {}
        for x in self.app.sessions.live():
            live[x.subject] = live.get(x.subject, 0) + 1
        locks = [{"key": k, "kind": k.split(":", 1)[0], "who": k.split(":", 1)[-1],
                  "retry_s": int(left) + 1}
                 for k, left in sorted(self.app.lockout.locked().items())]
        return JSONResponse({"accounts": [{**a, "sessions": live.get(a["name"], 0),
                                           "you": a["name"] == s.subject} for a in accounts],
                             "roles": list(staff.ROLES), "lockouts": locks}, headers=NO_STORE)

    async def add(self, request: Request, s: Session) -> Response:
        body = await _json(request)
        name, role = str(body["name"]).strip().lower(), str(body["role"])
        await asyncio.to_thread(staff.add, self.app.store, name, role, str(body["password"]),
                                replace=False)
        return self._done(s, f"added {name!r} as {role}", 201)

    async def set_role(self, request: Request, s: Session) -> Response:
        name, role = request.path_params["name"], str((await _json(request))["role"])
        if name == s.subject:
            return _refuse("you cannot change your own role here; another admin can",
                           "self", 409)
        await asyncio.to_thread(staff.set_role, self.app.store, name, role)
        return self._done(s, f"made {name!r} {role}")

    async def set_password(self, request: Request, s: Session) -> Response:
        name = request.path_params["name"]
        await asyncio.to_thread(staff.set_password, self.app.store, name,
                                str((await _json(request))["password"]))
        # Whoever signed in with the old password is out, this admin too when it is theirs.
        ended = self.app.sessions.end_subject(name)
        self._ended[name] = time.monotonic()     # ...and their live streams
        return self._done(s, f"set a new password for {name!r} (ended {ended} sessions)",
                          signed_out=name == s.subject)

    async def remove(self, request: Request, s: Session) -> Response:
        name = request.path_params["name"]
        if name == s.subject:
            return _refuse("you cannot remove your own account; another admin can",
                           "self", 409)
        if not await asyncio.to_thread(staff.remove, self.app.store, name):
            raise staff.StaffError(f"no account {name!r}; reload the list", "unknown")
        self.app.sessions.end_subject(name)
        return self._done(s, f"removed {name!r}")

    async def own_password(self, request: Request) -> Response:
        """Anyone signed in sets their own password, knowing the current one (a wrong one
        counts towards the sign-in lockout: a borrowed session cannot guess it)."""
        s, refused = await self.app.check(request)
        if s is None:
            assert refused is not None
            return refused
        try:
            body = await _json(request)
            current, new = str(body["current"]), str(body["password"])
        except (ValueError, KeyError, TypeError):
            return _refuse("expected {current, password}", "body", 400)
        addr = request.client.host if request.client else "?"
        keys = (f"name:{s.subject}", f"addr:{addr}")
        if self.app.lockout.locked_for(*keys) > 0:
            return _refuse("too many wrong passwords; wait and try again", "locked", 429)
        if await asyncio.to_thread(staff.verify, self.app.store, s.subject, current) is None:
            self.app.lockout.failed(*keys)
            return _refuse("the current password is wrong", "wrong_current", 403)
        try:
            await asyncio.to_thread(staff.set_password, self.app.store, s.subject, new)
        except staff.StaffError as e:
            return _refuse(str(e), e.code, 400)
        self.app.sessions.end_subject(s.subject)
        self._ended[s.subject] = time.monotonic()
        return self._done(s, "set their own password", signed_out=True)

    async def unlock(self, request: Request, s: Session) -> Response:
        key = str((await _json(request))["key"])
        if not self.app.lockout.clear(key):
            return _refuse(f"{key!r} is not locked (its lock may have ended)", "unknown", 404)
        return self._done(s, f"lifted the sign-in lock of {key!r}")

    def _done(self, s: Session, what: str, status: int = 200, *,
              signed_out: bool = False) -> Response:
        logger.info("staff: %s %s", s.subject, what)
        self.app.roles.forget()
        return JSONResponse({"ok": True, "signed_out": signed_out}, status, headers=NO_STORE)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/accounts", self._admin(self.index), methods=["GET"]),
            Route("/api/accounts", self._admin(self.add), methods=["POST"]),
            Route("/api/accounts/{name}/role", self._admin(self.set_role), methods=["POST"]),
            Route("/api/accounts/{name}/password", self._admin(self.set_password),
                  methods=["POST"]),
            Route("/api/accounts/{name}/remove", self._admin(self.remove), methods=["POST"]),
            Route("/api/lockouts/clear", self._admin(self.unlock), methods=["POST"]),
            Route("/api/password", self.own_password, methods=["POST"]),
        ]


async def _json(request: Request) -> dict[str, Any]:
    body = json.loads(await request.body())
    if not isinstance(body, dict):
        raise ValueError("not an object")
    return body


def _refuse(message: str, code: str, status: int) -> Response:
    return JSONResponse({"error": message, "code": code}, status, headers=NO_STORE)
