"""The whole service with the kiosk: how a refusal reaches every screen a visitor sees.

A ticket button pressed while the kiosk printer is out of paper: the engine refuses,
and the answer is on the hall banner, on the board over the kiosk and on the kiosk page
(whose own printer it is), in Kazakh and Russian, from the one notice bus the wiring
builds first."""

from __future__ import annotations

import http.client
import io
import json
import threading
from pathlib import Path
from typing import Any

from edge.config import parse_config
from edge.queue import commands as c
from edge.service import App
from tests.browser import wait_until
from tests.conftest import demo_config_dict


def get_json(address: tuple[str, int], path: str) -> Any:
    conn = http.client.HTTPConnection(*address, timeout=10)
    conn.request("GET", path)
    body = conn.getresponse().read()
    conn.close()
    return json.loads(body)


def test_a_refused_button_press_reaches_the_hall_the_board_and_the_kiosk_page(tmp_path: Path):
    data = demo_config_dict()
    data.update(console={"enabled": False}, announce={"enabled": False},
                hall={"enabled": True, "bind": "127.0.0.1", "port": 0},
                kiosk={"enabled": True, "bind": "127.0.0.1", "port": 0, "printer": "kiosk"})
    data["storage"] = {"state_dir": str(tmp_path / "state")}
    # The ticket button acts on a press of any length: the mock pin has no fingers.
    data["gpio"]["buttons"][0]["debounce_ms"] = 0
    board = {"address": 7, "kind": "hall", "rows": 2, "width": 16, "charset": "kazakh",
             "notices": True}
    data["boards"]["buses"]["hall"]["boards"].append(board)
    config = parse_config(data, "demo with the kiosk")
    app = App(config, tmp_path / "state", stdout=io.StringIO())
    app.start_components()
    loop = threading.Thread(target=app.run, name="test-loop", daemon=True)
    loop.start()
    try:
        components = app.ctx.components
        assert list(components)[0] == "notices", "built first: the others subscribe to it"
        hall, kiosk, gpio = components["hall"], components["kiosk"], components["gpio"]
        assert hall.wait_serving(30) and kiosk.wait_serving(30)
        # The printer reports itself first; then it runs out of paper.
        wait_until(lambda: "printer:kiosk" in app.controller.snapshot.devices, 30,
                   "the printer's first report")
        app.controller.call(c.DeviceStatus("printer:kiosk", False,
                                           "out of paper: load a new roll", blocks_issue=True))
        pin = gpio.pin_factory.pin(5)          # the demo's ticket button for docs
        pin.drive_low()
        pin.drive_high()
        state = wait_until(lambda: (s := get_json(hall.address, "/state.json"))["notice"] and s,
                           30, "the hall banner")
        assert state["notice"]["code"] == "paper_out"
        assert "Принтерде қағаз бітті" in state["notice"]["texts"]["kk"]
        assert "закончилась бумага" in state["notice"]["texts"]["ru"]
        assert app.controller.snapshot.waiting.get("docs", 0) == 0, "no ghost ticket"
        fake = components["boards"].writers["hall"].transport
        line = "ҚАҒАЗ БІТТІ".encode("kz1048").ljust(16) + "НЕТ БУМАГИ".encode("kz1048").ljust(16)
        wait_until(lambda: bytes([0x01, 7]) + line + b"\x07" in fake.sent(), 30,
                   "the board over the kiosk")
        # The kiosk page beside the button prints on the same printer: it says so too.
        page = wait_until(lambda: (s := json.loads(kiosk.live.current()[1])).get("notice") and s,
                          30, "the kiosk page's live state")
        assert page["notice"]["code"] == "paper_out" and page["printer"]["code"] == "paper_out"
        assert components["notices"].health()["published"] == {"paper_out": 1}
    finally:
        app.stop()
        loop.join(10)
