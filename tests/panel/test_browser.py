"""The panel in a real headless Chromium at 1366x768, on a real controller and SQLite file:
clicks and shortcuts, not loads."""

from __future__ import annotations

import json
import os
from pathlib import Path

from edge.queue import commands as c
from tests.conftest import wait_until

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img" / "panel.png"


def click(chromium, selector: str) -> None:
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


def type_into(chromium, selector: str, text: str) -> None:
    click(chromium, selector)
    chromium.send("Input.insertText", text=text)


def key(chromium, letter: str) -> None:
    for kind in ("keyDown", "keyUp"):
        chromium.send("Input.dispatchKeyEvent", type=kind, key=letter, text=letter,
                      code=f"Key{letter.upper()}")


def shown(chromium, selector: str) -> str:
    return chromium.eval(f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText "
                         "|| ''")


def ticket_is(chromium, label: str) -> None:
    chromium.wait_for(f"document.getElementById('ticket').innerText === {json.dumps(label)}")


def test_an_operators_day_in_the_browser(make_center, chromium) -> None:
    center = make_center()
    h = center.harness
    for service in ("docs", "docs", "realty", "docs"):
        h.call(c.IssueTicket(service))
    chromium.goto(center.url + "/")
    chromium.wait_for("!document.getElementById('signin').hidden")
    assert shown(chromium, "#signin-btn") == "Кіру"          # Kazakh first
    type_into(chromium, "#op", "aigerim")
    type_into(chromium, "#pin", "1111")
    click(chromium, "#signin-btn")
    chromium.wait_for("!document.getElementById('choose').hidden")
    click(chromium, '[data-window="1"]')
    chromium.wait_for("!document.getElementById('work').hidden && "
                      "document.querySelectorAll('#counts li').length === 2")

    key(chromium, "n")                                        # call next: N
    ticket_is(chromium, "A-001")
    click(chromium, '[data-act="start"]')
    chromium.wait_for("document.getElementById('tstate').classList.contains('serving')")

    click(chromium, '[data-act="transfer"]')                 # with a note for the next stage
    chromium.wait_for("document.getElementById('transfer-dlg').open")
    type_into(chromium, "#tnote", "справка готова")
    click(chromium, '#svc [data-service="realty"]')
    ticket_is(chromium, "—")
    moved = center.events("ticket.transferred")[-1]
    assert moved["note"] == "справка готова" and moved["operator"] == "aigerim"

    click(chromium, '[data-act="call_next"]')
    ticket_is(chromium, "A-002")
    click(chromium, '[data-act="park"]')                     # park, then call back by number
    chromium.wait_for("document.querySelector('#parked [data-label=\"A-002\"]') !== null")
    click(chromium, '#parked [data-label="A-002"]')
    ticket_is(chromium, "A-002")

    key(chromium, "b")                                        # pause with a reason
    chromium.wait_for("document.getElementById('pause-dlg').open")
    click(chromium, '#pause-dlg button[value="paperwork"]')
    chromium.wait_for("!document.getElementById('resumebtn').hidden")
    assert center.events("window.paused")[-1] == {"window": 1, "operator": "aigerim",
                                                   "reason": "paperwork"}
    click(chromium, "#resumebtn")
    chromium.wait_for("!document.getElementById('pausebtn').hidden")

    # Refused by the engine: said in the operator's language, nothing changed.
    type_into(chromium, "#label", "Z-999")
    click(chromium, "#callform button")
    chromium.wait_for("document.getElementById('msg').innerText.includes('мұндай талон жоқ')")
    assert shown(chromium, "#ticket") == "A-002"

    # The service restarts under the panel: it says so, reconnects, and goes on working.
    center.restart()
    chromium.wait_for("document.getElementById('link').hidden && "
                      "document.getElementById('ticket').innerText === 'A-002'", 60)
    click(chromium, '[data-act="done"]')
    wait_until(lambda: any(e["ticket"] == "A-002" and e["operator"] == "aigerim"
                           for e in center.events("ticket.done")), 30, "done after restart")
    ticket_is(chromium, "—")

    click(chromium, '[data-act="call_next"]')
    ticket_is(chromium, "A-003")
    chromium.wait_for("document.querySelector('#figures dd') && "
                      "document.querySelector('#figures dd').innerText === '1'")
    if os.environ.get("KEZEK_SCREENSHOTS"):
        DOCS_IMG.write_bytes(chromium.screenshot())

    click(chromium, "#signout")
    chromium.wait_for("!document.getElementById('signin').hidden")
    assert center.events("operator.signed_out")[-1]["reason"] == "sign_out"
