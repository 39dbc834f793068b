"""The manager's page: the day's figures, open alarms, windows to open or close, the CSV.

Starlette routes to mount on the panel's app (the one web stack, edge/web): the panel
owns sign-in and sessions and hands in `who` (the signed-in person, with a role) and
the CSRF check; every route here refuses anyone whose role is not "manager". Figures
come from the queue database (edge/manager/day.py, read-only), so they survive
restarts; window changes are the console's commands, submitted to the controller, and
an engine refusal comes back with its code for the page to say in the manager's
language. Live: `/manager/events` tells the page when the queue changed (SSE, edge/web/
live.py); the page then fetches `/manager/day.json` again (at most every few seconds).
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any, Callable, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from edge.config.model import AppConfig
from edge.control import Applied, QueueControl
from edge.errors import CommandError, KezekError
from edge.manager.day import DayReader, day_csv, day_report
from edge.queue.commands import CloseWindow, OpenWindow
from edge.web.live import Live, stream_response
from edge.web.pages import Files

logger = logging.getLogger(__name__)

FILES = {"/manager": "manager.html", "/manager/manager.css": "manager.css",
         "/manager/manager.js": "manager.js"}
ROLE = "manager"
SOURCE = "manager"
ANSWER_TIMEOUT_S = 10.0
# Events after which the figures, windows or alarms may read differently.
_CHANGES = ("ticket.", "window.", "alarm.", "rating.", "day.", "config.")
_NO_STORE = {"Cache-Control": "no-store", "Connection": "close"}
_FORBIDDEN = ("<!doctype html><html lang=\"kk\"><meta charset=\"utf-8\"><title>403</title>"
              "<p>Бұл бет тек орталық меңгерушісіне арналған.</p>"
              "<p>Эта страница только для руководителя центра.</p>"
              "<p>This page is for the center's manager only.</p>"
              "<p><a href=\"/\">←</a></p></html>")


class Principal(Protocol):
    """Who is signed in (the panel's operator): an id and a role."""

    @property
    def id(self) -> str: ...

    @property
    def role(self) -> str: ...


Who = Callable[[Request], "Principal | None"]


class ManagerPage:
    """The routes and their live source; `close()` ends the open streams."""

    def __init__(self, reader: DayReader, control: QueueControl,
                 config_of: Callable[[], AppConfig], who: Who,
                 csrf_ok: Callable[[Request], bool],
                 csrf_token: Callable[[Request], str | None], *,
                 now_ms: Callable[[], int] | None = None, keepalive_s: float = 15.0,
                 retry_ms: int = 2000) -> None:
        self.reader = reader
        self.control = control
        self.config_of = config_of
        self.who = who
        self.csrf_ok = csrf_ok
        self.csrf_token = csrf_token
        self.now_ms = now_ms or (lambda: self.control.snapshot.now_ms)
        self.keepalive_s = keepalive_s
        self.retry_ms = retry_ms
        self.files = Files("edge.manager.static", FILES)
        self.live = Live(max_clients=16)
        self.live.publish(0)
        control.subscribe(self._on_applied)

    def _on_applied(self, applied: Applied) -> None:
        # The controller's thread: only hand over (publish stores a number and wakes).
        if any(e.type.startswith(_CHANGES) for e in applied.events):
            self.live.publish(applied.events[-1].seq)

    def routes(self) -> list[BaseRoute]:
        return [Route("/manager", self._page, methods=["GET", "HEAD"]),
                Route("/manager/manager.css", self._file, methods=["GET", "HEAD"]),
                Route("/manager/manager.js", self._file, methods=["GET", "HEAD"]),
                Route("/manager/day.json", self._day_json, methods=["GET"]),
                Route("/manager/day.csv", self._day_csv, methods=["GET"]),
                Route("/manager/events", self._events, methods=["GET"]),
                Route("/manager/window/{number:int}/{action:str}", self._window,
                      methods=["POST"])]

    def close(self) -> None:
        self.live.close()

    # -- who may ---------------------------------------------------------------------
    def _manager(self, request: Request) -> Principal | None:
        person = self.who(request)
        return person if person is not None and person.role == ROLE else None

    @staticmethod
    def _refused(request: Request) -> Response:
        if request.url.path == "/manager":
            return Response(_FORBIDDEN, status_code=403, media_type="text/html; charset=utf-8",
                            headers=_NO_STORE)
        return JSONResponse({"ok": False, "code": "forbidden",
                             "error": "the manager's page needs a manager's sign-in"},
                            status_code=403, headers=_NO_STORE)

    # -- pages -----------------------------------------------------------------------
    async def _page(self, request: Request) -> Response:
        if self._manager(request) is None:
            return self._refused(request)
        return self.files.response("/manager", head=request.method == "HEAD")

    async def _file(self, request: Request) -> Response:
        return self.files.response(request.url.path, head=request.method == "HEAD")

    def _report(self) -> dict[str, Any]:
        config = self.config_of()
        snap = self.control.snapshot
        report = day_report(self.reader.stages(snap.day), config, snap.day, self.now_ms())
        report["center"] = config.center.name.as_dict()
        report["windows_now"] = [{"number": w.number, "label": w.label, "state": w.state,
                                  "ticket": w.ticket, "ticket_state": w.ticket_state}
                                 for w in snap.windows]
        report["alarms"] = sorted(({"alarm": a.get("alarm", k), "severity": a.get("severity"),
                                    "message": a.get("message", ""),
                                    "since_ms": a.get("since_ms")}
                                   for k, a in snap.alarms.items()),
                                  key=lambda a: (a["severity"] != "critical", a["alarm"]))
        return report

    async def _day_json(self, request: Request) -> Response:
        person = self._manager(request)
        if person is None:
            return self._refused(request)
        report = await asyncio.to_thread(self._report)
        report["csrf"] = self.csrf_token(request)
        report["me"] = person.id
        return JSONResponse(report, headers=_NO_STORE)

    async def _day_csv(self, request: Request) -> Response:
        if self._manager(request) is None:
            return self._refused(request)
        day = self.control.snapshot.day
        stages = await asyncio.to_thread(self.reader.stages, day)
        body = day_csv(stages, self.config_of().center.timezone)
        site = self.config_of().center.site
        return Response(body.encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                        headers={**_NO_STORE, "Content-Disposition":
                                 f'attachment; filename="kezek-{site}-{day}.csv"'})

    async def _events(self, request: Request) -> Response:
        if self._manager(request) is None:
            return self._refused(request)
        if not self.live.join():
            return Response("too many manager pages open\n", status_code=503,
                            media_type="text/plain; charset=utf-8",
                            headers={"Retry-After": "5", "Connection": "close"})
        return stream_response(self.live, _render, keepalive_s=self.keepalive_s,
                               retry_ms=self.retry_ms, ping=lambda: b"event: ping\ndata: {}\n\n")

    # -- open / close a window ----------------------------------------------------------
    async def _window(self, request: Request) -> Response:
        person = self._manager(request)
        if person is None:
            return self._refused(request)
        if not self.csrf_ok(request):
            return JSONResponse({"ok": False, "code": "csrf",
                                 "error": "the page's token is missing or old; reload it"},
                                status_code=403, headers=_NO_STORE)
        number, action = request.path_params["number"], request.path_params["action"]
        if action not in ("open", "close"):
            return JSONResponse({"ok": False, "code": "bad_request",
                                 "error": f"unknown action {action!r} (open or close)"},
                                status_code=404, headers=_NO_STORE)
        command = (OpenWindow if action == "open" else CloseWindow)(number, source=SOURCE)
        try:
            applied = await asyncio.wait_for(asyncio.wrap_future(self.control.submit(command)),
                                             ANSWER_TIMEOUT_S)
        except CommandError as e:
            return JSONResponse({"ok": False, "code": e.code, "error": str(e)}, headers=_NO_STORE)
        except (KezekError, asyncio.TimeoutError) as e:
            return JSONResponse({"ok": False, "code": "not_saved",
                                 "error": str(e) or "the controller did not answer in time"},
                                headers=_NO_STORE)
        logger.info("manager %s: window %d %s", person.id, number, action)
        return JSONResponse({"ok": True, "text": applied.reply.text}, headers=_NO_STORE)


def _render(version: Any) -> bytes:
    return json.dumps({"v": version}).encode()


def manager_routes(db: Path | DayReader, control: QueueControl,
                   config_of: Callable[[], AppConfig], who: Who,
                   csrf_ok: Callable[[Request], bool],
                   csrf_token: Callable[[Request], str | None], **options: Any
                   ) -> list[BaseRoute]:
    """The manager's routes for the panel's app (see ManagerPage for `close()`)."""
    reader = db if isinstance(db, DayReader) else DayReader(db)
    return ManagerPage(reader, control, config_of, who, csrf_ok, csrf_token,
                       **options).routes()

