"""Pages from package files, and the headers every answer carries.

Only the files listed by an app are ever read, once, at start (no path from a request
reaches the disk). Every answer gets the same strict headers: our own scripts and styles
only, no frames, nothing from other hosts — the LAN pages work with no internet.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources
from typing import Any, Awaitable, Callable, Iterable, Mapping

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".js": "text/javascript; charset=utf-8", ".json": "application/json",
                 ".png": "image/png", ".svg": "image/svg+xml", ".ico": "image/x-icon"}
BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def csp(pages: Mapping[str, bytes], *, forms: bool = False) -> str:
    """The policy: our own files, plus the pages' inline scripts allowed by hash."""
    hashes = sorted({"'sha256-%s'" % base64.b64encode(hashlib.sha256(m).digest()).decode()
                     for body in pages.values() for m in _INLINE_SCRIPT.findall(body)})
    script = " ".join(["'self'", *hashes])
    form_action = "'self'" if forms else "'none'"
    return (f"default-src 'none'; script-src {script}; style-src 'self'; "
            f"connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
            f"form-action {form_action}; frame-ancestors 'none'")


# Scripts in edge/web/static that more than one page loads, by path.
SHARED = {"/live.js": "live.js"}


class Files:
    """Named files of a package folder (and the shared scripts asked for), read once;
    served by path."""

    def __init__(self, package: str, names: Mapping[str, str], *,
                 shared: Iterable[str] = ()) -> None:
        self.bodies: dict[str, bytes] = {}
        self.types: dict[str, str] = {}
        for path, name in names.items():
            self._read(package, path, name)
        for path in shared:
            self._read("edge.web.static", path, SHARED[path])

    def _read(self, package: str, path: str, name: str) -> None:
        self.bodies[path] = (resources.files(package) / name).read_bytes()
        self.types[path] = CONTENT_TYPES[name[name.rfind("."):]]

    def response(self, path: str, *, head: bool = False) -> Response:
        body = self.bodies[path]
        # Connection: close: an idle kept-alive connection of a TV would hold a slot.
        return Response(b"" if head else body, media_type=self.types[path],
                        headers={"Cache-Control": "no-cache", "Connection": "close",
                                 "Content-Length": str(len(body))})


class Headers:
    """ASGI middleware: the strict headers on every answer, and a cap on request bodies."""

    def __init__(self, app: ASGIApp, policy: str, *, max_body: int = 16 * 1024,
                 extra: Mapping[str, str] | None = None) -> None:
        self.app = app
        self.max_body = max_body
        self.headers = [(k.lower().encode(), v.encode()) for k, v in
                        {**BASE_HEADERS, "Content-Security-Policy": policy,
                         **(extra or {})}.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _refuse_body(self.max_body, scope, receive, self._send(send))
            return
        received = 0

        async def capped() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge()
            return message

        try:
            await self.app(scope, capped, self._send(send))
        except BodyTooLarge:
            await _refuse_body(self.max_body, scope, receive, self._send(send))

    def _send(self, send: Send) -> Callable[[Message], Awaitable[None]]:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *(h for h in self.headers if h[0] not in have)]}
            await send(message)
        return with_headers


class BodyTooLarge(Exception):
    pass


async def _refuse_body(limit: int, scope: Scope, receive: Receive,
                       send: Callable[[Message], Awaitable[Any]]) -> None:
    response = Response(f"request body over {limit} bytes\n", status_code=413,
                        media_type="text/plain; charset=utf-8",
                        headers={"Connection": "close"})
    await response(scope, receive, send)
