"""Serves one ASGI app on the LAN with uvicorn in a named thread; a port it cannot take is
reported and tried again, so a web page never stops the queue.

The socket is bound here, not by uvicorn, so that a port in use (another program, an
earlier process still closing) is one clear problem with its fix, reported through
`report(ok, detail)` (the service raises the alarm `device:<name>`), and retried with a
growing delay until it works or the service stops.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable

import uvicorn

from edge.web.guard import HeadGuard

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


def listen_problem(key: str, bind: str, port: int, e: OSError, *,
                   port_key: str | None = None, bind_key: str | None = None) -> str:
    """The one line an IT person reads when the port cannot be used, with its fix.
    `key` names the section ({key}.port, {key}.bind) unless the keys are given."""
    port_key = port_key or f"{key}.port"
    bind_key = bind_key or f"{key}.bind"
    if e.errno == errno.EADDRINUSE:
        fix = f"another program holds it (see `ss -ltnp`); choose a free port in {port_key}"
    elif e.errno == errno.EACCES:
        # The unit grants no capabilities: a port this machine keeps for root is refused.
        fix = f"use a port of 1024 or more in {port_key}, e.g. 8080"
    else:
        fix = f"set {bind_key} to an address of this machine, or 0.0.0.0"
    return f"{port_key}: cannot listen on {bind}:{port}: {e.strerror}; {fix}"


class WebServer:
    """One listening socket, one uvicorn server, one thread (`kezek-<name>-web`)."""

    def __init__(self, name: str, app: Any, bind: str, port: int, *,
                 report: Report | None = None, limits: Limits = Limits(),
                 retry_s: tuple[float, float] = (1.0, 30.0)) -> None:
        self.name = name
        self.app = app
        self.bind = bind
        self.port = port
        self.report = report or (lambda ok, detail: None)
        self.limits = limits
        self.guard = HeadGuard(limits.head_s, limits.pending_per_client)
        self._retry = retry_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._address: tuple[str, int] | None = None
        self._ready = threading.Event()
        self.problem: str | None = None   # why it is not serving now, for health()
        self.on_serving: Callable[[], None] | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"kezek-{self.name}-web",
                                        daemon=True)
        self._thread.start()

    def wait_serving(self, timeout: float) -> bool:
        """For tests and `kezek demo`: True once the socket is bound and uvicorn answers."""
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        server = self._server
        if server is not None:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

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
        return {"ok": self._ready.is_set() and not self._stop.is_set(), "url": self.url,
                "problem": self.problem, "slow_requests_cut": self.guard.cut,
                "refused_busy_clients": self.guard.refused}

    # -- the thread --------------------------------------------------------------------
    def _run(self) -> None:
        delay = self._retry[0]
        while not self._stop.is_set():
            sock = self._listen()
            if sock is None:
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, self._retry[1])
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
            if self._stop.wait(delay):
                return

    def _listen(self) -> socket.socket | None:
        family = socket.AF_INET6 if ":" in self.bind else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.bind, self.port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError as e:
            sock.close()
            self._problem(listen_problem(self.name, self.bind, self.port, e))
            return None
        host, port = sock.getsockname()[:2]
        self._address = (str(host), int(port))
        return sock

    def _problem(self, detail: str) -> None:
        if detail != self.problem:   # said once per kind, not once a retry
            logger.error("%s (tried again until it works; the queue goes on)", detail)
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
        if not self._stop.is_set():
            server.run(sockets=[sock])

    def _started(self) -> None:
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
