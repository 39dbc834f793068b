"""The web stack's connections send each answer at once (Nagle off on accepted sockets)."""

from __future__ import annotations

import http.client
import os
import socket

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from edge.web.server import WebServer


async def _hello(request: object) -> JSONResponse:
    return JSONResponse({"ok": True})


def _server_side(client: socket.socket) -> socket.socket:
    """The server's end of `client`'s connection (uvicorn runs in this process): a dup."""
    want = client.getsockname()
    for fd in os.listdir("/proc/self/fd"):
        try:
            s = socket.fromfd(int(fd), socket.AF_INET, socket.SOCK_STREAM)
        except OSError:
            continue
        try:
            if s.getpeername() == want:
                return s
        except OSError:
            pass
        s.close()
    raise AssertionError("the server's end of the connection was not found")


def test_kept_alive_connections_have_nagle_off() -> None:
    """Risk: with Nagle on, the second write of a kept-alive answer waits for the browser's
    delayed ACK, and every panel click took 40 ms more (asyncio sets TCP_NODELAY only on
    sockets made with proto IPPROTO_TCP; found by bench/panel.py)."""
    app = Starlette(routes=[Route("/", _hello)])
    server = WebServer("nagle-test", app, "127.0.0.1", 0)
    server.start()
    try:
        assert server.wait_serving(30)
        host, port = server.address
        conn = http.client.HTTPConnection(host, port, timeout=10)
        for _ in range(2):   # kept alive: the same connection answers twice
            conn.request("GET", "/")
            assert conn.getresponse().read() == b'{"ok":true}'
        assert conn.sock is not None
        theirs = _server_side(conn.sock)
        try:
            assert theirs.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            theirs.close()
        conn.close()
    finally:
        server.stop(5.0)
