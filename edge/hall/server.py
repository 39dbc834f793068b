"""The hall screen server: a read-only page and a Server-Sent Events stream on the LAN.

Threads: `kezek-hall-http` accepts connections (one `kezek-hall-conn` thread each, capped),
`kezek-hall-broadcast` turns snapshots into page states, `kezek-hall-listen` tries the port
again while it cannot be opened (the queue runs meanwhile; alarm `device:hall`). The
controller's listener only stores the newest snapshot and wakes the broadcaster. Every live connection is sent the
full state on connect and after every change, so a reconnecting TV is always complete.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import re
import socket
import threading
import time
import zoneinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any

from edge.config.hall import HallConfig
from edge.hall.port import listen_problem
from edge.hall.view import HallView
from edge.queue.commands import DeviceStatus

if TYPE_CHECKING:
    from edge.clock import Clock
    from edge.component import AppContext
    from edge.controller import Applied, Controller
    from edge.queue.snapshot import QueueSnapshot

logger = logging.getLogger(__name__)

STATIC = {  # path -> (file, content type); nothing else is ever read from disk
    "/": ("index.html", "text/html; charset=utf-8"),
    "/hall.css": ("hall.css", "text/css; charset=utf-8"),
    "/hall.js": ("hall.js", "text/javascript; charset=utf-8"),
}
SECURITY_HEADERS = {
    # Only our own script and style; no inline code, no frames, no forms, no other hosts.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "connect-src 'self'; img-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# Connections beyond the live screens: page, script and style loads of reconnecting TVs.
# Every answer but the /events stream closes its connection, so a browser's idle keep-alive
# connections never hold these slots (TVs switched on together would find none left).
EXTRA_CONNECTIONS = 8
# A client gets this long, in all, to send its request line and headers (a TV on the LAN
# needs milliseconds). The 20 s timeout below is per read: alone, it let a client that
# sends a byte every few seconds hold a slot for as long as it liked.
REQUEST_HEAD_S = 5.0
# Connections one client address may have open before its request head has arrived: a
# browser opens at most 6 to one host. Without this one misbehaving client (or a slowloris
# script) took every slot and no TV could load its page or reconnect its stream.
PENDING_PER_CLIENT = 6
# While the port cannot be opened, the hall tries again this often (alarm DEVICE meanwhile).
LISTEN_RETRY_S = 5.0
DEVICE = "hall"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def _csp(index_html: bytes) -> str:
    """The policy with the page's one inline script (its load watchdog) allowed by hash."""
    hashes = " ".join("'sha256-%s'" % base64.b64encode(hashlib.sha256(m).digest()).decode()
                      for m in _INLINE_SCRIPT.findall(index_html))
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    return csp.replace("script-src 'self'", f"script-src 'self' {hashes}".rstrip())


class Hub:
    """The current page state, versioned; live connections wait here for the next version."""

    def __init__(self, max_clients: int) -> None:
        self.max_clients = max_clients
        self._cond = threading.Condition()
        self._message = b""
        self._state_json = b"{}"
        self._version = 0
        self._clients = 0
        self._closed = False

    def publish(self, body: bytes) -> int:
        """Make `body` (the state as JSON) the current state and wake every stream."""
        with self._cond:
            self._version += 1
            self._state_json = body
            self._message = b"id: %d\nevent: state\ndata: %s\n\n" % (self._version, body)
            self._cond.notify_all()
            return self._version

    def current(self) -> tuple[int, bytes, bytes]:
        with self._cond:
            return self._version, self._message, self._state_json

    def wait(self, seen: int, timeout: float) -> tuple[int, bytes] | None:
        """Block until a version newer than `seen` or timeout; None once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._version != seen, timeout)
            if self._closed:
                return None
            return self._version, self._message

    def join(self) -> bool:
        with self._cond:
            if self._closed or self._clients >= self.max_clients:
                return False
            self._clients += 1
            return True

    def leave(self) -> None:
        with self._cond:
            self._clients -= 1

    @property
    def clients(self) -> int:
        with self._cond:
            return self._clients

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class _PendingHeads:
    """Connections whose request head has not arrived yet: counted per client address,
    and cut once they have taken longer than REQUEST_HEAD_S."""

    def __init__(self, per_client: int, deadline_s: float) -> None:
        self.per_client = per_client
        self.deadline_s = deadline_s
        self._lock = threading.Lock()
        self._since: dict[Any, tuple[str, float]] = {}
        self._per_client: dict[str, int] = {}
        self.cut = 0
        self.refused = 0

    def admit(self, sock: Any, client: str) -> bool:
        with self._lock:
            if self._per_client.get(client, 0) >= self.per_client:
                self.refused += 1
                return False
            self._per_client[client] = self._per_client.get(client, 0) + 1
            self._since[sock] = (client, time.monotonic())
            return True

    def done(self, sock: Any) -> None:
        """The head arrived, or the connection ended (either may come first; both are fine)."""
        with self._lock:
            entry = self._since.pop(sock, None)
            if entry is not None:
                left = self._per_client[entry[0]] - 1
                if left:
                    self._per_client[entry[0]] = left
                else:
                    del self._per_client[entry[0]]

    def reap(self) -> None:
        """Close the connections past their deadline: their handler's read then ends."""
        limit = time.monotonic() - self.deadline_s
        with self._lock:
            late = [sock for sock, (_, since) in self._since.items() if since < limit]
        for sock in late:
            self.done(sock)
            self.cut += 1
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already gone


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    hall: "HallServer"

    def process_request(self, request: Any, client_address: Any) -> None:
        # ThreadingMixIn starts a thread per connection without limit; a LAN scanner or a
        # stuck TV must not exhaust the Pi, so connections beyond the cap are closed.
        pending = self.hall.pending
        if not pending.admit(request, client_address[0]):
            logger.debug("hall: %s has %d requests still arriving; refused one more",
                         client_address[0], pending.per_client)
            self.shutdown_request(request)
            return
        if not self.hall._conn_slots.acquire(blocking=False):
            pending.done(request)
            logger.warning("hall: too many connections; refused %s", client_address[0])
            self.shutdown_request(request)
            return
        t = threading.Thread(target=self._serve_one, args=(request, client_address),
                             name="kezek-hall-conn", daemon=True)
        t.start()

    def _serve_one(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            self.hall.pending.done(request)
            self.hall._conn_slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("hall: connection from %s failed", client_address[0], exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    timeout = 20  # a client that stops reading or writing is dropped (also on the stream)

    def parse_request(self) -> bool:
        try:
            return super().parse_request()   # reads the headers too
        finally:
            self.server.hall.pending.done(self.connection)

    def version_string(self) -> str:
        return "kezek-hall"  # no Python version in headers: nothing to fingerprint

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib name)
        logger.debug("hall: %s " + format, self.client_address[0], *args)

    def _headers(self, status: int, ctype: str, length: int | None, *,
                 cache: str = "no-store", extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", cache)
        headers = {**SECURITY_HEADERS, "Content-Security-Policy": self.server.hall.csp}
        for k, v in {**headers, **(extra or {})}.items():
            self.send_header(k, v)
        self.end_headers()

    def _send(self, status: int, body: bytes, ctype: str = "text/plain; charset=utf-8", *,
              head: bool = False, cache: str = "no-store",
              extra: dict[str, str] | None = None) -> None:
        # Not kept alive: an idle connection would hold one of the few connection slots.
        self._headers(status, ctype, len(body), cache=cache, extra={"Connection": "close", **(extra or {})})
        if not head:
            self.wfile.write(body)

    def _route(self, head: bool) -> None:
        hall = self.server.hall
        path = self.path.split("?", 1)[0]
        if path in STATIC:
            name, ctype = STATIC[path]
            self._send(200, hall.static[name], ctype, head=head, cache="no-cache")
        elif path == "/state.json":
            _, _, state = hall.hub.current()
            self._send(200, state, "application/json; charset=utf-8", head=head)
        elif path == "/healthz":
            self._send(200, b"ok\n", head=head)
        elif path == "/events" and not head:
            self._stream()
        else:
            self._send(404, b"not found\n", head=head)

    def do_GET(self) -> None:
        self._route(head=False)

    def do_HEAD(self) -> None:
        self._route(head=True)

    def _refuse(self) -> None:
        # Read-only: the page changes nothing in the queue, whatever is sent to it.
        self.close_connection = True
        self._send(405, b"read-only: only GET and HEAD\n", extra={"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    def _stream(self) -> None:
        hall = self.server.hall
        hub = hall.hub
        if not hub.join():
            self.close_connection = True
            self._send(503, b"too many screens connected; retrying\n",
                       extra={"Retry-After": str(max(1, hall.cfg.retry_ms // 1000))})
            return
        self.close_connection = True
        try:
            self._headers(200, "text/event-stream; charset=utf-8", None,
                          extra={"X-Accel-Buffering": "no", "Connection": "close"})
            self.wfile.write(b"retry: %d\n\n" % hall.cfg.retry_ms)
            seen = -1
            while not hall.stopping:
                got = hub.wait(seen, hall.cfg.keepalive_s)
                if got is None:
                    break
                version, message = got
                if version != seen:
                    self.wfile.write(message)
                    if seen == -1:  # a new screen: its clock is set at once
                        self.wfile.write(hall.ping_message())
                    seen = version
                else:
                    # A named event (not a comment) so the page can tell a live link from
                    # a silently dead one and reconnect.
                    self.wfile.write(hall.ping_message())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError, socket.timeout):
            pass  # the TV went away; its browser reconnects
        except OSError as e:
            logger.debug("hall: stream to %s ended: %s", self.client_address[0], e)
        finally:
            hub.leave()


class HallServer:
    """The hall screen component."""

    name = "hall"

    def __init__(self, cfg: HallConfig, controller: "Controller",
                 center_names: dict[str, str], clock: "Clock", timezone: str, *,
                 listen_retry_s: float = LISTEN_RETRY_S) -> None:
        self.cfg = cfg
        self.listen_retry_s = listen_retry_s
        self.controller = controller
        self.clock = clock
        self.tz = zoneinfo.ZoneInfo(timezone)
        self.view = HallView(rows=cfg.rows, min_show_s=cfg.min_show_s,
                             languages=cfg.languages, center_names=center_names,
                             show_waiting=cfg.show_waiting, keepalive_s=cfg.keepalive_s)
        self.hub = Hub(cfg.max_clients)
        pkg = resources.files("edge.hall") / "static"
        self.static = {name: (pkg / name).read_bytes() for name, _ in STATIC.values()}
        self.csp = _csp(self.static["index.html"])
        self._conn_slots = threading.BoundedSemaphore(cfg.max_clients + EXTRA_CONNECTIONS)
        self.pending = _PendingHeads(PENDING_PER_CLIENT, REQUEST_HEAD_S)
        self._httpd: _HTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()   # the listen retry and stop() both touch _httpd
        self.listen_error: str | None = None
        self.listen_failures = 0
        self._wake = threading.Event()
        self._latest: "QueueSnapshot | None" = None
        self.stopping = False
        self.broadcasts = 0

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
        self._wake.set()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self.view.baseline(self.controller.snapshot.recent_calls)
        self._latest = self.controller.snapshot
        self._publish(time.monotonic())
        self.controller.subscribe(self.on_applied)
        self._threads = [
            threading.Thread(target=self._broadcast_loop, name="kezek-hall-broadcast",
                             daemon=True),
            threading.Thread(target=self._reap_loop, name="kezek-hall-reaper", daemon=True),
        ]
        for t in self._threads:
            t.start()
        if self._listen():
            if self.controller.snapshot.devices.get(DEVICE, {}).get("ok") is False:
                self._report(True, "")   # raised before a restart; the port is free now
        else:
            # The screen is optional, tickets are not: a port held by another program (or
            # a bind address not up yet) is an alarm, and the hall tries again.
            t = threading.Thread(target=self._listen_loop, name="kezek-hall-listen", daemon=True)
            self._threads.append(t)
            t.start()

    def _listen(self) -> bool:
        """Open the port and serve; on failure log (once per cause) and raise the alarm."""
        try:
            httpd = _HTTPServer((self.cfg.bind, self.cfg.port), _Handler, bind_and_activate=True)
        except OSError as e:
            self.listen_failures += 1
            problem = "; ".join(listen_problem(self.cfg.bind, self.cfg.port, e))
            if problem != self.listen_error:
                logger.error("%s; the queue runs without the hall screen, which tries again "
                             "every %g s (alarm device:%s)", problem, self.listen_retry_s, DEVICE)
                self.listen_error = problem
                self._report(False, problem)
            return False
        httpd.hall = self
        with self._lock:
            if self._stop.is_set():
                httpd.server_close()
                return True
            self._httpd = httpd
            serve = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.25},
                                     name="kezek-hall-http", daemon=True)
            self._threads.append(serve)
            serve.start()
        if self.listen_error is not None:
            self.listen_error = None
            self._report(True, "")
        logger.info("hall screen on http://%s:%s/", *self.address)
        return True

    def _listen_loop(self) -> None:
        while not self._stop.wait(self.listen_retry_s):
            if self._listen():
                return

    def _report(self, ok: bool, detail: str) -> None:
        fut = self.controller.submit(DeviceStatus(device=DEVICE, ok=ok, detail=detail[:500],
                                                  source="hall"))
        fut.add_done_callback(_log_refusal)

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping = True
        with self._lock:
            self._stop.set()
            httpd = self._httpd
        self._wake.set()
        self.hub.close()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def health(self) -> dict[str, Any]:
        host, port = self.address if self._httpd else (self.cfg.bind, self.cfg.port)
        return {"ok": self._httpd is not None and not self.stopping, "url": f"http://{host}:{port}/",
                "error": self.listen_error, "listen_failures": self.listen_failures,
                "screens": self.hub.clients, "broadcasts": self.broadcasts,
                "slow_requests_cut": self.pending.cut,
                "refused_busy_clients": self.pending.refused}

    @property
    def address(self) -> tuple[str, int]:
        if self._httpd is None:
            raise RuntimeError("hall server not started")
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    def _reap_loop(self) -> None:
        while not self._stop.wait(0.25):
            try:
                self.pending.reap()
            except Exception:  # a bug here must not leave slow clients holding slots
                logger.exception("hall: cannot close slow connections")

    # -- the broadcaster ---------------------------------------------------------------
    def _publish(self, now: float) -> float | None:
        snapshot = self._latest
        if snapshot is None:
            return None
        state, next_change = self.view.state(snapshot, now)
        _, _, current = self.hub.current()
        body = json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if body != current:  # most commits (prints, ticks) change nothing on the page
            self.hub.publish(body)
            self.broadcasts += 1
        return next_change

    def _broadcast_loop(self) -> None:
        next_change: float | None = None
        while not self._stop.is_set():
            wait = None if next_change is None else max(0.0, next_change - time.monotonic())
            self._wake.wait(timeout=wait if wait is not None else 5.0)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                next_change = self._publish(time.monotonic())
            except Exception:  # a bug here must not freeze the page forever
                logger.exception("hall: cannot build the page state")
                next_change = None


def _log_refusal(fut: Any) -> None:
    exc = fut.exception()
    if exc is not None:
        logger.warning("hall: port status not recorded: %s", exc)


def build(ctx: "AppContext") -> list[HallServer]:
    cfg = ctx.config.hall
    return [HallServer(cfg, ctx.controller, ctx.config.center.name.as_dict(), ctx.clock,
                       ctx.config.center.timezone)]
