"""What the panel bench uses to talk to the service as a browser would: one kept-alive
HTTP connection with its cookies and the page's CSRF token, and an SSE stream reader that
timestamps each event the moment its last line arrives."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from typing import Any, Callable


class PanelClient:
    """One operator's PC: the panel's fetch() calls (edge/panel/static/panel.js)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=30)
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        """GET without a body, POST with one; as the page does: same origin, its cookie,
        the CSRF token in X-CSRF-Token, JSON in and out."""
        headers = {"Content-Type": "application/json", "Origin": self.origin}
        if self.cookies:
            headers["Cookie"] = self.cookie_header()
        if self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        data = None if body is None else json.dumps(body).encode()
        self.conn.request("GET" if body is None else "POST", path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
        return resp.status, json.loads(raw or b"{}")

    def sign_in(self, operator: str, pin: str, window: int) -> None:
        status, body = self.request("/api/sign-in", {"operator": operator, "pin": pin,
                                                     "lang": "en"})
        if status != 200:
            raise RuntimeError(f"panel sign-in refused ({status}): {body}")
        self.csrf = body["csrf"]
        status, body = self.request("/api/window", {"window": window})
        if status != 200:
            raise RuntimeError(f"panel refused window {window} ({status}): {body}")

    def close(self) -> None:
        self.conn.close()


class EventStream:
    """An EventSource: `event: state` messages parsed as JSON, each with its arrival time
    (time.perf_counter_ns), kept for `wait_for` on the caller's thread."""

    def __init__(self, host: str, port: int, path: str = "/events", cookie: str = "") -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        headers = {"Accept": "text/event-stream"}
        if cookie:
            headers["Cookie"] = cookie
        self.conn.request("GET", path, headers=headers)
        self.resp = self.conn.getresponse()
        if self.resp.status != 200:
            raise RuntimeError(f"{path}: HTTP {self.resp.status} {self.resp.read()[:200]!r}")
        self.events: list[tuple[int, Any]] = []
        self.changed = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._read, name=f"bench-sse{path}", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        kind, data = "message", []
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                text = line.decode("utf-8").rstrip("\r\n")
                if text:
                    field, _, value = text.partition(":")
                    if field == "event":
                        kind = value.strip()
                    elif field == "data":
                        data.append(value[1:] if value.startswith(" ") else value)
                    continue
                at = time.perf_counter_ns()   # the blank line ends the message
                if kind == "state" and data:
                    with self.changed:
                        self.events.append((at, json.loads("\n".join(data))))
                        self.changed.notify_all()
                kind, data = "message", []
        except Exception:   # closed under us at the end of the run (http.client then
            pass            # raises whatever the half-closed response gives)
        finally:
            with self.changed:
                self.closed = True
                self.changed.notify_all()

    def mark(self) -> int:
        """How many events have arrived so far (wait_for looks only after this)."""
        with self.changed:
            return len(self.events)

    def wait_for(self, since: int, test: Callable[[Any], bool], timeout: float = 10.0) -> int:
        """The arrival time of the first event after `since` for which `test` holds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            i = since
            while True:
                while i < len(self.events):
                    at, value = self.events[i]
                    i += 1
                    if test(value):
                        return at
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    raise TimeoutError(f"no matching live event within {timeout:g} s "
                                       f"({len(self.events) - since} others arrived)")
                self.changed.wait(left)

    def close(self) -> None:
        try:
            if self.conn.sock is not None:
                self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()
        self.thread.join(5)
