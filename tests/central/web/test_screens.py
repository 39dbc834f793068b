"""The Situational Center's screens in a real headless Chromium, against a real Mosquitto
and store (both back-ends) with simulated edges speaking the real protocol: the country
view follows an edge's queue and its death (will), sorts and filters; a visit over its
standard shows its stages and the one that overran; one center shows its windows,
operators (unknown when events name none), waits and alarms."""

from __future__ import annotations

import json
import queue
import random
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

import pytest

from edge.central.fleet_edge import SimEdge
from edge.central.server import Central
from edge.central.store import EventStore
from edge.sync.mqtt import BrokerSettings
from edge.sync.protocol import EventBatch
from tests.central.web.helpers import browser_signed_in, start_web
from tests.conftest import wait_until

SITES = {"ast-01": {"name": "Астана ЦОН №1", "region": "Астана"},
         "alm-02": {"name": "Алматы ЦОН №2", "region": "Алматы"}}
STANDARDS = {"auto": {"visit_sla_min": 120, "max_service_min": 30},
             "exam": {"max_wait_min": 30, "max_service_min": 90}}
ALMATY = ZoneInfo("Asia/Almaty")


class DrivenEdge:
    """A SimEdge driven by its own thread (paho's external loop); the test hands it work."""

    def __init__(self, edge: SimEdge) -> None:
        self.edge = edge
        self.todo: queue.Queue[Callable[[SimEdge], None]] = queue.Queue()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="test-sim-edge", daemon=True)
        self.thread.start()

    def do(self, job: Callable[[SimEdge], None]) -> None:
        self.todo.put(job)

    def _run(self) -> None:
        while not self.stop.is_set():
            while not self.todo.empty():
                self.todo.get()(self.edge)
            self.edge.pump(time.monotonic())
            if self.edge.client.socket() is not None:
                self.edge.client.loop(timeout=0.05)
            else:
                time.sleep(0.05)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.edge.client.disconnect()


@pytest.fixture
def central(broker: Any, store_target: str) -> Iterator[Central]:
    c = Central(BrokerSettings("127.0.0.1", broker.port, keepalive_s=5), store_target)
    c.start()
    assert c.wait_connected(10)
    yield c
    c.stop()


def issued(ticket_id: int, service: str = "docs") -> Callable[[SimEdge], None]:
    return lambda e: e.record("ticket.issued", {
        "ticket_id": ticket_id, "ticket": f"A-{ticket_id:03d}", "service": service,
        "visit": f"v-{ticket_id}", "category": "normal"})


def called(ticket_id: int, window: int) -> Callable[[SimEdge], None]:
    return lambda e: e.record("ticket.called", {
        "ticket_id": ticket_id, "ticket": f"A-{ticket_id:03d}", "service": "docs",
        "window": window, "calls": 1, "wait_s": 120})


def pick_region(b: Any, region: str) -> None:
    b.eval(f"(() => {{ const s = document.getElementById('f-region'); s.value = '{region}';"
           "s.dispatchEvent(new Event('change')); })()")


def row(b: Any, site: str, cell: str) -> str:
    return str(b.eval(f"(document.querySelector('#country tr[data-site={site}] {cell}') || "
                      "{textContent: ''}).textContent"))


def test_the_country_follows_an_edges_queue_and_its_death(central: Central, broker: Any,
                                                          tmp_path: Path) -> None:
    """Risk: the wall screen shows a queue that is gone, or a dead center as fine."""
    assert central.store is not None
    web = start_web(central.store, tmp_path, {"sites": SITES})
    central.listeners.append(web.on_stored)
    driven = DrivenEdge(SimEdge("ast-01", "edge-1", "127.0.0.1", broker.port,
                                rng=random.Random(1), rate_eps=0, keepalive_s=2))
    b = None
    try:
        driven.do(issued(1))
        b = browser_signed_in(web, tmp_path)
        b.wait_for("document.querySelector('#country tr[data-site=\"ast-01\"]') !== null")
        wait_until(lambda: row(b, "ast-01", "td.waiting") == "1", 30, "one waiting")
        assert "silent" not in str(b.eval(
            "document.querySelector('#country tr[data-site=ast-01]').className"))
        # A center listed in the config but never heard of stands out as silent.
        assert "silent" in str(b.eval(
            "document.querySelector('#country tr[data-site=alm-02]').className"))
        driven.do(issued(2))
        wait_until(lambda: row(b, "ast-01", "td.waiting") == "2", 30, "two waiting")
        driven.do(called(1, 3))
        wait_until(lambda: row(b, "ast-01", "td.waiting") == "1", 30, "one called")
        # Filter by region, then back; sort by a column by clicking its heading.
        pick_region(b, "Алматы")
        b.wait_for("document.querySelectorAll('#country tbody tr').length === 1 && "
                   "document.querySelector('#country tbody tr').dataset.site === 'alm-02'")
        pick_region(b, "")
        b.eval("document.querySelector('#country th[data-sort=waiting]').click()")
        b.wait_for("document.querySelector('#country tbody tr').dataset.site === 'ast-01'")
        # The edge dies (no DISCONNECT: the broker publishes its will).
        driven.do(lambda e: e.cut(600))
        b.wait_for("document.querySelector('#country tr[data-site=ast-01]').className"
                   ".includes('silent')", 30)
        assert "silent" in row(b, "ast-01", "td.status") or \
            row(b, "ast-01", "td.status").startswith("⚠")
    finally:
        if b is not None:
            b.close()
        driven.close()
        web.stop()


def _at(day: str, hhmm: str) -> int:
    return int(datetime.fromisoformat(f"{day}T{hhmm}:00").replace(tzinfo=ALMATY)
               .timestamp() * 1000)


def _batch(site: str, events: list[tuple[str, str, dict[str, Any]]], day: str) -> EventBatch:
    return EventBatch.model_validate({
        "v": 1, "site": site, "device": "edge-1", "session": 1, "floor": 0,
        "events": [{"v": 1, "id": f"{site}-{i}", "site": site, "device": "edge-1", "seq": i,
                    "boot": "b", "type": t, "ts": _at(day, hhmm), "mono_ms": 0,
                    "clock_synced": True, "hist": False, "data": data}
                   for i, (hhmm, t, data) in enumerate(events, 1)]})


def test_an_overdue_specialized_visit_shows_its_stages(store: EventStore,
                                                      tmp_path: Path) -> None:
    """Risk: staff see that a driving-licence visit overran but not where the time went."""
    day = "2026-12-02"
    c = {"ticket_id": 7, "ticket": "C-007", "visit": "v-7"}
    store.store_batch(_batch("ast-01", [
        ("09:00", "ticket.issued", {**c, "service": "auto"}),
        ("09:20", "ticket.called", {**c, "service": "auto", "window": 3, "calls": 1,
                                    "wait_s": 1200, "operator": "op-7"}),
        ("09:21", "ticket.serving", {**c, "service": "auto", "window": 3, "operator": "op-7"}),
        ("09:40", "ticket.transferred", {**c, "service": "auto", "to_service": "exam",
                                         "window": 3}),
        ("10:50", "ticket.called", {**c, "service": "exam", "window": 5, "calls": 1,
                                    "wait_s": 4200}),
        ("10:52", "ticket.serving", {**c, "service": "exam", "window": 5}),
        ("08:10", "ticket.issued", {"ticket_id": 8, "ticket": "A-008", "visit": "v-8",
                                    "service": "docs"}),
        ("08:30", "ticket.called", {"ticket_id": 8, "ticket": "A-008", "service": "docs",
                                    "window": 1, "calls": 1, "wait_s": 1200}),
        ("08:45", "ticket.done", {"ticket_id": 8, "ticket": "A-008", "service": "docs",
                                  "window": 1, "service_s": 900}),
        ("09:05", "alarm.raised", {"alarm": "printer.kiosk", "severity": "warning",
                                   "message": "out of paper"}),
        ("09:15", "alarm.cleared", {"alarm": "printer.kiosk"}),
    ], day), )
    store.put_state("ast-01", "edge-1", True, 1)
    store.put_health("ast-01", "edge-1", {"v": 1, "summary": {"waiting": 0, "serving": 1,
                                                              "alarms": ["storage.low"]},
                                          "queue": {"windows": [
                                              {"number": 5, "label": "5", "state": "open",
                                               "ticket": "C-007", "service": "exam"}],
                                              "services": [{"id": "exam", "waiting": 0,
                                                            "names": {"en": "Exam"}}]}})
    noon = _at(day, "12:00")
    web = start_web(store, tmp_path, {"sites": SITES, "standards": STANDARDS},
                    clock_ms=lambda: noon)
    b = None
    try:
        b = browser_signed_in(web, tmp_path)
        b.wait_for("(document.querySelector('#country tr[data-site=ast-01] td.over') || {})"
                   ".textContent === '1'")
        b.eval("document.querySelector('nav a[href=\"/overdue\"]').click()")
        b.wait_for("document.querySelector('#overdue article[data-ticket=\"C-007\"]') !== null")
        stages = b.eval("[...document.querySelectorAll('article[data-ticket=\"C-007\"] li')]"
                        ".map(li => [li.className, li.textContent])")
        texts = [t for _, t in stages]
        assert [t.split(" ·")[0] for t in texts] == ["waiting", "called", "serving", "waiting",
                                                      "called", "serving"], texts
        over = [t for cls, t in stages if cls == "over"]
        assert len(over) == 1 and over[0].startswith("waiting") and "exam" in over[0] \
            and "1:10" in over[0], stages          # 70 min waiting for the exam, over 30
        assert "op-7" in texts[1]
        card = str(b.eval("document.querySelector('article[data-ticket=\"C-007\"]')"
                          ".textContent"))
        assert "3:00" in card and "120" in card      # 3 hours so far, standard 120 min
        b.eval("document.querySelector('article[data-ticket=\"C-007\"] h3 a').click()")
        b.wait_for("location.pathname === '/center/ast-01' && "
                   "document.getElementById('per-operator') !== null")
        ops = str(b.eval("document.getElementById('per-operator').textContent"))
        assert "op-7" in ops and "unknown" in ops
        windows = str(b.eval("document.getElementById('windows').textContent"))
        assert "C-007" in windows and "open" in windows
        history = str(b.eval("document.getElementById('alarm-history').textContent"))
        assert "printer.kiosk" in history and "out of paper" in history
        assert "storage.low" in str(b.eval("document.getElementById('alarms-open').textContent"))
        assert b.eval("document.querySelectorAll('#chart circle').length") == 3   # 8, 9, 10 o'clock
        assert "IIN" not in str(b.eval("document.body.textContent")).upper()
    finally:
        if b is not None:
            b.close()
        web.stop()


def test_the_country_says_while_the_day_is_still_loading(store: EventStore,
                                                          tmp_path: Path) -> None:
    """Risk: during a long first read the screens show centers without waits as if that
    were the day's truth, and nothing says the figures are still coming."""
    web = start_web(store, tmp_path)
    b = browser_signed_in(web, tmp_path)
    try:
        web.worker.stop(10)     # the board refreshes when the test says, not on its own
        loading = {"now_ms": 1, "day": "2026-12-02", "loading": True, "overdue": [],
                   "overdue_open": 0, "overran_today": 0, "sites": []}
        web.live.publish(json.dumps(loading).encode())
        b.wait_for("document.getElementById('loading') !== null && "
                   "document.getElementById('loading').textContent.includes('Loading')")
        b.eval("document.querySelector('[data-lang=ru]').click()")
        b.wait_for("document.getElementById('loading').textContent.includes('Загружаются')")
        web.publish_now()       # the day folded: the whole state, no notice
        b.wait_for("document.getElementById('loading') === null && "
                   "document.getElementById('country') !== null")
    finally:
        b.close()
        web.stop()
