"""The visitor's page end to end: a real edge (controller and sync link) on a real
Mosquitto, the reference central storing into a real store, the page's routes served by
uvicorn, and a real headless Chromium at phone size."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest
from starlette.applications import Starlette

from edge.central.server import Central
from edge.central.store import open_store
from edge.central.ticket_page.reads import ticket_state
from edge.central.ticket_page.routes import PageLimits, SiteChanges, ticket_page_routes
from edge.clock import SystemClock
from edge.queue.commands import CallNext, Finish, IssueTicket, OpenWindow
from edge.queue.tokens import new_token
from edge.sync.mqtt import BrokerSettings
from edge.web.pages import Headers, csp
from edge.web.server import WebServer
from tests.browser import Chromium, start_chromium
from tests.central.ticket_page.simulated import SimEdge, ms_at
from tests.conftest import wait_until
from tests.sync.conftest import EdgeRig, make_config

DOCS_IMG = Path(__file__).resolve().parents[3] / "docs" / "img" / "ticket-page.png"
NAMES = {"docs": {"kk": "Жеке куәлік және төлқұжат", "ru": "Удостоверение личности и паспорт",
                  "en": "ID cards and passports"}}


def serve(store: Any, **options: Any) -> WebServer:
    app = Headers(Starlette(routes=ticket_page_routes(store, SystemClock(), **options)),
                  csp({}, forms=True))
    web = WebServer("ticket-page", app, "127.0.0.1", 0)
    web.start()
    assert web.wait_serving(30), web.health()
    return web


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Almaty")).date()


class Stack:
    """Broker, central, one edge, and the page served from central's store."""

    def __init__(self, broker: Any, target: str, tmp_path: Path, edges: list[Any]) -> None:
        self.central = Central(BrokerSettings("127.0.0.1", broker.port, keepalive_s=5), target)
        self.central.start()
        assert self.central.wait_connected(10), "central did not connect"
        self.store = open_store(target)
        # Stored batches wake the live pages at once (the lead's wiring at merge).
        self.changes = SiteChanges()
        self.central.listeners.append(lambda site, device, result: self.changes.publish(site))
        self.web = serve(self.store, changes=self.changes,
                         names=lambda site, service: NAMES.get(service),
                         limits=PageLimits(fallback_s=60.0))
        self.edge = EdgeRig(make_config(broker.port), tmp_path / "edge")
        edges.append(self.edge)

    @property
    def base(self) -> str:
        host, port = self.web.address
        return f"http://{host}:{port}"

    def issue(self) -> str:
        token = self.edge.app.controller.call(IssueTicket("docs")).reply.ticket.token
        wait_until(lambda: ticket_state(self.store, token, today()), 30, "central has it")
        return str(token)

    def close(self) -> None:
        self.web.stop(2.0)
        self.changes.close()
        self.central.stop()
        self.store.close()


@pytest.fixture
def stack(broker, store_target, tmp_path, edges) -> Iterator[Stack]:
    s = Stack(broker, store_target, tmp_path, edges)
    yield s
    s.close()


@pytest.fixture
def phone(tmp_path: Path) -> Iterator[Chromium]:
    browser = start_chromium(tmp_path / "phone")
    browser.send("Emulation.setDeviceMetricsOverride", width=390, height=844,
                 deviceScaleFactor=1, mobile=True)
    # A phone set to Kazakh (the page follows the phone's language; Kazakh by default).
    ua = browser.eval("navigator.userAgent")
    browser.send("Emulation.setUserAgentOverride", userAgent=ua, acceptLanguage="kk-KZ,kk")
    yield browser
    browser.close()


def text(phone: Chromium, selector: str) -> str:
    return str(phone.eval(f"document.querySelector({json.dumps(selector)}).textContent"))


def test_a_visitors_page_follows_its_ticket_from_issue_to_call_and_rating(stack, phone):
    """Risk: the visitor stares at a stale page and misses the call."""
    stack.issue()                                   # someone ahead
    token = stack.issue()
    phone.goto(f"{stack.base}/t/{token}")
    phone.wait_for("document.body.dataset.state === 'waiting'")
    assert text(phone, "#number") == "A-002"
    assert text(phone, "#service") == NAMES["docs"]["kk"]      # Kazakh first
    assert text(phone, "#headline") == "Алдыңызда: 1\u00a0адам"
    phone.wait_for("document.body.classList.contains('online')")
    png = phone.screenshot()
    assert png[16:24] == (390).to_bytes(4, "big") + (844).to_bytes(4, "big")   # a phone
    if os.environ.get("KEZEK_UPDATE_DOCS") == "1":
        DOCS_IMG.write_bytes(png)
    phone.eval("window.sameLoad = true")            # gone if the page reloads
    ctl = stack.edge.app.controller
    ctl.call(OpenWindow(1))
    ctl.call(CallNext(1))                           # the visitor ahead is called
    phone.wait_for("document.querySelector('#headline').textContent === 'Сіз келесісіз!'")
    phone.eval("document.querySelector('button[data-lang=ru]').click()")
    assert text(phone, "#headline") == "Вы следующий!"
    ctl.call(OpenWindow(2))
    ctl.call(CallNext(2))
    phone.wait_for("document.body.dataset.state === 'called'")
    assert text(phone, "#headline") == "Вас вызывают!"
    assert text(phone, "#detail") == "Подойдите к окну 2"
    assert phone.eval("window.sameLoad") is True    # live: no reload
    ctl.call(Finish(2))
    phone.wait_for("document.body.dataset.state === 'done'")
    assert phone.eval("!document.querySelector('#rate').hidden")
    phone.eval("document.querySelector('#rate button[value=\"4\"]').click()")
    phone.wait_for("location.search === '?rated=ok' && !document.querySelector('#rated').hidden")
    assert text(phone, "#rated") == "Спасибо за оценку!"       # the choice was kept
    assert phone.eval("document.querySelector('#rate').hidden")
    assert ticket_state(stack.store, token, today())["rated"] == 4
    # The page holds this ticket and nothing else: no other number, no IIN field.
    body = str(phone.eval("document.body.innerText"))
    assert "A-001" not in body and "ИИН" not in body and "ЖСН" not in body


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_forged_or_an_old_token_shows_nothing_and_looks_the_same(stack, phone):
    real = stack.issue()
    old = SimEdge(stack.store, site="old-site").issue(ms_at(today() - timedelta(days=1), 10))
    answers = {}
    for name, token in (("forged", new_token()), ("old", old["token"]), ("junk", "x" * 5)):
        phone.goto(f"{stack.base}/t/{token}")
        phone.wait_for("document.body.dataset.state === 'unknown'")
        assert "Талон табылмады" in str(phone.eval("document.body.innerText"))
        assert phone.eval("document.querySelector('#ticket').hidden")
        answers[name] = (get(f"{stack.base}/t/{token}"), get(f"{stack.base}/t/{token}/state.json"),
                         get(f"{stack.base}/t/{token}/events")[0])
    assert answers["forged"] == answers["old"] == answers["junk"]
    (page_status, page), (state_status, state), events_status = answers["forged"]
    assert (page_status, state_status, events_status) == (200, 404, 404)
    assert json.loads(state) == {"known": False}
    # The page is the same bytes for a real token: it tells nothing by itself.
    assert get(f"{stack.base}/t/{real}") == (200, page)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_client_asking_too_often_is_answered_429(store):
    web = serve(store, limits=PageLimits(rate=0.01, burst=3, rate_post=0.01, burst_post=1))
    try:
        host, port = web.address
        url = f"http://{host}:{port}/t/{new_token()}/state.json"
        assert [get(url)[0] for _ in range(4)] == [404, 404, 404, 429]
        status, body = get(f"http://{host}:{port}/t/{new_token()}")
        assert status == 429 and "Слишком много запросов" in body.decode()
    finally:
        web.stop(2.0)
