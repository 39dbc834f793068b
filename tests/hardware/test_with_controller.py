"""Buttons, LEDs and a board on the real controller and SQLite store, and the wiring of the demo."""

from __future__ import annotations

import io
import logging
from typing import Any

from edge.config import parse_config
from edge.config.hardware import BoardsConfig, GpioConfig
from edge.drivers.boards.bus import FakeTransport
from edge.drivers.boards.service import BoardsService
from edge.drivers.gpio.component import GpioComponent

from ..conftest import demo_config_dict
from .conftest import wait_for


def test_ticket_button_call_button_led_and_board(harness, mock_factory):
    gpio = GpioConfig.model_validate({
        "buttons": [{"kind": "ticket", "pin": 5, "service": "docs", "debounce_ms": 0,
                     "min_interval_s": 0},
                    {"kind": "operator", "pin": 6, "window": 1, "action": "call_next",
                     "debounce_ms": 0, "min_interval_s": 0}],
        "leds": [{"pin": 23, "role": "window_busy", "window": 1}],
        "buzzers": {"desk": {"pin": 12}}})
    boards = BoardsConfig.model_validate({"buses": {"hall": {
        "type": "fake", "blink_s": 0, "gap_ms": 0,
        "boards": [{"address": 1, "kind": "window", "window": 1}]}}})
    fake = FakeTransport()
    buttons = GpioComponent(gpio, harness.controller, mock_factory)
    board_service = BoardsService(boards, harness.controller, transports={"hall": fake})
    buttons.start()
    board_service.start()
    try:
        pin = mock_factory.pin
        pin(6).drive_low()
        pin(6).drive_high()          # nobody waiting yet: refused, the buzzer sounds
        wait_for(lambda: any(s.state for s in pin(12).states), what="the refusal beep")

        pin(5).drive_low()
        pin(5).drive_high()
        wait_for(lambda: harness.controller.snapshot.waiting.get("docs") == 1, what="a ticket")
        pin(6).drive_low()
        pin(6).drive_high()
        window = wait_for(lambda: next((w for w in harness.controller.snapshot.windows
                                        if w.number == 1 and w.ticket), None),
                          what="window 1 to call")
        wait_for(lambda: pin(23).state, what="the window-busy LED")
        assert window.ticket == "A-001"
        frame = b"\x01\x01A-001\x07"
        wait_for(lambda: frame in fake.sent(), what="the board to show the call")
    finally:
        board_service.stop(2.0)
        buttons.stop(2.0)


DEMO_HARDWARE = {
    "gpio": {"pin_factory": "lgpio",            # the demo swaps in the mock factory
             "buttons": [{"kind": "ticket", "pin": 5, "service": "docs"},
                         {"kind": "operator", "pin": 6, "window": 1, "action": "call_next",
                          "hold_action": "recall"}],
             "leds": [{"pin": 23, "role": "ready"}]},
    "boards": {"buses": {"hall": {"type": "fake", "boards": [
        {"address": 1, "kind": "hall", "rows": 4, "width": 12},
        {"address": 11, "kind": "window", "window": 1}]}}},
}


def test_demo_builds_the_hardware_components(harness, tmp_path):
    from edge.component import AppContext
    from edge.wiring import build_components

    config = parse_config({**demo_config_dict(), **DEMO_HARDWARE, "console": {"enabled": False}})
    ctx = AppContext(config=config, controller=harness.controller, clock=harness.clock,
                     state_dir=tmp_path, db_path=tmp_path / "kezek.db", stdout=io.StringIO(),
                     logger=logging.getLogger("test"), demo=True)
    parts = build_components(ctx)
    # The boards are an optional part, guarded (edge/optional.py); GPIO is not.
    assert "part:boards" in [c.name for c in parts] and "gpio" in [c.name for c in parts]
    built: list[Any] = [ctx.components[name] for name in ("gpio", "boards")]
    for comp in built:
        comp.start()
    try:
        assert type(built[0].pin_factory).__name__ == "MockFactory"
        wait_for(lambda: all(c.health()["ok"] for c in built), what="healthy components")
    finally:
        for comp in built:
            comp.stop(2.0)


def test_a_scanned_id_card_is_refused_without_its_iin_in_the_log_or_the_health(
        harness, pty_pair, caplog):
    """Risk: an ID card's barcode (the IIN) scanned at the kiosk came back in the queue's
    refusal, "no booking with code <IIN>", which the scanner logs and keeps as its health
    notice, and the health goes to central (retained on the broker, stored there)."""
    from edge.config.hardware import ScannerConfig
    from edge.drivers.serial_inputs.component import ScannerInput

    iin = "900101300126"      # valid check digit
    cfg = ScannerConfig.model_validate({"type": "scanner", "port": str(pty_pair.link)})
    scanner = ScannerInput(cfg, "gpio.serial_inputs.0", harness.controller)
    caplog.set_level(logging.DEBUG)
    scanner.start()
    try:
        wait_for(lambda: scanner.link.up, what="the port to open")
        pty_pair.send(f"{iin}\r".encode())
        wait_for(lambda: scanner.refused == 1, what="the refusal")
        pty_pair.send(b"BK-7F3A9Q\r")            # an unknown code is still named
        wait_for(lambda: scanner.refused == 2, what="the second refusal")
    finally:
        scanner.stop(2.0)
    assert iin not in caplog.text + repr([r.args for r in caplog.records])
    assert "unknown_booking" in caplog.text and "BK-7F3A9Q" in caplog.text
    assert iin not in repr(scanner.health())
