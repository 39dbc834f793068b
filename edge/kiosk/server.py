"""The touch kiosk page: services, categories, check-in by booking code or IIN, the answer.

Served on the one web stack (edge/web: Starlette under uvicorn) to the kiosk's own
screen. The page only submits what the buttons and the scanner do (IssueTicket, CheckIn,
CheckInIin) to the controller and shows the answer: the ticket number while it prints,
or the reason there is none in every language (edge/kiosk/texts.py). Its refusals go to
the notice bus too, so the hall banner and a board line say the same. Live state (which
services take walk-ins, whether the printer can print) comes by server-sent events. A port
it cannot take is an alarm (`device:kiosk`), tried again; the queue never waits for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edge.config.kiosk import KioskConfig
from edge.kiosk.guard import ClientGate, Guard, Refused
from edge.kiosk.notices import REFUSED, Notices
from edge.kiosk.texts import LANGS, sentence
from edge.kiosk.view import KioskView
from edge.queue.bookings import iin_valid
from edge.queue.commands import CheckIn, CheckInIin, Command, DeviceStatus, IssueTicket
from edge.queue.model import Category
from edge.web.live import Live, stream_response
from edge.web.pages import Files, Headers, csp
from edge.web.server import Limits, WebServer

if TYPE_CHECKING:
    from edge.component import AppContext

logger = logging.getLogger(__name__)

# The script is three plain files, run in this order (index.html, after web/static/live.js):
# shared parts, check-in, the rest.
FILES = {"/": "index.html", "/kiosk.css": "kiosk.css", "/kiosk-page.js": "kiosk-page.js",
         "/kiosk-checkin.js": "kiosk-checkin.js", "/kiosk.js": "kiosk.js"}
TOKEN_MARK = b"__KIOSK_TOKEN__"
SOURCE = "kiosk"
MAX_BODY = 1024
ANSWER_TIMEOUT_S = 10.0
REFRESH_S = 5.0         # the page's "open now" follows the clock at least this often
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,31}$")    # a booking code (docs/bookings.md)
_JSON_HEADERS = {"Cache-Control": "no-store", "Connection": "close"}


class KioskServer:
    """The kiosk page component."""

    name = "kiosk"

    def __init__(self, cfg: KioskConfig, controller: Any, notices: Notices, clock: Any,
                 center_names: dict[str, str]) -> None:
        self.cfg = cfg
        self.controller = controller
        self.notices = notices
        self.clock = clock
        self.view = KioskView(cfg, center_names)
        self.guard = Guard(cfg)
        self.live = Live(cfg.max_clients)
        self.live.publish(b"{}")
        self.files = Files("edge.kiosk.static", FILES, shared=["/live.js"])
        self.gate: ClientGate | None = None
        self.web = WebServer("kiosk", self._app(), cfg.bind, cfg.port, report=self._report,
                             limits=Limits(max_connections=cfg.max_clients + 8))
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._notice: Any = None
        self._thread: threading.Thread | None = None
        self.answers: dict[str, int] = {}      # code -> count ("ok" for tickets)

    # -- the app -------------------------------------------------------------------------
    def _app(self) -> Any:
        routes = [Route("/", self._page, methods=["GET", "HEAD"]),
                  *[Route(path, self._file, methods=["GET", "HEAD"])
                    for path in self.files.bodies if path != "/"],
                  Route("/events", self._events, methods=["GET"]),
                  Route("/healthz", self._healthz, methods=["GET", "HEAD"]),
                  Route("/ticket", self._ticket, methods=["POST"]),
                  Route("/checkin", self._checkin, methods=["POST"]),
                  Route("/iin", self._iin, methods=["POST"])]
        self.gate = ClientGate(Starlette(routes=routes), self.cfg)
        return Headers(self.gate, csp(self.files.bodies), max_body=MAX_BODY,
                       extra={"Server": "kezek-kiosk"})

    async def _page(self, request: Request) -> Response:
        client = request.client.host if request.client else ""
        body = self.files.bodies["/"].replace(TOKEN_MARK, self.guard.tokens.issue(client).encode())
        return Response(b"" if request.method == "HEAD" else body,
                        media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store", "Connection": "close"})

    async def _file(self, request: Request) -> Response:
        return self.files.response(request.url.path, head=request.method == "HEAD")

    async def _healthz(self, request: Request) -> Response:
        return Response("ok\n", media_type="text/plain; charset=utf-8",
                        headers={"Connection": "close"})

    async def _events(self, request: Request) -> Response:
        if not self.live.join():
            return Response("too many kiosk screens connected; retrying\n", status_code=503,
                            media_type="text/plain; charset=utf-8",
                            headers={"Retry-After": str(max(1, self.cfg.retry_ms // 1000)),
                                     "Connection": "close"})
        return stream_response(self.live, lambda v: v, keepalive_s=self.cfg.keepalive_s,
                               retry_ms=self.cfg.retry_ms, ping=lambda: b"event: ping\ndata: {}\n\n")

    # -- state-changing requests: checked first, then one command ------------------------
    async def _ticket(self, request: Request) -> Response:
        async def make(f: dict[str, str]) -> Command | JSONResponse:
            services = {s.id for s in self.view.services(self.controller.snapshot)}
            if f["service"] not in services or f["category"] not in self.cfg.categories:
                raise Refused(400, "bad_request", "no such service or category on this page")
            return IssueTicket(service=f["service"], category=Category(f["category"]),
                               printer=self.cfg.printer, source=SOURCE)
        return await self._handle(request, ("service", "category"), make)

    async def _checkin(self, request: Request) -> Response:
        async def make(f: dict[str, str]) -> Command | JSONResponse:
            code = f["code"].strip()
            if not self.cfg.checkin_code:
                raise Refused(403, "forbidden", "check-in by code is off (kiosk.checkin_code)")
            if not _CODE.match(code):
                return self._refused("unknown_booking", {})
            return CheckIn(code=code, printer=self.cfg.printer, source=SOURCE)
        return await self._handle(request, ("code",), make)

    async def _iin(self, request: Request) -> Response:
        async def make(f: dict[str, str]) -> Command | JSONResponse:
            iin = f["iin"]
            if not self.cfg.checkin_iin:
                raise Refused(403, "forbidden", "check-in by IIN is off (kiosk.checkin_iin)")
            # The check digit before anything: a wrong IIN makes no command (and no hash).
            if len(iin) != 12 or not (iin.isascii() and iin.isdigit()):
                return self._refused("iin_short", {})
            if not iin_valid(iin):
                return self._refused("bad_iin", {})
            return CheckInIin(iin=iin, printer=self.cfg.printer, source=SOURCE)
        return await self._handle(request, ("iin",), make)

    async def _handle(self, request: Request, fields: tuple[str, ...], make: Any) -> Response:
        try:
            made = await make(await self.guard.check(request, fields))
        except Refused as r:
            logger.info("kiosk: refused a request from %s: %s",
                        request.client.host if request.client else "?", r.why)
            return JSONResponse({"ok": False, "code": r.code,
                                 "texts": self._texts(r.code) if r.code == "slow_down" else None},
                                status_code=r.status, headers=_JSON_HEADERS)
        if isinstance(made, Response):
            return made
        fut = self.controller.submit(made)
        try:
            applied = await asyncio.wait_for(asyncio.wrap_future(fut), ANSWER_TIMEOUT_S)
        except Exception as e:   # a refusal (CommandError), a fault, the controller too slow
            notice = self.notices.refusal(e, printer=self.cfg.printer, source=SOURCE)
            self._count(notice.code)
            return self._answer({"ok": False, "code": notice.code,
                                 "texts": self._langs(notice.texts)})
        self._count("ok")
        return self._answer(self._ticket_answer(applied))

    def _ticket_answer(self, applied: Any) -> dict[str, Any]:
        reply = applied.reply
        data = dict(getattr(reply, "data", {}) or {})
        ticket = getattr(reply, "ticket", None)
        service = next((s for s in applied.snapshot.services
                        if s.id == (data.get("service") or getattr(ticket, "service", None))),
                       None)
        return {"ok": True, "ticket": data.get("ticket") or getattr(ticket, "label", ""),
                "service": None if service is None else
                {lang: service.names.get(lang, "") for lang in self.view.languages},
                "ahead": data.get("ahead"), "wait_min": data.get("wait_min"),
                "printing": self.cfg.printer is not None,
                "checked_in": bool(data.get("booking")) or bool(data.get("slot_start")),
                "late": bool(data.get("late")), "slot": data.get("slot_start")}

    def _refused(self, code: str, params: dict[str, Any]) -> JSONResponse:
        """A refusal decided here, before any command (an IIN's check digit)."""
        notice = self.notices.publish(REFUSED, code, params, printer=self.cfg.printer,
                                      source=SOURCE)
        self._count(code)
        return self._answer({"ok": False, "code": code, "texts": self._langs(notice.texts)})

    def _langs(self, texts: dict[str, str]) -> dict[str, str]:
        return {lang: texts.get(lang, "") for lang in self.view.languages}

    def _texts(self, code: str) -> dict[str, str]:
        return {lang: sentence(code, lang, {}) for lang in self.view.languages if lang in LANGS}

    def _count(self, code: str) -> None:
        self.answers[code] = self.answers.get(code, 0) + 1

    @staticmethod
    def _answer(body: dict[str, Any]) -> JSONResponse:
        return JSONResponse(body, headers=_JSON_HEADERS)

    # -- live state ----------------------------------------------------------------------
    def on_applied(self, applied: Any) -> None:
        self._wake.set()        # the controller's loop: only wake the broadcaster

    def on_notice(self, notice: Any) -> None:
        # The kiosk's own hardware beside the screen (a ticket button): the page says it too.
        # Its own answers it shows from the request; entries (masked IINs) stay on boards.
        if notice.source != SOURCE and notice.printer == self.cfg.printer \
                and notice.kind in ("refused", "info"):
            self._notice = notice
            self._wake.set()

    def _publish(self, now: float) -> float | None:
        snapshot = self.controller.snapshot
        state, next_change = self.view.state(
            snapshot, self.notices.config, self.clock.read().wall_ms,
            self.notices.printer_state(self.cfg.printer), self._notice, now)
        body = json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if body != self.live.current()[1]:
            self.live.publish(body)
        return next_change

    def _broadcast_loop(self) -> None:
        next_change: float | None = None
        while not self._stop.is_set():
            wait = REFRESH_S if next_change is None else \
                min(REFRESH_S, max(0.0, next_change - time.monotonic()))
            self._wake.wait(wait)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                next_change = self._publish(time.monotonic())
            except Exception:  # a bug here must not freeze the page for good
                logger.exception("kiosk: cannot build the page state")
                next_change = None

    def _report(self, ok: bool, detail: str) -> None:
        self.controller.submit(DeviceStatus("kiosk", ok, detail, source="kiosk"))

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._publish(time.monotonic())
        self.controller.subscribe(self.on_applied)
        self.notices.subscribe(self.on_notice)
        self._thread = threading.Thread(target=self._broadcast_loop,
                                        name="kezek-kiosk-broadcast", daemon=True)
        self._thread.start()
        self.web.on_serving = lambda: logger.info("kiosk page on %s", self.web.url)
        self.web.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self.live.close()
        deadline = time.monotonic() + timeout
        self.web.stop(timeout)
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))

    def wait_serving(self, timeout: float = 10.0) -> bool:
        return self.web.wait_serving(timeout)

    def health(self) -> dict[str, Any]:
        return {**self.web.health(), "screens": self.live.clients, "answers": dict(self.answers),
                "refused_requests": dict(self.guard.refused),
                "refused_addresses": self.gate.refused if self.gate else 0}

    @property
    def address(self) -> tuple[str, int]:
        return self.web.address


def build(ctx: "AppContext") -> list[KioskServer]:
    notices = ctx.components["notices"]       # built first whenever the kiosk is on
    return [KioskServer(ctx.config.kiosk, ctx.controller, notices, ctx.clock,
                        ctx.config.center.name.as_dict())]
