"""The kiosk page in a real headless Chromium, on the real controller: taps, not loads."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from edge.queue import commands as c
from edge.queue.model import Category
from tests.browser import start_chromium

from .conftest import IIN, wrong_check_digit

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img" / "kiosk.png"
PAPER_OUT = c.DeviceStatus("printer:kiosk", False, "out of paper: load a new roll",
                           blocks_issue=True)


def tap(chromium, selector: str) -> None:
    """A real click (mouse pressed and released over the element), as a finger's tap."""
    box = chromium.eval(f"JSON.stringify((document.querySelector({json.dumps(selector)}) || "
                        "{getBoundingClientRect: () => null}).getBoundingClientRect())")
    assert box and box != "null", f"nothing matches {selector}"
    r = json.loads(box)
    assert r["width"] > 0 and r["height"] > 0, f"{selector} is not visible"
    x, y = r["x"] + r["width"] / 2, r["y"] + r["height"] / 2
    for kind in ("mousePressed", "mouseReleased"):
        chromium.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=1)


def text(chromium, selector: str) -> str:
    return chromium.eval(f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText "
                         "|| ''")


def open_page(chromium, kiosk) -> None:
    chromium.goto(kiosk.url)
    chromium.wait_for("document.body.classList.contains('online') && "
                      "document.querySelectorAll('#services .service').length > 0")


def type_iin(chromium, digits: str) -> None:
    tap(chromium, "#to-checkin")
    chromium.wait_for("document.body.dataset.screen === 'checkin'")
    for i, d in enumerate(digits):
        tap(chromium, f'#pad [data-key="{d}"]')
        if i < len(digits) - 1:
            chromium.wait_for(f"document.getElementById('entry').dataset.count === '{i + 1}'")


def test_a_visitor_chooses_a_service_and_a_category_and_gets_the_ticket(make_kiosk, chromium):
    kiosk = make_kiosk()
    open_page(chromium, kiosk)
    home = text(chromium, "#home")
    assert "Қызметті таңдаңыз" in home and "Выберите услугу" in home
    assert "Жеке куәлік және төлқұжат" in home and "Удостоверение личности и паспорт" in home
    tap(chromium, '[data-service="benefits"]')
    chromium.wait_for("document.body.dataset.screen === 'category'")
    question = text(chromium, "#category")
    assert "Жеңілдігіңіз бар ма?" in question and "У вас есть льгота?" in question
    assert "Зейнеткер" in question and "Пенсионер" in question
    tap(chromium, '[data-category="pensioner"]')
    chromium.wait_for("document.body.dataset.result === 'ticket'")
    assert text(chromium, "#r-ticket") == "C-001"
    shown = text(chromium, "#result")
    assert "Талон басылып жатыр" in shown and "Талон печатается" in shown
    [t] = kiosk.tickets()
    assert (t.label, t.category, t.printer, t.service) == ("C-001", Category.PENSIONER, "kiosk",
                                                          "benefits")
    assert kiosk.submitted.commands == [c.IssueTicket("benefits", Category.PENSIONER, "kiosk",
                                                      source="kiosk")]
    # The waiting count on the start screen follows the queue live.
    tap(chromium, "#r-close")
    chromium.wait_for("document.querySelector('[data-service=\"benefits\"] .count')"
                      ".innerText.indexOf('1') >= 0")


def test_a_wrong_check_digit_is_refused_on_the_page_before_any_command(make_kiosk, chromium):
    """Risk: a typo reaches the controller (or a log) as someone else's IIN."""
    kiosk = make_kiosk()
    kiosk.book("AB-100", IIN)
    open_page(chromium, kiosk)
    before = list(kiosk.submitted.commands)
    type_iin(chromium, wrong_check_digit(IIN))
    chromium.wait_for("!document.getElementById('entry-error').hidden")
    error = text(chromium, "#entry-error")
    assert "ЖСН қате" in error and "Неверный ИИН" in error
    assert chromium.eval("document.getElementById('entry').dataset.count") == "0"
    assert chromium.eval("document.body.dataset.screen") == "checkin"
    assert kiosk.submitted.commands == before, "nothing may be sent for a wrong IIN"
    assert kiosk.server.answers == {}, "not even a request"
    # The digits were never on the page: only dots.
    assert IIN[:6] not in chromium.eval("document.body.innerText")


def test_a_right_iin_checks_the_booked_visitor_in(make_kiosk, chromium, caplog):
    caplog.set_level("DEBUG")
    kiosk = make_kiosk()
    kiosk.book("AB-100", IIN, slot="09:15")
    open_page(chromium, kiosk)
    type_iin(chromium, IIN)
    chromium.wait_for("document.body.dataset.result === 'ticket'")
    shown = text(chromium, "#result")
    assert "Сіз тіркелдіңіз" in shown and "Вы зарегистрированы" in shown
    assert text(chromium, "#r-ticket") == "A-001"
    [t] = kiosk.tickets()
    assert t.booking == "AB-100"
    [cmd] = kiosk.submitted.commands
    assert isinstance(cmd, c.CheckInIin) and IIN not in repr(cmd)
    assert IIN not in chromium.eval("document.documentElement.outerHTML")
    assert IIN not in caplog.text
    assert all(IIN not in json.dumps(e.data) for e in kiosk.harness.store.outbox())


def test_a_booking_code_typed_on_the_letter_pad(make_kiosk, chromium):
    kiosk = make_kiosk()
    kiosk.book("AB-100", IIN, slot="09:15", service="realty")
    open_page(chromium, kiosk)
    tap(chromium, "#to-checkin")
    tap(chromium, "#tab-code")
    chromium.wait_for("document.getElementById('pad').className === 'letters'")
    for ch in "AB-100":
        tap(chromium, f'#pad [data-key="{ch}"]')
    chromium.wait_for("document.getElementById('entry').innerText === 'AB-100'")
    tap(chromium, "#confirm")
    chromium.wait_for("document.body.dataset.result === 'ticket'")
    assert text(chromium, "#r-ticket") == "B-001"
    assert kiosk.submitted.commands == [c.CheckIn("AB-100", "kiosk", source="kiosk")]


def test_printer_out_of_paper_shows_on_the_page_and_on_the_hall_banner(make_kiosk, chromium,
                                                                      tmp_path):
    """Risk: a visitor taps and gets nothing, with no word why (today: a beep at best)."""
    kiosk = make_kiosk()
    hall = kiosk.start_hall()
    hall_tv = start_chromium(tmp_path / "tv")
    try:
        host, port = hall.address
        hall_tv.goto(f"http://{host}:{port}/")
        hall_tv.wait_for("document.body.classList.contains('online')")
        assert hall_tv.eval("document.getElementById('notice').hidden") is True
        open_page(chromium, kiosk)
        kiosk.harness.call(PAPER_OUT)
        # The page says so live, before anyone taps.
        chromium.wait_for("!document.getElementById('printer').hidden")
        banner = text(chromium, "#printer")
        assert "Принтерде қағаз бітті" in banner and "закончилась бумага" in banner
        tap(chromium, '[data-service="docs"]')
        tap(chromium, '[data-category="normal"]')
        chromium.wait_for("document.body.dataset.result === 'refused'")
        reason = text(chromium, "#r-reason")
        assert "Қызметкерге хабарласыңыз" in reason and "Обратитесь к сотруднику" in reason
        assert "Талон не выдан" in text(chromium, "#result")
        assert kiosk.tickets() == [], "no ghost ticket"
        # The hall screen shows the same refusal as a banner, in both languages.
        hall_tv.wait_for("!document.getElementById('notice').hidden")
        assert hall_tv.eval("document.getElementById('notice').dataset.code") == "paper_out"
        hall_banner = hall_tv.eval("document.getElementById('notice').innerText")
        assert "Принтерде қағаз бітті" in hall_banner and "закончилась бумага" in hall_banner
        # Paper loaded: the page's warning goes by itself.
        kiosk.harness.call(c.DeviceStatus("printer:kiosk", True, "", blocks_issue=True))
        chromium.wait_for("document.getElementById('printer').hidden")
    finally:
        hall_tv.close()


def test_screenshot_of_the_kiosk(make_kiosk, chromium, tmp_path):
    """The picture in the README and docs/kiosk.md: the start screen and a refusal side by
    side, both languages, large type (KEZEK_UPDATE_DOCS=1 saves it)."""
    from PIL import Image

    kiosk = make_kiosk()
    for service in ("docs", "docs", "docs", "realty", "benefits", "docs"):
        kiosk.harness.call(c.IssueTicket(service))
    open_page(chromium, kiosk)
    chromium.wait_for("document.querySelector('[data-service=\"docs\"] .count')"
                      ".innerText.indexOf('4') >= 0")
    home = chromium.screenshot()
    kiosk.harness.call(PAPER_OUT)
    chromium.wait_for("!document.getElementById('printer').hidden")
    tap(chromium, '[data-service="realty"]')
    tap(chromium, '[data-category="normal"]')
    chromium.wait_for("document.body.dataset.result === 'refused'")
    refused = chromium.screenshot()
    panels = [Image.open(io.BytesIO(png)).convert("RGB") for png in (home, refused)]
    assert all(p.size == (1080, 1920) for p in panels)
    sheet = Image.new("RGB", (1080 + 24, 960), "white")
    for i, p in enumerate(panels):
        sheet.paste(p.resize((540, 960), Image.LANCZOS), (i * (540 + 24), 0))
    sheet = sheet.convert("P", palette=Image.Palette.ADAPTIVE, colors=48)   # a small file
    sheet.save(tmp_path / "kiosk.png", optimize=True)
    if os.environ.get("KEZEK_UPDATE_DOCS") == "1":
        DOCS_IMG.parent.mkdir(parents=True, exist_ok=True)
        sheet.save(DOCS_IMG, optimize=True)
