"""The Situational Center as a component of `kezek central`: the board's refresher thread,
the live value every screen streams from, the sessions and the web server.

`kezek-central-board` re-reads what changed every `refresh_s` (and at once when a batch
was stored by this instance: `Central.listeners`), and publishes the country when it
differs; the web server (`kezek-central-web`) only serves it. Off unless asked for
(`kezek central run --web-port N`, or `kezek central web`).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

from starlette.routing import BaseRoute

from edge.central.reads import now_ms
from edge.central.web.app import CentralApp, central_app
from edge.central.web.board import Board
from edge.central.web.config import CentralWebConfig
from edge.web.live import Live
from edge.web.server import Limits, WebServer
from edge.web.sessions import SessionStore
from edge.worker import Worker

logger = logging.getLogger(__name__)
REST_MIN_S, REST_MAX_S = 0.02, 0.1


class CentralWeb:
    name = "central-web"

    def __init__(self, store: Any, cfg: CentralWebConfig, *, timezone: str = "Asia/Almaty",
                 extra_routes: list[BaseRoute] | None = None, bind: str | None = None,
                 port: int | None = None, sessions_path: Path | None = None,
                 clock_ms: Callable[[], int] = now_ms) -> None:
        self.cfg = cfg
        self.board = Board(store, cfg, timezone=timezone, clock_ms=clock_ms)
        self.live = Live(cfg.web.max_clients)
        self.live.publish(b'{"sites":[]}')
        self.overdue_live = Live(cfg.web.max_clients)
        self.overdue_live.publish(b'{"sites":[],"overdue":[]}')
        self.sessions = SessionStore(sessions_path or Path(cfg.web.sessions),
                                     idle_s=cfg.web.idle_min * 60,
                                     clock_ms=self.board.clock_ms)
        self.app = CentralApp(self.board, self.sessions, self.live, self.overdue_live)
        self.web = WebServer("central", central_app(self.app, extra_routes),
                             bind if bind is not None else cfg.web.bind,
                             port if port is not None else cfg.web.port,
                             limits=Limits(max_connections=cfg.web.max_clients + 16))
        self.worker = Worker("kezek-central-board", self._loop)
        self.refreshes = 0
        self._overdue_at = -float("inf")   # when the overdue stream was last encoded

    def on_stored(self, site: str, device: str, result: Any) -> None:
        """Central's listener (a storing thread): only wake the refresher."""
        self.worker.wake()

    def start(self) -> None:
        self.worker.start()
        self.web.on_serving = lambda: logger.info("the Situational Center on %s", self.web.url)
        self.web.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.worker.request_stop()
        self.live.close()
        self.overdue_live.close()
        self.web.stop(timeout)
        self.worker.stop(timeout)
        self.sessions.close()

    def wait_serving(self, timeout: float = 10.0) -> bool:
        return self.web.wait_serving(timeout)

    @property
    def url(self) -> str:
        return self.web.url

    def publish_now(self) -> None:
        self._publish(self.board.refresh(early=self._publish))
        self.refreshes += 1

    def _publish(self, state: dict[str, Any]) -> None:
        # Two streams: the country's rows (every screen), and the visits over their
        # standard with their stages (only the screen that lists them: the larger one,
        # ~10 ms to encode at national scale, so encoded for no one only every refresh_s).
        country = {k: v for k, v in state.items() if k != "overdue"}
        streams = [(self.live, country)]
        now = time.monotonic()
        loading = bool(state.get("loading"))
        if loading or self.overdue_live.clients or \
                now - self._overdue_at >= self.cfg.web.refresh_s:
            streams.append((self.overdue_live, state))
            if not loading:   # the whole state follows at once: encoded then, whoever listens
                self._overdue_at = now
        for live, value in streams:
            body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
            if body != live.current()[1]:
                live.publish(body)

    def _loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                self.publish_now()
                self.worker.recovered()
            except Exception as e:  # the store away for a while: the screens say stale
                self.worker.failed(e, "central-web: cannot read the store")
            # Woken by every stored batch, it still rests twice as long as a refresh took
            # (at most a third of a core), at least REST_MIN_S and at most REST_MAX_S (a
            # slow refresh, e.g. a backlog arriving, must not hold back the next change).
            took = time.monotonic() - started
            pause = min(self.cfg.web.refresh_s, REST_MAX_S, max(REST_MIN_S, 2 * took))
            if self.worker.sleep(pause) or self.worker.wait(self.cfg.web.refresh_s - pause):
                return

    def health(self) -> dict[str, Any]:
        return {**self.web.health(), "screens": self.live.clients,
                "refreshes": self.refreshes, "board_ok": self.worker.ok}
