"""The hall screen: a read-only page and a live stream of the queue for a TV on the LAN.

Served on the one web stack (edge/web: Starlette under uvicorn). The controller's
listener only stores the newest snapshot and wakes `kezek-hall-broadcast`, which turns it
into the page's state and publishes it when it changed; every open stream then sends it.
A port it cannot take is an alarm (`device:hall`), tried again: the queue never stops for
the hall screen. A visitor's refusal (edge/kiosk/notices.py) is handed over the same way
and shown as a banner for its few seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import zoneinfo
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edge.config.hall import HallConfig
from edge.hall.view import HallView
from edge.queue.commands import DeviceStatus
from edge.web.live import Live, stream_response
from edge.web.pages import Files, Headers, csp
from edge.web.server import Limits, WebServer
from edge.worker import Worker

if TYPE_CHECKING:
    from edge.clock import Clock
    from edge.component import AppContext
    from edge.control import Applied, QueueControl
    from edge.queue.snapshot import QueueSnapshot

logger = logging.getLogger(__name__)

FILES = {"/": "index.html", "/hall.css": "hall.css", "/hall.js": "hall.js"}
# While the port cannot be opened, the hall tries again this often (alarm device:hall).
LISTEN_RETRY_S = 5.0
# Connections beyond the live screens: page, script and style loads of reconnecting TVs.
EXTRA_CONNECTIONS = 8
_READ_ONLY = Response("read-only: only GET and HEAD\n", status_code=405,
                      media_type="text/plain; charset=utf-8",
                      headers={"Allow": "GET, HEAD", "Connection": "close"})


class HallServer:
    """The hall screen component."""

    name = "hall"

    def __init__(self, cfg: HallConfig, controller: "QueueControl",
                 center_names: dict[str, str], clock: "Clock", timezone: str, *,
                 listen_retry_s: float = LISTEN_RETRY_S, notices: Any = None) -> None:
        self.cfg = cfg
        self.controller = controller
        self.notices = notices
        self._notice: Any = None        # the newest visitor notice (edge.kiosk.notices)
        self.clock = clock
        self.tz = zoneinfo.ZoneInfo(timezone)
        self.view = HallView(rows=cfg.rows, min_show_s=cfg.min_show_s,
                             languages=cfg.languages, center_names=center_names,
                             show_waiting=cfg.show_waiting, keepalive_s=cfg.keepalive_s)
        self.live = Live(cfg.max_clients)
        self.live.publish(b"{}")
        self.files = Files("edge.hall.static", FILES, shared=["/live.js"])
        self.web = WebServer("hall", self._app(), cfg.bind, cfg.port, report=self._report,
                             limits=Limits(max_connections=cfg.max_clients + EXTRA_CONNECTIONS),
                             retry_s=listen_retry_s)
        self._latest: "QueueSnapshot | None" = None
        self._center_names = dict(center_names)
        self.broadcaster = Worker("kezek-hall-broadcast", self._broadcast_loop)
        self.broadcasts = 0

    # -- the pages ---------------------------------------------------------------------
    def _app(self) -> Any:
        routes = [Route(path, self._file, methods=["GET", "HEAD"]) for path in self.files.bodies]
        routes += [Route("/state.json", self._state, methods=["GET", "HEAD"]),
                   Route("/healthz", self._healthz, methods=["GET", "HEAD"]),
                   Route("/events", self._events, methods=["GET"])]
        app = Starlette(routes=routes)
        return Headers(_ReadOnly(app), csp(self.files.bodies), extra={"Server": "kezek-hall"})

    async def _file(self, request: Request) -> Response:
        return self.files.response(request.url.path, head=request.method == "HEAD")

    async def _state(self, request: Request) -> Response:
        _, body = self.live.current()
        return Response(b"" if request.method == "HEAD" else body,
                        media_type="application/json; charset=utf-8",
                        headers={"Cache-Control": "no-store", "Connection": "close"})

    async def _healthz(self, request: Request) -> Response:
        return Response("ok\n", media_type="text/plain; charset=utf-8",
                        headers={"Connection": "close"})

    async def _events(self, request: Request) -> Response:
        if not self.live.join():
            return Response("too many screens connected; retrying\n", status_code=503,
                            media_type="text/plain; charset=utf-8",
                            headers={"Retry-After": str(max(1, self.cfg.retry_ms // 1000)),
                                     "Connection": "close"})
        return stream_response(self.live, lambda v: v, keepalive_s=self.cfg.keepalive_s,
                               retry_ms=self.cfg.retry_ms, ping=self.ping_message)

    def ping_message(self) -> bytes:
        """A named event (not a comment), so the page can tell a live link from a silently
        dead one; it carries this device's time, so the TV's own clock does not matter
        (a hall TV is rarely set right). The page shows the center's local time from it."""
        now_ms = self.clock.read().wall_ms
        offset = dt.datetime.fromtimestamp(now_ms / 1000, self.tz).utcoffset()
        offset_min = int(offset.total_seconds() // 60) if offset is not None else 0
        return (b'event: ping\ndata: {"now_ms":%d,"utc_offset_min":%d}\n\n'
                % (now_ms, offset_min))

    # -- the controller's listener: only hands over the snapshot ------------------------
    def on_applied(self, applied: "Applied") -> None:
        self._latest = applied.snapshot
        if applied.config is not None:
            # The page follows the running configuration: services and windows come with
            # the snapshot, the center's name with the config committed with it.
            self._center_names = applied.config.center.name.as_dict()
        self.broadcaster.wake()

    def on_notice(self, notice: Any) -> None:
        """Any thread (often the controller's loop): only hand the notice over."""
        if notice.kind in ("refused", "info"):
            self._notice = notice
            self.broadcaster.wake()

    def _report(self, ok: bool, detail: str) -> None:
        self.controller.submit(DeviceStatus("hall", ok, detail[:500], source="hall"))

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self.view.baseline(self.controller.snapshot.recent_calls)
        self._latest = self.controller.snapshot
        self._publish(time.monotonic())
        self.controller.subscribe(self.on_applied)
        if self.notices is not None:
            self.notices.subscribe(self.on_notice)
        self.broadcaster.start()
        if self.controller.snapshot.devices.get("hall", {}).get("ok") is False:
            # Raised before a restart: cleared once the port is served again.
            self.web.problem = "reported by an earlier run"
        self.web.on_serving = lambda: logger.info("hall screen on %s", self.web.url)
        self.web.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.broadcaster.request_stop()
        self.live.close()
        deadline = time.monotonic() + timeout
        self.web.stop(timeout)
        self.broadcaster.stop(deadline - time.monotonic())

    def wait_serving(self, timeout: float = 10.0) -> bool:
        return self.web.wait_serving(timeout)

    def health(self) -> dict[str, Any]:
        web = self.web.health()
        if not self.broadcaster.ok:   # the page would freeze on its last state
            web.update(ok=False, error=web["error"] or self.broadcaster.problem())
        return {**web, "screens": self.live.clients, "broadcasts": self.broadcasts}

    @property
    def address(self) -> tuple[str, int]:
        return self.web.address

    # -- the broadcaster ---------------------------------------------------------------
    def _publish(self, now: float) -> float | None:
        snapshot = self._latest
        if snapshot is None:
            return None
        self.view.center_names = self._center_names
        state, next_change = self.view.state(snapshot, now, self._notice)
        _, current = self.live.current()
        body = json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if body != current:  # most commits (prints, ticks) change nothing on the page
            self.live.publish(body)
            self.broadcasts += 1
        return next_change

    def _broadcast_loop(self) -> None:
        next_change: float | None = None
        while True:
            wait = None if next_change is None else max(0.0, next_change - time.monotonic())
            if self.broadcaster.wait(wait if wait is not None else 5.0):
                return
            try:
                next_change = self._publish(time.monotonic())
                self.broadcaster.recovered()
            except Exception as e:  # a bug here must not freeze the page forever
                self.broadcaster.failed(e, "hall: cannot build the page state")
                next_change = None


class _ReadOnly:
    """Any method but GET and HEAD is refused whatever the path: the page changes nothing."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            await _READ_ONLY(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build(ctx: "AppContext") -> list[HallServer]:
    cfg = ctx.config.hall
    return [HallServer(cfg, ctx.controller, ctx.config.center.name.as_dict(), ctx.clock,
                       ctx.config.center.timezone, notices=ctx.components.get("notices"))]
