"""The operators' panel server: sign-in, the window, the buttons, the live view.

Served on the one web stack (edge/web: Starlette under uvicorn) on its own port
([panel]). Every state-changing request passes, in order: the client's rate, the same
origin, a live session (cookie: HttpOnly, SameSite=Strict), its CSRF token (header
X-CSRF-Token), and the operator still signed in at the session's window; only then is one
command submitted (edge/panel/actions.py), and the engine decides. A refusal changes
nothing and is answered in the operator's language (edge/panel/texts.py). Routes given
as `extra_routes` (the manager's day) are mounted beside the panel; they check access
with `current_operator(request)` (edge/panel/auth.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from edge.config.panel import PanelConfig
from edge.errors import CommandError
from edge.panel import actions, texts
from edge.panel.auth import COOKIE, Auth, Operator, SignInRefused, current_operator
from edge.panel.feed import Feed
from edge.queue.commands import Command, DeviceStatus, SignIn, SignOut
from edge.web.live import Live, sse
from edge.web.lockout import RateLimit
from edge.web.pages import Files, Headers, csp
from edge.web.server import Limits, WebServer
from edge.web.sessions import Session, csrf_ok

if TYPE_CHECKING:
    from edge.component import AppContext

__all__ = ["PanelServer", "build", "current_operator"]

logger = logging.getLogger(__name__)

FILES = {"/": "panel.html", "/panel.css": "panel.css", "/panel.js": "panel.js"}
MAX_BODY = 2048
ANSWER_TIMEOUT_S = 10.0
_NO_STORE = {"Cache-Control": "no-store"}


class PanelServer:
    """The panel component."""

    name = "panel"

    def __init__(self, cfg: PanelConfig, controller: Any, clock: Any, state_dir: Path, *,
                 extra_routes: Sequence[BaseRoute] = (), db_path: Path | None = None) -> None:
        self.cfg = cfg
        self.controller = controller
        self.auth = Auth(cfg, Path(state_dir) / "panel-sessions.db",
                         lambda: list(controller.config.operators),
                         lambda: int(clock.read().wall_ms),
                         lambda: controller.config.center.timezone)
        self.rate = RateLimit(cfg.rate_per_s, cfg.burst)
        self.live = Live(cfg.max_clients)
        self.live.publish({})
        self.feed = Feed(controller, self.live,
                         lambda: {s.subject for s in self.auth.sessions.live()})
        self.files = Files("edge.panel.static", FILES)
        # The manager's day (edge/manager/) beside the panel, behind the same sign-in: its
        # figures come from the queue database's visit stages.
        self.manager = None if db_path is None else self._manager_page(db_path, clock)
        if self.manager is not None:
            extra_routes = [*extra_routes, *self.manager.routes()]
        self.app = self._app(extra_routes)
        self.web = WebServer("panel", self.app, cfg.bind, cfg.port, report=self._report,
                             limits=Limits(max_connections=cfg.max_clients + 16))
        self.refused: dict[str, int] = {}

    def _manager_page(self, db_path: Path, clock: Any) -> Any:
        from edge.manager.day import DayReader
        from edge.manager.routes import ManagerPage

        def csrf_sent(request: Request) -> bool:
            session = self.auth.session(request, touch=False)
            return session is not None and csrf_ok(session, request.headers.get("x-csrf-token"))

        def csrf_token(request: Request) -> str | None:
            session = self.auth.session(request, touch=False)
            return None if session is None else session.csrf

        controller = self.controller
        return ManagerPage(DayReader(db_path), controller, lambda: controller.config,
                           current_operator, csrf_sent, csrf_token,
                           now_ms=lambda: int(clock.read().wall_ms))

    # -- the app -------------------------------------------------------------------------
    def _app(self, extra: Sequence[BaseRoute]) -> Any:
        get = ["GET", "HEAD"]
        routes: list[BaseRoute] = [
            Route("/", self._file, methods=get), Route("/panel.css", self._file, methods=get),
            Route("/panel.js", self._file, methods=get),
            Route("/healthz", self._healthz, methods=get),
            Route("/api/texts", self._texts, methods=["GET"]),
            Route("/api/me", self._me, methods=["GET"]),
            Route("/api/sign-in", self._sign_in, methods=["POST"]),
            Route("/api/window", self._window, methods=["POST"]),
            Route("/api/action", self._action, methods=["POST"]),
            Route("/api/sign-out", self._sign_out, methods=["POST"]),
            Route("/events", self._events, methods=["GET"]), *extra]
        if not any(getattr(r, "path", None) == "/manager" for r in extra):
            routes.append(Route("/manager", self._manager, methods=["GET"]))
        app = Starlette(routes=routes)
        app.state.panel_auth = self.auth
        return Headers(app, csp(self.files.bodies), max_body=MAX_BODY,
                       extra={"Server": "kezek-panel"})

    async def _file(self, request: Request) -> Response:
        return self.files.response(request.url.path, head=request.method == "HEAD")

    async def _healthz(self, request: Request) -> Response:
        return Response("ok\n", media_type="text/plain; charset=utf-8")

    async def _texts(self, request: Request) -> Response:
        return JSONResponse({"labels": texts.labels(), "langs": list(texts.LANGS),
                             "default": texts.DEFAULT_LANG}, headers=_NO_STORE)

    async def _manager(self, request: Request) -> Response:
        op = current_operator(request)
        if op is None or op.role != "manager":
            return RedirectResponse("/", status_code=303)
        return Response(f"{op.name}: the manager's day is not installed on this panel.\n",
                        media_type="text/plain; charset=utf-8", headers=_NO_STORE)

    def _windows(self, op: Operator, client: str) -> list[dict[str, Any]]:
        """The windows an operator may choose, as the running config and the queue are."""
        bound = self.cfg.window_of(client)
        taken = {w.number: w.operator for w in self.controller.snapshot.windows}
        out = []
        for w in self.controller.config.windows:
            allowed = (not op.services or all(s in op.services for s in w.services)) and \
                (bound is None or bound == w.number)
            out.append({"number": w.number, "label": w.label or str(w.number),
                        "services": list(w.services), "operator": taken.get(w.number),
                        "allowed": allowed})
        return out

    async def _me(self, request: Request) -> Response:
        session = self.auth.session(request, touch=False)
        op = self.auth.operator(session)
        if session is None or op is None:
            return self._refusal("signed_out", texts.DEFAULT_LANG, 401)
        client = request.client.host if request.client else ""
        return JSONResponse({"ok": True, "operator": {"id": op.id, "name": op.name,
                                                      "role": op.role},
                             "window": op.window, "lang": op.lang, "csrf": session.csrf,
                             "bound": self.cfg.window_of(client),
                             "windows": self._windows(op, client)}, headers=_NO_STORE)

    # -- state-changing requests -----------------------------------------------------------
    async def _checked(self, request: Request, *, signed_in: bool = True
                       ) -> tuple[dict[str, Any], Session | None, Operator | None] | Response:
        """The checks every POST passes before anything is done; a Response if refused."""
        client = request.client.host if request.client else ""
        if not self.rate.allow(client):
            return self._refusal("slow_down", texts.DEFAULT_LANG, 429)
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
            return self._refusal("csrf", texts.DEFAULT_LANG, 403)
        session = op = None
        if signed_in:
            session = self.auth.session(request)
            op = self.auth.operator(session)
            if session is None or op is None:
                return self._refusal("signed_out", texts.DEFAULT_LANG, 401)
            if not csrf_ok(session, request.headers.get("x-csrf-token")):
                return self._refusal("csrf", session.lang, 403)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._refusal("bad_request", session.lang if session else "kk", 400)
        return body, session, op

    async def _sign_in(self, request: Request) -> Response:
        checked = await self._checked(request, signed_in=False)
        if isinstance(checked, Response):
            return checked
        body = checked[0]
        lang = str(body.get("lang")) if body.get("lang") in texts.LANGS else texts.DEFAULT_LANG
        op_id, pin = body.get("operator"), body.get("pin")
        if not isinstance(op_id, str) or not isinstance(pin, str) or not op_id or not pin \
                or len(op_id) > 32 or len(pin) > 128:
            return self._refusal("bad_pin", lang, 400)
        client = request.client.host if request.client else ""
        try:
            token, session, op = await self.auth.sign_in(op_id.strip().lower(), pin, lang,
                                                         client)
        except SignInRefused as r:
            logger.info("panel: sign-in refused for %r from %s: %s", op_id[:32], client, r.code)
            return self._refusal(r.code, lang, 429 if r.code == "locked" else 403, **r.params)
        logger.info("panel: %s signed in from %s", op.id, client)
        answer = JSONResponse({"ok": True, "role": op.role, "csrf": session.csrf,
                               "next": "/manager" if op.role == "manager" else "/"},
                              headers=_NO_STORE)
        answer.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return answer

    async def _window(self, request: Request) -> Response:
        checked = await self._checked(request)
        if isinstance(checked, Response):
            return checked
        body, session, op = checked
        assert session is not None and op is not None
        number = body.get("window")
        client = request.client.host if request.client else ""
        choice = next((w for w in self._windows(op, client) if w["number"] == number), None)
        if choice is None or not isinstance(number, int) or isinstance(number, bool):
            return self._refusal("unknown_window", op.lang, 400)
        if not choice["allowed"]:
            bound = self.cfg.window_of(client)
            if bound is not None and bound != number:
                return self._refusal("pc_bound", op.lang, 403, window=bound)
            return self._refusal("service_not_allowed", op.lang, 403)
        answer = await self._submit(SignIn(int(number), operator=op.id), op.lang)
        if answer.status_code == 200:
            self.auth.sessions.update(session, place=str(number))
        return answer

    async def _action(self, request: Request) -> Response:
        checked = await self._checked(request)
        if isinstance(checked, Response):
            return checked
        body, session, op = checked
        assert session is not None and op is not None
        if op.window is None:
            return self._refusal("not_signed_in", op.lang, 409)
        if "window" in body and body["window"] != op.window:
            # A panel acts only at its own window, whatever a request names.
            return self._refusal("wrong_window", op.lang, 403)
        try:
            cmd = actions.command(str(body.get("action")), op.window, op.id, body)
        except actions.BadAction as e:
            return self._refusal("bad_request", op.lang, 400, detail=str(e))
        answer = await self._submit(cmd, op.lang, session)
        if body.get("action") == "close" and answer.status_code == 200:
            self.auth.sessions.end(session)   # the engine signed them out with the close
        return answer

    async def _sign_out(self, request: Request) -> Response:
        checked = await self._checked(request)
        if isinstance(checked, Response):
            return checked
        _, session, op = checked
        assert session is not None and op is not None
        if op.window is not None:
            try:
                await self._wait(SignOut(op.window, operator=op.id))
            except CommandError:
                pass   # signed out already (day end, moved): the session ends all the same
        self.auth.sessions.end(session)
        logger.info("panel: %s signed out", op.id)
        answer = JSONResponse({"ok": True}, headers=_NO_STORE)
        answer.delete_cookie(COOKIE, path="/")
        return answer

    async def _wait(self, cmd: Command) -> Any:
        fut = self.controller.submit(cmd)
        return await asyncio.wait_for(asyncio.wrap_future(fut), ANSWER_TIMEOUT_S)

    async def _submit(self, cmd: Command, lang: str, session: Session | None = None
                      ) -> Response:
        try:
            applied = await self._wait(cmd)
        except CommandError as e:
            if e.code == "not_signed_in" and session is not None and \
                    not isinstance(cmd, SignIn):
                # The engine ended this operator's work here (day end, signed in elsewhere).
                self.auth.sessions.end(session)
                return self._refusal("signed_out", lang, 401, detail=str(e))
            return self._refusal(e.code, lang, 409, detail=str(e))
        except asyncio.TimeoutError:
            return self._refusal("busy", lang, 503)
        except Exception as e:
            return self._refusal("error", lang, 503, detail=str(e))
        reply = applied.reply
        ticket = getattr(reply, "ticket", None)
        return JSONResponse({"ok": True, "text": reply.text,
                             "ticket": ticket.label if ticket is not None else None},
                            headers=_NO_STORE)

    def _refusal(self, code: str, lang: str, status: int, detail: str = "",
                 **params: Any) -> JSONResponse:
        self.refused[code] = self.refused.get(code, 0) + 1
        return JSONResponse({"ok": False, "code": code, "text": texts.refusal(code, lang,
                                                                             **params),
                             "detail": detail}, status_code=status, headers=_NO_STORE)

    # -- live view -------------------------------------------------------------------------
    async def _events(self, request: Request) -> Response:
        session = self.auth.session(request, touch=False)
        op = self.auth.operator(session)
        if session is None or op is None or op.window is None:
            return self._refusal("signed_out", texts.DEFAULT_LANG, 401)
        if not self.live.join():
            return Response("too many panels connected; retrying\n", status_code=503,
                            headers={"Retry-After": "2"})
        window, token = op.window, request.cookies.get(COOKIE)
        self.feed.watch(window)

        async def body() -> Any:
            try:
                yield b"retry: %d\n\n" % self.cfg.retry_ms
                seen, sent = -1, None
                while True:
                    got = await self.live.changed(seen, self.cfg.keepalive_s)
                    if got is None:
                        return
                    if self.auth.sessions.get(token, touch=False) is None:
                        yield sse("signed_out", {})
                        return
                    version, value = got
                    if version != seen:
                        seen = version
                        data = value.get(window)
                        if data is not None and data != sent:
                            sent = data
                            yield sse("state", data, version)
                            continue
                    yield b"event: ping\ndata: {}\n\n"
            finally:
                self.feed.unwatch(window)
                self.live.leave()

        return StreamingResponse(body(), media_type="text/event-stream; charset=utf-8",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    # -- lifecycle -------------------------------------------------------------------------
    def _report(self, ok: bool, detail: str) -> None:
        self.controller.submit(DeviceStatus("panel", ok, detail, source="panel"))

    def start(self) -> None:
        self.controller.subscribe(self.feed.on_applied)
        self.feed.start()
        self.web.on_serving = lambda: logger.info("operators' panel on %s", self.web.url)
        self.web.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.live.close()
        if self.manager is not None:
            self.manager.close()
            self.manager.reader.close()
        self.web.stop(timeout)
        self.feed.stop(timeout)
        self.auth.close()

    def wait_serving(self, timeout: float = 10.0) -> bool:
        return self.web.wait_serving(timeout)

    def health(self) -> dict[str, Any]:
        return {**self.web.health(), "panels": self.live.clients,
                "refused": dict(self.refused), "feed_error": self.feed.worker.problem()}

    @property
    def address(self) -> tuple[str, int]:
        return self.web.address


def build(ctx: "AppContext") -> list[PanelServer]:
    return [PanelServer(ctx.config.panel, ctx.controller, ctx.clock, ctx.state_dir,
                        db_path=ctx.db_path)]
