"""The optional turn-near webhook: a real HTTP endpoint that fails first, on both store
back-ends fed by a simulated edge through the real ledger."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from edge.backoff import Backoff
from edge.central.ticket_page.webhook import TurnNear
from tests.central.ticket_page.simulated import SimEdge, ms_at
from tests.central.ticket_page.test_page import today
from tests.conftest import wait_until


class Gateway:
    """An SMS gateway stand-in: answers 500 to the first `fail` posts, then 200."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.attempts += 1
                if gateway.attempts <= gateway.fail:
                    self.send_response(500)
                else:
                    gateway.received.append(json.loads(body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    g = Gateway(fail=2)
    yield g
    g.close()


def test_a_visitor_is_announced_once_when_their_turn_is_near(store, gateway) -> None:
    """Risk: a visitor outside misses the call; or gets the SMS five times."""
    hook = TurnNear(store, gateway.url, ahead=1, backoff=Backoff(0.05, 0.2))
    hook.start()
    try:
        edge = SimEdge(store)
        day = today()
        a, b, c = (edge.issue(ms_at(day, 9, m)) for m in (0, 1, 2))
        hook.on_stored(edge.site, edge.device, None)
        # a (0 ahead) and b (1 ahead) are near; c (2 ahead) is not yet. The gateway
        # fails twice first: retried after the backoff, nothing lost.
        wait_until(lambda: len(gateway.received) == 2, 30, "a and b announced")
        assert [(r["ticket"], r["ahead"]) for r in gateway.received] == [("A-001", 0),
                                                                          ("A-002", 1)]
        assert gateway.received[0]["token"] == a["token"] and gateway.attempts == 4
        edge.step("ticket.called", a, ms_at(day, 9, 5), window=1)
        hook.on_stored(edge.site, edge.device, None)
        wait_until(lambda: len(gateway.received) == 3, 30, "c announced")
        assert gateway.received[2]["ticket"] == c["ticket"] and gateway.received[2]["ahead"] == 1
        hook.stop()
        assert hook.check(edge.site) == 0          # each once
        assert len(gateway.received) == 3 and b["ticket"] == "A-002"
    finally:
        hook.stop()
