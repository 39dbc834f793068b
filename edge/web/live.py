"""Live state for server-sent events: any thread publishes, every open stream wakes.

The controller's listener (on the loop thread) must only hand over: `publish()` stores the
newest value and wakes the streams waiting on the web server's event loop. A stream renders
the value for its own client (the hall its page, a panel its window) and sends it only when
that changed, so most commits (prints, ticks) send nothing. Every stream starts with the
full state, so a screen that reconnects is complete at once.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, AsyncIterator, Callable


class Live:
    """The newest value of one live source, versioned."""

    def __init__(self, max_clients: int = 64) -> None:
        self.max_clients = max_clients
        self._lock = threading.Lock()
        self._version = 0
        self._value: Any = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._clients = 0
        self._closed = False

    def publish(self, value: Any) -> int:
        """Make `value` current and wake every stream (from any thread)."""
        with self._lock:
            self._version += 1
            self._value = value
            waiters, self._waiters = self._waiters, []
            version = self._version
        for loop, fut in waiters:
            loop.call_soon_threadsafe(_settle, fut)
        return version

    def current(self) -> tuple[int, Any]:
        with self._lock:
            return self._version, self._value

    async def changed(self, seen: int, timeout: float) -> tuple[int, Any] | None:
        """The value once its version differs from `seen` (or the same after `timeout`);
        None once closed."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._closed:
                return None
            if self._version != seen:
                return self._version, self._value
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, fut))
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            pass
        with self._lock:
            if self._closed:
                return None
            return self._version, self._value

    def join(self) -> bool:
        with self._lock:
            if self._closed or self._clients >= self.max_clients:
                return False
            self._clients += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._clients -= 1

    @property
    def clients(self) -> int:
        with self._lock:
            return self._clients

    def close(self) -> None:
        """End every stream (the server stops)."""
        with self._lock:
            self._closed = True
            waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            try:
                loop.call_soon_threadsafe(_settle, fut)
            except RuntimeError:
                pass  # that loop has ended already


def _settle(fut: "asyncio.Future[None]") -> None:
    if not fut.done():
        fut.set_result(None)


def sse(event: str, data: Any, event_id: int | None = None) -> bytes:
    """One server-sent event; `data` is JSON-encoded unless it is bytes already."""
    body = data if isinstance(data, bytes) else json.dumps(
        data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    head = b"id: %d\n" % event_id if event_id is not None else b""
    return head + b"event: " + event.encode() + b"\ndata: " + body + b"\n\n"


async def stream(live: Live, render: Callable[[Any], bytes | None], *, keepalive_s: float,
                 retry_ms: int, ping: Callable[[], bytes]) -> AsyncIterator[bytes]:
    """The body of one SSE response: the full state at once, then every change, and a
    named `ping` event when quiet (so the page can tell a live link from a dead one).

    The caller has joined `live` and leaves it when this ends."""
    yield b"retry: %d\n\n" % retry_ms
    seen = -1
    sent: bytes | None = None
    first = True
    while True:
        got = await live.changed(seen, keepalive_s)
        if got is None:
            return
        version, value = got
        if version != seen:
            seen = version
            body = render(value)
            if body is not None and body != sent:
                sent = body
                yield sse("state", body, version)
                if first:       # a new screen gets the time at once
                    first = False
                    yield ping()
                continue
        yield ping()


SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "Connection": "close"}


def stream_response(live: Live, render: Callable[[Any], bytes | None], *, keepalive_s: float,
                    retry_ms: int, ping: Callable[[], bytes]) -> Any:
    """The SSE response of a client that has joined `live` (stream() as its body); it
    leaves `live` when the client goes. No proxy buffering, no caching."""
    from starlette.responses import StreamingResponse

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in stream(live, render, keepalive_s=keepalive_s,
                                      retry_ms=retry_ms, ping=ping):
                yield chunk
        finally:
            live.leave()

    return StreamingResponse(body(), media_type="text/event-stream; charset=utf-8",
                             headers=SSE_HEADERS)
