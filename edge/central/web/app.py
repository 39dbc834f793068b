"""The Situational Center's web app: staff sign-in, the screens, their live streams, CSV.

`central_app(board, ...)` is a Starlette app on the one web stack (edge/web): strict
headers and a body cap on every answer, sessions in a SQLite file of their own (only
token hashes), the CSRF token on every POST but the sign-in (which takes JSON only, so a
form on another site cannot send it), and a lockout on wrong passwords per account and
per address. Every staff page and API refuses a visitor without a session; only
/login, its script and style, /healthz and the `extra_routes` (the visitor's ticket
page) are public. A session's role is the account's role now (edge/central/staff.py,
re-read every few seconds: a removed account is signed out, a demoted one loses admin);
the accounts' APIs (accounts.py) answer 403 to anyone but an admin.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from edge.central import staff
from edge.central.web.accounts import Accounts, Roles
from edge.central.web.board import Board
from edge.central.web.center import country_csv, operators_csv
from edge.central.web.names import names_json, with_service_names
from edge.web.live import Live, stream
from edge.web.lockout import Lockout
from edge.web.pages import Files, Headers, csp
from edge.web.sessions import Session, SessionStore, csrf_ok

FILES = {"/login": "login.html", "/login.js": "login.js", "/central.css": "central.css",
         "/central.js": "central.js", "/accounts.js": "accounts.js"}
APP_PAGE = "app.html"
COOKIE = "kezek_central"
LANGS = ("kk", "ru", "en")
NO_STORE = {"Cache-Control": "no-store"}
KEEPALIVE_S = 15.0
CENTER_EVERY_S = 1.0


class CentralApp:
    def __init__(self, board: Board, sessions: SessionStore, live: Live, overdue_live: Live, *,
                 lockout: Lockout | None = None, secure_cookie: bool = False,
                 session_hours: float = 12.0) -> None:
        self.board = board
        self.store = board.store
        self.sessions = sessions
        self.live = live
        self.overdue_live = overdue_live
        self.lockout = lockout or Lockout()
        self.secure_cookie = secure_cookie
        self.session_ms = int(session_hours * 3600 * 1000)
        self.files = Files("edge.central.web.static", {**FILES, "/app": APP_PAGE})
        self.roles = Roles(self.store)
        self.accounts = Accounts(self)

    # -- who is asking -------------------------------------------------------------------
    async def session(self, request: Request) -> Session | None:
        """The request's session with the account's role now; None when the account is gone."""
        s = self.sessions.get(request.cookies.get(COOKIE))
        if s is None:
            return None
        role = await self.roles.of(s.subject)
        if role is None:
            self.sessions.end(s)
            return None
        return s if role == s.role else self.sessions.update(s, role=role)

    async def _page(self, request: Request) -> Response:
        if await self.session(request) is None:
            return RedirectResponse("/login", status_code=303, headers=NO_STORE)
        return self.files.response("/app", head=request.method == "HEAD")

    async def check(self, request: Request, *, admin: bool = False
                    ) -> tuple[Session | None, Response | None]:
        """The session of a staff API's request, or the refusal: 401 without a session, 403
        for a non-admin on an admin's API, 403 for a POST without its CSRF token."""
        s = await self.session(request)
        if s is None:
            return None, JSONResponse({"error": "sign in first"}, 401, headers=NO_STORE)
        if admin and s.role != staff.ADMIN:
            return None, JSONResponse(
                {"error": f"only an admin may manage staff accounts; {s.subject!r} is signed "
                          f"in as {s.role}", "code": "admin_only"}, 403, headers=NO_STORE)
        if request.method == "POST" and not csrf_ok(s, request.headers.get("x-csrf-token")):
            return None, JSONResponse({"error": "missing or wrong CSRF token; reload the page",
                                       "code": "csrf"}, 403, headers=NO_STORE)
        return s, None

    def _api(handler: Callable[..., Any]) -> Callable[..., Any]:  # type: ignore[misc]
        """An API for staff only (any role): see `check`."""
        async def wrapped(self: "CentralApp", request: Request) -> Response:
            s, refused = await self.check(request)
            if s is None:
                assert refused is not None
                return refused
            response: Response = await handler(self, request, s)
            if isinstance(response, StreamingResponse):
                response.body_iterator = self.accounts.while_allowed(s, response.body_iterator)
            return response
        return wrapped

    # -- sign-in -------------------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            return self.files.response("/login", head=request.method == "HEAD")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "send JSON"}, 415)
        try:
            body = json.loads(await request.body())
            name, password = str(body["name"]).strip().lower(), str(body["password"])
            lang = body.get("lang") if body.get("lang") in LANGS else "kk"
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "expected {name, password, lang}"}, 400)
        addr = request.client.host if request.client else "?"
        keys = (f"name:{name}", f"addr:{addr}")
        wait = self.lockout.locked_for(*keys)
        if wait > 0:
            return JSONResponse({"error": "locked", "retry_s": int(wait) + 1}, 429,
                                headers={"Retry-After": str(int(wait) + 1)})
        role = await asyncio.to_thread(staff.verify, self.store, name, password)
        if role is None:
            locked = self.lockout.failed(*keys)
            if locked:
                return JSONResponse({"error": "locked", "retry_s": int(locked)}, 429,
                                    headers={"Retry-After": str(int(locked))})
            return JSONResponse({"error": "wrong name or password"}, 401)
        self.lockout.succeeded(keys[0])
        token, s = self.sessions.create(name, role, None, lang,
                                        self.board.clock_ms() + self.session_ms)
        response = JSONResponse({"ok": True, "role": role}, headers=NO_STORE)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                            secure=self.secure_cookie, max_age=self.session_ms // 1000)
        return response

    @_api
    async def logout(self, request: Request, s: Session) -> Response:
        self.sessions.end(s)
        response = JSONResponse({"ok": True})
        response.delete_cookie(COOKIE, path="/")
        return response

    @_api
    async def me(self, request: Request, s: Session) -> Response:
        return JSONResponse({"name": s.subject, "role": s.role, "lang": s.lang,
                             "csrf": s.csrf}, headers=NO_STORE)

    @_api
    async def names(self, request: Request, s: Session) -> Response:
        return JSONResponse(names_json(self.board.cfg), headers=NO_STORE)

    @_api
    async def set_lang(self, request: Request, s: Session) -> Response:
        try:
            lang = json.loads(await request.body()).get("lang")
        except (ValueError, AttributeError):
            lang = None
        if lang not in LANGS:
            return JSONResponse({"error": f"lang: expected one of {', '.join(LANGS)}"}, 400)
        self.sessions.update(s, lang=lang)
        return JSONResponse({"ok": True})

    # -- live streams --------------------------------------------------------------------
    def _sse(self, body: Any) -> Response:
        return StreamingResponse(body, media_type="text/event-stream; charset=utf-8",
                                 headers={**NO_STORE, "X-Accel-Buffering": "no"})

    def _busy(self) -> Response:
        return Response("too many screens connected; retrying\n", 503,
                        headers={"Retry-After": "5"})

    @_api
    async def country_events(self, request: Request, s: Session) -> Response:
        return self._stream(self.live)

    @_api
    async def overdue_events(self, request: Request, s: Session) -> Response:
        return self._stream(self.overdue_live)

    def _stream(self, live: Live) -> Response:
        if not live.join():
            return self._busy()

        async def body() -> Any:
            try:
                async for chunk in stream(live, lambda v: v, keepalive_s=KEEPALIVE_S,
                                          retry_ms=3000, ping=_ping):
                    yield chunk
            finally:
                live.leave()
        return self._sse(body())

    @_api
    async def center_events(self, request: Request, s: Session) -> Response:
        site = request.path_params["site"]
        if not self.live.join():
            return self._busy()

        async def body() -> Any:
            try:
                yield b"retry: 3000\n\n"
                seen, sent = -1, b""
                while True:
                    got = await self.live.changed(seen, KEEPALIVE_S)
                    if got is None:
                        return
                    if got[0] == seen:
                        yield _ping()
                        continue
                    seen = got[0]
                    view = await asyncio.to_thread(self._center, site, None)
                    data = json.dumps(view, ensure_ascii=False).encode()
                    if data != sent:
                        sent = data
                        yield b"event: state\ndata: " + data + b"\n\n"
                    # A center's screen is remade (from the board's fold) at most once
                    # a second, however often the board refreshes.
                    await asyncio.sleep(CENTER_EVERY_S)
            finally:
                self.live.leave()
        return self._sse(body())

    def _center(self, site: str, day: date | None) -> dict[str, Any]:
        return self.board.center(site, day)

    # -- reports -------------------------------------------------------------------------
    @_api
    async def report(self, request: Request, s: Session) -> Response:
        try:
            day = _day(request, self.board)
        except BadDay as e:
            return JSONResponse({"error": str(e)}, 400)
        rows = await asyncio.to_thread(self.store.day_report, day)
        if request.path_params.get("fmt") == "csv":
            return _csv(country_csv(rows), f"kezek-report-{day}.csv")
        return JSONResponse({"day": day.isoformat(), "sites": rows}, headers=NO_STORE)

    @_api
    async def center_report(self, request: Request, s: Session) -> Response:
        site = request.path_params["site"]
        try:
            day = _day(request, self.board)
        except BadDay as e:
            return JSONResponse({"error": str(e)}, 400)
        view = await asyncio.to_thread(self._center, site, day)
        if request.path_params.get("fmt") == "csv":
            return _csv(with_service_names(operators_csv(view), self.board.cfg, s.lang),
                        f"kezek-{site}-{view['day']}.csv")
        return JSONResponse(view, headers=NO_STORE)

    async def page(self, request: Request) -> Response:
        return await self._page(request)

    async def file(self, request: Request) -> Response:
        return self.files.response(request.url.path, head=request.method == "HEAD")

    async def healthz(self, request: Request) -> Response:
        return Response("ok\n", media_type="text/plain; charset=utf-8")

    def routes(self) -> list[BaseRoute]:
        get = ["GET", "HEAD"]
        return [
            Route("/", self.page, methods=get),
            Route("/center/{site}", self.page, methods=get),
            Route("/overdue", self.page, methods=get),
            Route("/reports", self.page, methods=get),
            Route("/accounts", self.page, methods=get),
            Route("/password", self.page, methods=get),
            Route("/login", self.login, methods=["GET", "HEAD", "POST"]),
            *(Route(p, self.file, methods=get) for p in FILES if p != "/login"),
            Route("/healthz", self.healthz, methods=get),
            Route("/api/logout", self.logout, methods=["POST"]),
            Route("/api/lang", self.set_lang, methods=["POST"]),
            Route("/api/me", self.me, methods=["GET"]),
            Route("/api/names", self.names, methods=["GET"]),
            *self.accounts.routes(),
            Route("/api/events", self.country_events, methods=["GET"]),
            Route("/api/overdue/events", self.overdue_events, methods=["GET"]),
            Route("/api/center/{site}/events", self.center_events, methods=["GET"]),
            Route("/api/report.{fmt:str}", self.report, methods=["GET"]),
            Route("/api/center/{site}/report.{fmt:str}", self.center_report, methods=["GET"]),
        ]


def central_app(app: CentralApp, extra_routes: list[BaseRoute] | None = None) -> Any:
    """The ASGI app: the staff routes, and `extra_routes` (public, e.g. /t/<token>)."""
    starlette = Starlette(routes=[*app.routes(), *(extra_routes or [])])
    return Headers(starlette, csp(app.files.bodies, forms=True),
                   extra={"Server": "kezek-central"})


def _ping() -> bytes:
    return b"event: ping\ndata: {}\n\n"


class BadDay(ValueError):
    pass


def _day(request: Request, board: Board) -> date:
    text = request.query_params.get("day")
    try:
        return date.fromisoformat(text) if text else board.today(board.clock_ms())
    except ValueError:
        raise BadDay(f"day={text!r}: expected a date as YYYY-MM-DD, e.g. 2026-12-02") from None


def _csv(text: str, name: str) -> Response:
    return Response(text.encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'})
