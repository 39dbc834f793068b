"""Fixtures for the manager's page: its routes on a small Starlette app, on the real
controller and its real database file, with a test sign-in (a cookie naming the person)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from edge.manager.day import DayReader
from edge.manager.routes import ManagerPage
from edge.web.pages import Headers, csp
from edge.web.server import WebServer
from tests.browser import Chromium, start_chromium

CSRF = "test-csrf-token"
PEOPLE = {"boss": "manager", "olga": "operator"}


@dataclass(frozen=True)
class Person:
    id: str
    role: str


def who(request: Request) -> Person | None:
    """The test's sign-in: the cookie `who` names someone of PEOPLE (the panel's sessions
    do this for real)."""
    name = request.cookies.get("who", "")
    return Person(name, PEOPLE[name]) if name in PEOPLE else None


def csrf_ok(request: Request) -> bool:
    return request.headers.get("x-csrf-token") == CSRF


class ManagerSite:
    def __init__(self, harness: Any) -> None:
        self.harness = harness
        self.reader = DayReader(harness.db_path)
        self.page = ManagerPage(self.reader, harness.controller, lambda: harness.controller.config,
                                who, csrf_ok, lambda r: CSRF,
                                now_ms=lambda: harness.clock.read().wall_ms, keepalive_s=1.0,
                                retry_ms=300)
        app = Headers(Starlette(routes=self.page.routes()), csp(self.page.files.bodies))
        self.web = WebServer("manager", app, "127.0.0.1", 0)
        self.web.start()
        assert self.web.wait_serving(30), self.web.health()
        host, port = self.web.address
        self.url = f"http://{host}:{port}"

    def close(self) -> None:
        self.page.close()
        self.web.stop(2.0)
        self.reader.close()


@pytest.fixture
def site(harness: Any) -> Iterator[ManagerSite]:
    s = ManagerSite(harness)
    yield s
    s.close()


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Chromium]:
    browser = start_chromium(tmp_path)
    yield browser
    browser.close()
