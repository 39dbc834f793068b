"""Serves one ASGI app on the LAN with uvicorn in a named thread; a port it cannot take is
reported and tried again, so a web page never stops the queue.

The socket is bound here, not by uvicorn, so that a port in use (another program, an
earlier process still closing) is one clear problem with its fix, reported through
`report(ok, detail)` (the service raises the alarm `device:<name>`), and tried again every
`retry_s` until it works or the service stops.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable

import uvicorn

from edge.backoff import Backoff
from edge.web.guard import HeadGuard
from edge.web.ports import listen_problem
from edge.worker import Worker

logger = logging.getLogger(__name__)

Report = Callable[[bool, str], None]


@dataclass(frozen=True)
class Limits:
    """What one client and all clients together may take of the Pi."""

    max_connections: int = 64        # open connections beyond this get HTTP 503
    head_s: float = 5.0              # a request head must arrive within this
    pending_per_client: int = 6      # heads still arriving from one address
    keep_alive_s: int = 5            # an idle kept-alive connection is closed after this
    max_head_bytes: int = 16 * 1024  # request line + headers


class WebServer:
    """One listening socket, one uvicorn server, one thread (`kezek-<name>-web`)."""

    def __init__(self, name: str, app: Any, bind: str, port: int, *,
                 report: Report | None = None, limits: Limits = Limits(),
                 retry_s: float = 5.0, server_header: str | None = None) -> None:
        self.name = name
        self.app = app
        self.bind = bind
        self.port = port
        self.report = report or (lambda ok, detail: None)
        self.limits = limits
        self.guard = HeadGuard(limits.head_s, limits.pending_per_client)
        self.retry_s = retry_s
        self.backoff = Backoff(retry_s, retry_s)   # a fixed interval: "tries every 5 s"
        self.worker = Worker(f"kezek-{name}-web", self._run)
        self._first: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._address: tuple[str, int] | None = None
        self._ready = threading.Event()
        # Why it is not serving now, for health(); set before start() to a problem an
        # earlier run reported (its alarm is still raised): cleared once serving.
        self.problem: str | None = None
        self.listen_failures = 0
        self.on_serving: Callable[[], None] | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        # The first try is made here: when the port is free its address is known (and
        # connections queue in the kernel) before start() returns, e.g. for the demo's
        # "ready" line; the thread tries again if it was not.
        self._first = self._listen()
        self.worker.start()

    def wait_serving(self, timeout: float) -> bool:
        """For tests and `kezek demo`: True once the socket is bound and uvicorn answers."""
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self.worker.request_stop()
        server = self._server
        if server is not None:
            server.should_exit = True
        self.worker.stop(timeout)
        if self._first is not None:   # bound in start(), never served: stopped at once
            self._first.close()
            self._first = None

    @property
    def address(self) -> tuple[str, int]:
        if self._address is None:
            raise RuntimeError(f"{self.name}: not serving ({self.problem or 'not started'})")
        return self._address

    @property
    def url(self) -> str:
        host, port = self._address or (self.bind, self.port)
        return f"http://{host}:{port}/"

    def health(self) -> dict[str, Any]:
        serving = self._address is not None and not self.worker.stopped and self.worker.ok
        return {"ok": serving, "url": self.url,
                "error": self.problem or self.worker.problem(),
                "listen_failures": self.listen_failures,
                "slow_requests_cut": self.guard.cut, "refused_busy_clients": self.guard.refused}

    # -- the thread --------------------------------------------------------------------
    def _run(self) -> None:
        sock, self._first = self._first, None
        while not self.worker.stopped:
            sock = sock or self._listen()
            if sock is None:
                if self.worker.sleep(self.backoff.next()):
                    return
                continue
            try:
                self._serve(sock)
            except Exception as e:  # a bug in the server must not end the page for good
                logger.exception("%s: the web server failed", self.name)
                self._problem(f"{self.name}: the web server failed: {e}; retrying")
            finally:
                self._ready.clear()
                self._address = None
                sock.close()
                sock = None
            if self.worker.sleep(self.backoff.next()):
                return

    def _listen(self) -> socket.socket | None:
        family = socket.AF_INET6 if ":" in self.bind else socket.AF_INET
        # IPPROTO_TCP said outright: asyncio turns Nagle off (TCP_NODELAY) only on sockets
        # whose proto is IPPROTO_TCP, and an accepted socket inherits this one's (0 when
        # left out). With Nagle on, a kept-alive answer's second write waited for the
        # browser's delayed ACK: every panel click took 40 ms more (bench/panel.py).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.bind, self.port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError as e:
            sock.close()
            self.listen_failures += 1
            self._problem("; ".join(listen_problem(self.bind, self.port, e, self.name)))
            return None
        host, port = sock.getsockname()[:2]
        self._address = (str(host), int(port))
        return sock

    def _problem(self, detail: str) -> None:
        if detail != self.problem:   # said once per kind, not once a retry
            logger.error("%s; the queue runs without the %s page, which tries again every "
                         "%g s (alarm device:%s)", detail, self.name, self.retry_s, self.name)
            self.report(False, detail)
        self.problem = detail

    def _serve(self, sock: socket.socket) -> None:
        config = uvicorn.Config(
            self.app, http=self.guard.protocol(), loop="asyncio", lifespan="off",
            log_config=None, access_log=False, server_header=False, proxy_headers=False,
            limit_concurrency=self.limits.max_connections,
            timeout_keep_alive=self.limits.keep_alive_s,
            h11_max_incomplete_event_size=self.limits.max_head_bytes,
            timeout_graceful_shutdown=2)
        server = _Server(config, self._started)
        self._server = server
        if not self.worker.stopped:
            server.run(sockets=[sock])

    def _started(self) -> None:
        self.backoff.reset()
        if self.problem is not None:
            logger.warning("%s: serving again on %s", self.name, self.url)
            self.problem = None
            self.report(True, "")
        self._ready.set()
        if self.on_serving is not None:
            self.on_serving()


class _Server(uvicorn.Server):
    """uvicorn's server, telling when it has started (it only sets a flag)."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            self._on_started()
