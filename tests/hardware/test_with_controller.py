"""Buttons, LEDs and a board on the real controller and SQLite store, and the wiring of the demo."""

from __future__ import annotations

import io
import logging
from typing import Any

from edge.config.boards import BoardsConfig
from edge.config.hardware import GpioConfig
from edge.drivers.boards.bus import FakeTransport
from edge.drivers.boards.service import BoardsService
from edge.drivers.gpio.component import GpioComponent

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


def test_the_demo_config_alone_chooses_simulated_hardware(harness, tmp_path):
    """Risk: a demo flag checked inside the drivers (the way it was) swaps in fakes that a
    center's config never asked for, and a config copied from the demo behaves otherwise
    under `kezek run`. The demo's hardware is simulated because config/demo.toml says so:
    gpiozero's MockFactory by gpio.pin_factory, the fake bus by its type."""
    from edge.component import AppContext
    from edge.drivers import gpio as gpio_driver
    from edge.drivers.boards import service as boards_driver

    ctx = AppContext(controller=harness.controller, clock=harness.clock,
                     state_dir=tmp_path, db_path=tmp_path / "kezek.db", stdout=io.StringIO(),
                     logger=logging.getLogger("test"))
    assert ctx.config.gpio.pin_factory == "mock"
    [buttons] = gpio_driver.build(ctx)
    [boards] = boards_driver.build(ctx)
    assert type(buttons.pin_factory).__name__ == "MockFactory"
    assert [type(w.transport) for w in boards.writers.values()] == [FakeTransport]
    built: list[Any] = [buttons, boards]
    for comp in built:
        comp.start()
    try:
        wait_for(lambda: all(c.health()["ok"] for c in built), what="healthy components")
    finally:
        for comp in built:
            comp.stop(2.0)


def test_a_scanned_id_card_is_refused_without_its_iin_in_the_log_or_the_health(
        harness, pty_pair, caplog):
    """Risk: an ID card's barcode (the IIN) scanned at the kiosk came back in the queue's
    refusal, "no booking with code <IIN>", which the scanner logs and keeps as its health
    notice, and the health goes to central (retained on the broker, stored there)."""
    from edge.config.serial_inputs import ScannerConfig
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
