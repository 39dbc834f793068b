"""The manager's page in a real headless Chromium: figures shown, windows by click, live."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

from edge.queue import commands as c
from edge.queue.model import Category
from edge.config import parse_config
from tests.browser import Chromium
from tests.conftest import Harness, demo_config_dict

from .conftest import ManagerSite

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img" / "manager.png"


def click(chromium: Chromium, selector: str) -> None:
    """A real click: the mouse pressed and released over the element."""
    box = chromium.eval(f"JSON.stringify((document.querySelector({json.dumps(selector)}) || "
                        "{getBoundingClientRect: () => null}).getBoundingClientRect())")
    assert box and box != "null", f"nothing matches {selector}"
    r = json.loads(box)
    assert r["width"] > 0 and r["height"] > 0, f"{selector} is not visible"
    x, y = r["x"] + r["width"] / 2, r["y"] + r["height"] / 2
    for kind in ("mousePressed", "mouseReleased"):
        chromium.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=1)


def text(chromium: Chromium, selector: str) -> str:
    return chromium.eval(f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText "
                         "|| ''")


def sign_in(chromium: Chromium, site: ManagerSite, who: str) -> None:
    chromium.send("Network.setCookie", name="who", value=who, url=site.url + "/")


def open_page(chromium: Chromium, site: ManagerSite) -> None:
    chromium.goto(site.url + "/manager")
    chromium.wait_for("document.body.classList.contains('ready')")


def test_figures_shown_and_a_window_closed_and_opened_by_click(site: ManagerSite,
                                                               chromium: Chromium) -> None:
    """Risk: the manager sees no figures, a button does nothing, or the page does not
    follow the queue without a reload."""
    h = site.harness
    h.call(c.IssueTicket("docs"))
    h.clock.advance(120)
    h.call(c.CallNext(1))
    h.call(c.Finish(1))
    sign_in(chromium, site, "boss")
    open_page(chromium, site)
    assert "Орталықтың бүгінгі күні" in text(chromium, "#title")    # Kazakh first
    services = text(chromium, "#t-services")
    docs = h.config.service("docs").names
    assert docs.kk in services and "2:00" in services
    # Live: a ticket issued now shows in the totals without a reload.
    h.call(c.IssueTicket("realty"))
    chromium.wait_for("document.querySelector('#totals .total:nth-child(3) .value')"
                      ".textContent === '1'")
    click(chromium, "#win-2 button")                  # close window 2
    chromium.wait_for("document.querySelector('#win-2').classList.contains('closed')")
    assert text(chromium, "#message") == "Терезе 2 жабылды"
    assert h.controller.snapshot.windows[1].state == "closed"
    click(chromium, "#win-2 button.open")             # and open it again
    chromium.wait_for("document.querySelector('#win-2').classList.contains('open')")
    assert h.controller.snapshot.windows[1].state == "open"
    h.call(c.CallNext(1))                              # B-001 at window 1
    chromium.wait_for("document.querySelector('#win-1 .ticket').textContent === 'B-001'")
    click(chromium, "#win-1 button.close")             # refused: a visitor is there
    chromium.wait_for("document.getElementById('message').innerText"
                      ".indexOf('Терезеде келуші бар') >= 0")
    assert h.controller.snapshot.windows[0].state == "open"
    click(chromium, '#langs [data-lang="ru"]')
    chromium.wait_for("document.getElementById('title').textContent === 'День центра'")
    assert docs.ru in text(chromium, "#t-services")


def test_a_non_manager_is_refused(site: ManagerSite, chromium: Chromium) -> None:
    sign_in(chromium, site, "olga")
    chromium.goto(site.url + "/manager")
    chromium.wait_for("document.body && document.body.innerText.indexOf('руководителя') >= 0")
    assert chromium.eval("document.getElementById('totals')") is None


def busy_day(h: Any) -> None:
    """A morning of visits over four hours, for the picture."""
    clock = h.clock
    plan = [("docs", 1), ("docs", 2), ("realty", 2), ("docs", 1), ("benefits", 3),
            ("docs", 4), ("realty", 2), ("docs", 1), ("docs", 4), ("realty", 2),
            ("benefits", 3), ("docs", 1)]
    for hour in range(4):
        for i, (service, _) in enumerate(plan):
            cat = Category.PENSIONER if i % 5 == 4 else Category.NORMAL
            h.call(c.IssueTicket(service, cat))
        for i, (_, window) in enumerate(plan):
            clock.advance(60 * (1 + (i * 7 + hour * 5) % 3))
            try:
                h.call(c.CallNext(window))
            except Exception:  # nobody waiting for that window: fine
                continue
            if i % 7 == 3:
                h.call(c.NoShow(window))
                continue
            h.call(c.StartService(window))
            clock.advance(60 * (1 + (i * 3 + hour) % 4))
            if i % 6 == 2:
                h.call(c.Transfer(window, "realty"))
                continue
            h.call(c.Finish(window))
            h.call(c.Rate(window, 3 + (i + hour) % 3))
    h.call(c.CloseWindow(4))


def test_screenshot_of_the_managers_day(chromium: Chromium, clock: Any, tmp_path: Path) -> None:
    """The picture in the README and docs/manager.md at 1366x768 (KEZEK_UPDATE_DOCS=1 saves
    it): the demo center with a 30-minute wait SLA on documents."""
    from PIL import Image

    raw = demo_config_dict()
    raw["policies"]["services"]["docs"] = {"max_wait_min": 30, "max_service_min": 15}
    harness = Harness(parse_config(raw, "demo+sla"), tmp_path / "kezek.db", clock)
    site = ManagerSite(harness)
    try:
        shoot(site, chromium, tmp_path, Image)
    finally:
        site.close()
        harness.close()


def shoot(site: ManagerSite, chromium: Chromium, tmp_path: Path, Image: Any) -> None:
    busy_day(site.harness)
    site.harness.call(c.DeviceStatus("printer:kiosk", False, "out of paper: load a new roll",
                                     blocks_issue=True))
    chromium.send("Emulation.setDeviceMetricsOverride", width=1366, height=768,
                  deviceScaleFactor=1, mobile=False)
    sign_in(chromium, site, "boss")
    open_page(chromium, site)
    chromium.wait_for("document.querySelectorAll('#chart rect.p50').length >= 3")
    # What each alarm is about is said in the page's language (Kazakh here), its id kept
    # as the tooltip for the IT person.
    labels = chromium.eval("Array.from(document.querySelectorAll('#alarms li b'))"
                               ".map(b => b.textContent)")
    assert "Принтер" in labels and "Ұзақ күту" in labels, labels
    png = chromium.screenshot()
    image = Image.open(io.BytesIO(png))
    assert image.size == (1366, 768)
    (tmp_path / "manager.png").write_bytes(png)
    if os.environ.get("KEZEK_UPDATE_DOCS") == "1":
        DOCS_IMG.parent.mkdir(parents=True, exist_ok=True)
        image.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(
            DOCS_IMG, optimize=True)
