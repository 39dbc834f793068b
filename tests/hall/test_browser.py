"""The hall page in a real headless Chromium, fed by the real controller over SSE."""

from __future__ import annotations

import datetime as dt
import json
import os
import struct
import zoneinfo
from pathlib import Path

import pytest

from edge.clock import ManualClock
from edge.config.hall import HallConfig
from edge.hall.server import HallServer
from edge.queue.commands import CallNext, IssueTicket, PauseWindow, Recall
from edge.queue.snapshot import CallView, QueueSnapshot, ServiceView, WindowView

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img" / "hall.png"

CALLS_JS = ("JSON.stringify(Array.from(document.querySelectorAll('#calls li.call'))"
            ".map(li => [li.dataset.ticket, li.dataset.window, li.className]))")


def calls_on_page(chromium) -> list[list[str]]:
    return json.loads(chromium.eval(CALLS_JS))


def test_page_shows_a_call_made_after_it_loaded(harness, make_hall, chromium):
    """Risk: a visitor never sees their number because the TV did not get the update."""
    hall = make_hall()
    host, port = hall.address
    chromium.goto(f"http://{host}:{port}/")
    chromium.wait_for("document.body.classList.contains('online')")
    # Names come from the config, in Kazakh and Russian.
    header = chromium.eval("document.getElementById('center').textContent")
    assert harness.config.center.name.kk in header and harness.config.center.name.ru in header
    assert calls_on_page(chromium) == []
    assert "Вызовов пока нет" in chromium.eval("document.getElementById('empty').textContent")

    harness.call(IssueTicket("docs"))
    harness.call(IssueTicket("docs"))
    waiting = chromium.wait_for(
        "document.querySelector('li.service[data-service=docs] .count').textContent === '2'")
    assert waiting is True

    harness.call(CallNext(1))
    chromium.wait_for("document.querySelectorAll('#calls li.call').length === 1")
    [[ticket, window, classes]] = calls_on_page(chromium)
    assert (ticket, window) == ("A-001", "1")
    assert "fresh" in classes.split() and "newest" in classes.split()
    chromium.wait_for(
        "document.querySelector('li.service[data-service=docs] .count').textContent === '1'")


def test_newest_call_is_first_and_recall_moves_it_up(harness, make_hall, chromium):
    """Risk: the newest call hides below older ones, or a recall is not shown again."""
    hall = make_hall()
    host, port = hall.address
    chromium.goto(f"http://{host}:{port}/")
    chromium.wait_for("document.body.classList.contains('online')")
    for _ in range(2):
        harness.call(IssueTicket("docs"))
    harness.call(CallNext(1))
    harness.call(CallNext(2))
    chromium.wait_for("document.querySelectorAll('#calls li.call').length === 2")
    assert [c[:2] for c in calls_on_page(chromium)] == [["A-002", "2"], ["A-001", "1"]]
    harness.call(Recall(1))
    chromium.wait_for("document.querySelector('#calls li.call').dataset.ticket === 'A-001'")
    page = calls_on_page(chromium)
    assert [c[:2] for c in page] == [["A-001", "1"], ["A-002", "2"]]
    assert chromium.eval("document.querySelector('#calls li.call .recall') !== null")


def test_page_reconnects_after_the_server_restarts(harness, make_hall, chromium):
    """Risk: after a controller restart the TV shows a stale page until someone reboots it."""
    hall = make_hall()
    host, port = hall.address
    chromium.goto(f"http://{host}:{port}/")
    chromium.wait_for("document.body.classList.contains('online')")
    hall.stop(2.0)
    chromium.wait_for("document.body.classList.contains('offline')")
    # The page keeps what it showed and says the link is down.
    assert "Нет связи" in chromium.eval("document.getElementById('link').textContent")

    harness.call(IssueTicket("realty"))
    harness.call(CallNext(2))          # made while the page was cut off
    make_hall(port=port)               # the service is back on the same address
    chromium.wait_for("document.body.classList.contains('online')", timeout=15)
    chromium.wait_for("document.querySelectorAll('#calls li.call').length === 1")
    assert [c[:2] for c in calls_on_page(chromium)] == [["B-001", "2"]]


def test_screenshot_of_a_busy_hall(harness, make_hall, chromium, tmp_path):
    """The picture in the README: a full board at 1920x1080 (KEZEK_UPDATE_DOCS=1 saves it)."""
    for service in ("docs", "docs", "realty", "benefits", "docs", "realty", "docs", "benefits",
                    "docs", "realty", "docs", "docs"):
        harness.call(IssueTicket(service))
    for window in (3, 2, 1, 4):
        harness.call(CallNext(window))
    hall = make_hall(min_show_s=60)
    host, port = hall.address
    harness.call(CallNext(1))  # after the page's start: shown as new
    chromium.goto(f"http://{host}:{port}/")
    chromium.wait_for("document.querySelectorAll('#calls li.call').length === 5")
    chromium.wait_for("document.querySelector('#calls li.call.newest') !== null")
    png = chromium.screenshot()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1920, 1080)
    (tmp_path / "hall.png").write_bytes(png)
    if os.environ.get("KEZEK_UPDATE_DOCS") == "1":
        DOCS_IMG.parent.mkdir(parents=True, exist_ok=True)
        DOCS_IMG.write_bytes(png)


def test_page_shows_the_centers_time_and_who_is_at_each_window(harness, make_hall, chromium):
    """Risk: the TV shows its own wrong clock, or a visitor cannot see which window has whom."""
    hall = make_hall()
    host, port = hall.address
    harness.call(IssueTicket("docs"))
    harness.call(CallNext(1))
    harness.call(PauseWindow(2))
    chromium.goto(f"http://{host}:{port}/")
    chromium.wait_for("document.getElementById('clock').textContent !== ''")
    # The controller's clock (the tests' manual clock: Monday 09:00 in the center's zone),
    # not the browser's: this machine's real clock says something else.
    local = dt.datetime.fromtimestamp(harness.clock.wall_ms / 1000,
                                      zoneinfo.ZoneInfo(harness.config.center.timezone))
    expected = local.strftime("%H:%M")
    assert chromium.eval("document.getElementById('clock').textContent") in (
        expected, (local + dt.timedelta(minutes=1)).strftime("%H:%M"))
    windows = json.loads(chromium.eval(
        "JSON.stringify(Array.from(document.querySelectorAll('#windows li.win'))"
        ".map(li => [li.dataset.window, li.querySelector('.at').textContent, li.className]))"))
    by_number = {w[0]: w for w in windows}
    assert by_number["1"][1] == "A-001"
    assert "paused" in by_number["2"][2].split() and by_number["2"][1] == "Үзіліс / Перерыв"
    assert by_number["3"][1] == "\u2014"  # open, nobody at it
    closed = [w.number for w in harness.controller.snapshot.windows if w.state == "closed"]
    assert all(str(n) not in by_number for n in closed)


@pytest.mark.parametrize("failed", ["/hall.js", "/live.js"])
def test_page_reloads_itself_when_its_script_did_not_load(harness, make_hall, chromium, failed):
    """Risk: a TV whose hall.js (or the shared live.js) load failed (refused, cut off)
    stays blank until someone walks up to it: the page must try again by itself."""
    hall = make_hall()
    script = hall.files.bodies[failed]
    hall.files.bodies[failed] = b"/* the load that failed */"
    host, port = hall.address
    chromium.goto(f"http://{host}:{port}/")
    chromium.wait_for("document.readyState === 'complete'")
    assert chromium.eval("document.body.classList.contains('connecting')")
    hall.files.bodies[failed] = script
    chromium.wait_for("document.body.classList.contains('online')", timeout=20)


# Real ЦОН service names: long, in two languages, wrapping on the screen.
LONG_SERVICE_NAMES = [
    ("Жеке куәлік және төлқұжат", "Удостоверение личности и паспорт"),
    ("Жылжымайтын мүлікке құқықтарды мемлекеттік тіркеу",
     "Государственная регистрация прав на недвижимое имущество"),
    ("Әлеуметтік төлемдер және жәрдемақылар", "Социальные выплаты и пособия"),
    ("Көлік құралдарын тіркеу және жүргізуші куәлігі",
     "Регистрация транспортных средств и водительские удостоверения"),
    ("Жер қатынастары және жер учаскелері", "Земельные отношения и земельные участки"),
    ("Зейнетақы төлемдерін тағайындау", "Назначение пенсионных выплат"),
    ("Неке қию және азаматтық хал актілерін тіркеу",
     "Регистрация брака и актов гражданского состояния"),
    ("Тұрғылықты жері бойынша тіркеу", "Регистрация по месту жительства"),
    ("Мекенжай анықтамасы және анықтамалар", "Адресная справка и справки"),
    ("Кәсіпкерлік қызметті тіркеу", "Регистрация предпринимательской деятельности"),
    ("Балаларға арналған қызметтер", "Услуги для детей и семьи"),
    ("Әскери есепке алу", "Воинский учёт"),
]

# Each element: [key, problem or null]. A problem: not shown, outside the screen, cut by
# an ancestor that hides its overflow, or its own text spilling out of it.
CLIPPED_JS = """(() => {
  const vw = window.innerWidth, vh = window.innerHeight;
  function problem(el) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return 'not shown';
    if (r.left < -0.5 || r.top < -0.5 || r.right > vw + 0.5 || r.bottom > vh + 0.5)
      return 'outside the screen';
    if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
      return 'its text spills out';
    for (let a = el.parentElement; a; a = a.parentElement) {
      const cs = getComputedStyle(a);
      if (cs.overflowX === 'visible' && cs.overflowY === 'visible') continue;
      const p = a.getBoundingClientRect();
      if (r.left < p.left - 0.5 || r.top < p.top - 0.5 || r.right > p.right + 0.5 ||
          r.bottom > p.bottom + 0.5) return 'cut by ' + (a.id || a.tagName);
    }
    return null;
  }
  const out = {windows: [], counts: []};
  document.querySelectorAll('#windows li.win').forEach(
    e => out.windows.push([e.dataset.window, problem(e)]));
  document.querySelectorAll('#services li.service .count').forEach(
    e => out.counts.push([e.parentElement.dataset.service, problem(e)]));
  return JSON.stringify(out);
})()"""


class _BigCenter:
    """A controller stand-in holding one fixed snapshot: a big center's hall."""

    def __init__(self, windows: int, services: int) -> None:
        self.snapshot = QueueSnapshot(
            day="2026-11-23",
            services=tuple(ServiceView(f"s{i}", {"kk": LONG_SERVICE_NAMES[i % 12][0],
                                                 "ru": LONG_SERVICE_NAMES[i % 12][1]},
                                       chr(65 + i), 100 + i, 8.0) for i in range(services)),
            # Every fifth window on a break: its tile says so in two languages.
            windows=tuple(WindowView(n, str(n), "paused" if n % 5 == 0 else "open",
                                     f"{chr(65 + n % 12)}-{100 + n:03d}", "called", "s0", {},
                                     False) for n in range(1, windows + 1)),
            recent_calls=tuple(CallView(f"{chr(65 + n % 12)}-{100 + n:03d}", n, "s0", 0, 1)
                               for n in range(1, 6)),
            waiting_total=services * 100)

    def subscribe(self, listener) -> None:
        pass


def test_a_big_center_sees_every_window_and_every_waiting_count(chromium, tmp_path):
    """Risk: with many windows the waiting counts (and windows) were cut off the screen
    without a sign: a visitor looking for their service's queue found nothing. With 30
    windows and 12 long-named services every tile and every count is whole on screen."""
    hall = HallServer(HallConfig(enabled=True, bind="127.0.0.1", port=0), _BigCenter(windows=30, services=12),
                      {"kk": "Халыққа қызмет көрсету орталығы №1", "ru": "ЦОН №1 г. Астана"},
                      ManualClock(1_700_000_000_000), "Asia/Almaty")
    hall.start()
    try:
        assert hall.wait_serving(30), hall.health()
        host, port = hall.address
        for width, height in ((1920, 1080), (1280, 720)):
            chromium.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                          deviceScaleFactor=1, mobile=False)
            chromium.goto(f"http://{host}:{port}/")
            chromium.wait_for("document.querySelectorAll('#services li.service').length === 12"
                              " && document.querySelectorAll('#windows li.win').length === 30")
            (tmp_path / f"hall-{width}x{height}.png").write_bytes(chromium.screenshot())
            seen = json.loads(chromium.eval(CLIPPED_JS))
            assert len(seen["windows"]) == 30 and len(seen["counts"]) == 12
            problems = {kind: [e for e in elements if e[1]] for kind, elements in seen.items()}
            assert problems == {"windows": [], "counts": []}, f"at {width}x{height}"
            # All at once: nothing is waiting for its turn on another page.
            assert chromium.eval("document.querySelectorAll('#side li[hidden]').length") == 0
    finally:
        hall.stop(2.0)
