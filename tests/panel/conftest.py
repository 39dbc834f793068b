"""Fixtures for the panel tests: the demo center with operators on a real controller and a
real SQLite file, the panel server on a fixed free port (so that a restart takes it
again), an HTTP client with its own cookies, and headless Chromium."""

from __future__ import annotations

import copy
import http.cookiejar
import json
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from edge.clock import ManualClock
from edge.config import AppConfig, parse_config
from edge.panel.server import PanelServer
from edge.web.secrets import hash_secret
from tests.browser import Chromium, start_chromium
from tests.conftest import Harness, demo_config_dict

PINS = {"aigerim": "1111", "bolat": "2222", "dana": "3333", "boss": "9999"}
# The lowest cost the config accepts: the tests sign in often.
HASHES = {op: hash_secret(pin, log2_n=10) for op, pin in PINS.items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def panel_data(port: int, **panel: Any) -> dict[str, Any]:
    data = demo_config_dict()
    data["console"] = {"enabled": False}
    data["panel"] = {"enabled": True, "bind": "127.0.0.1", "port": port, "keepalive_s": 1.0,
                     "retry_ms": 500, "max_failures": 3, **panel}
    data["operators"] = [
        {"id": "aigerim", "name": "Айгерім Сейітова", "secret": HASHES["aigerim"]},
        {"id": "bolat", "name": "Болат Нұрланов", "secret": HASHES["bolat"]},
        {"id": "dana", "name": "Дана", "services": ["benefits"], "secret": HASHES["dana"]},
        {"id": "boss", "name": "Менеджер", "role": "manager", "secret": HASHES["boss"]},
    ]
    return data


class Center:
    """The demo center's controller with the panel served beside it."""

    def __init__(self, tmp_path: Path, clock: ManualClock, data: dict[str, Any]) -> None:
        self.config: AppConfig = parse_config(data, "panel test")
        self.tmp_path = tmp_path
        self.harness = Harness(self.config, tmp_path / "kezek.db", clock)
        self.server = self._serve()

    def _serve(self) -> PanelServer:
        server = PanelServer(self.config.panel, self.harness.controller, self.harness.clock,
                             self.tmp_path, db_path=self.harness.db_path)
        server.start()
        assert server.wait_serving(30), server.health()
        return server

    @property
    def url(self) -> str:
        host, port = self.server.address
        return f"http://{host}:{port}"

    def restart(self) -> None:
        """The service stops and starts again: the queue and the sessions are files."""
        self.server.stop(5.0)
        self.harness.restart()
        self.server = self._serve()

    def events(self, type_: str) -> list[dict[str, Any]]:
        rows = self.harness.store.conn.execute(
            "SELECT data FROM outbox WHERE type = ? ORDER BY seq", (type_,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def close(self) -> None:
        self.server.stop(5.0)
        self.harness.close()


class Client:
    """One PC's browser as plain HTTP: its own cookie jar and the page's CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = ""

    def request(self, path: str, body: Any = None, *, csrf: bool = True
                ) -> tuple[int, dict[str, Any]]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data,
                                     method="GET" if body is None else "POST")
        req.add_header("Content-Type", "application/json")
        if csrf and self.csrf:
            req.add_header("X-CSRF-Token", self.csrf)
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def sign_in(self, operator: str, pin: str | None = None, window: int | None = None
                ) -> dict[str, Any]:
        status, body = self.request("/api/sign-in", {"operator": operator,
                                                     "pin": pin or PINS[operator], "lang": "en"})
        assert status == 200, body
        self.csrf = body["csrf"]
        if window is not None:
            status, body = self.request("/api/window", {"window": window})
            assert status == 200, body
        return body

    def act(self, action: str, **fields: Any) -> tuple[int, dict[str, Any]]:
        return self.request("/api/action", {"action": action, **fields})


@pytest.fixture
def make_center(tmp_path: Path, clock: ManualClock) -> Iterator[Callable[..., Center]]:
    made: list[Center] = []

    def make(edit: Callable[[dict[str, Any]], None] | None = None, **panel: Any) -> Center:
        data = copy.deepcopy(panel_data(free_port(), **panel))
        if edit is not None:
            edit(data)
        center = Center(tmp_path, clock, data)
        made.append(center)
        return center

    yield make
    for center in made:
        center.close()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    browser = start_chromium(tmp_path_factory.mktemp("panel-browser"))
    # An operator's PC: the smallest screen the panel is made for.
    browser.send("Emulation.setDeviceMetricsOverride", width=1366, height=768,
                 deviceScaleFactor=1, mobile=False)
    yield browser
    browser.close()
