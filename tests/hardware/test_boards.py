"""The board service: window and hall boards follow calls, blink, survive unplugging."""

from __future__ import annotations

from typing import Any

import pytest

from edge.config.boards import BoardsConfig
from edge.drivers.boards.bus import FakeTransport
from edge.drivers.boards.service import BoardsService
from edge.queue.commands import DeviceStatus
from edge.queue.snapshot import CallView, QueueSnapshot, WindowView

from .conftest import wait_for

WINDOW_3 = {"address": 3, "kind": "window", "window": 3, "idle_text": "---"}
HALL = {"address": 9, "kind": "hall", "rows": 2, "width": 8}


def snap(calls: list[tuple[str, int]], at_windows: dict[int, str] | None = None) -> QueueSnapshot:
    at_windows = at_windows or {}
    windows = tuple(WindowView(n, str(n), "open", at_windows.get(n), "called" if n in at_windows
                               else None, "docs", {"docs": 1}, False) for n in (3, 4))
    return QueueSnapshot(day="2025-03-03", windows=windows,
                         recent_calls=tuple(CallView(t, w, "docs", 0, 1) for t, w in calls))


def call(recorder: Any, ticket: str, window: int, calls: list[tuple[str, int]],
         etype: str = "ticket.called") -> None:
    """Publish a call; `calls` (newest first) also says who stands at which window."""
    calls.insert(0, (ticket, window))
    at_windows: dict[int, str] = {}
    for t, w in reversed(calls):
        at_windows[w] = t
    recorder.publish([(etype, {"ticket": ticket, "window": window, "service": "docs"})],
                     snap(calls, at_windows))


@pytest.fixture
def service():
    made: list[BoardsService] = []

    def _make(recorder: Any, buses: dict[str, Any], **kw: Any) -> BoardsService:
        svc = BoardsService(BoardsConfig.model_validate({"buses": buses}), recorder, **kw)
        svc.start()
        made.append(svc)
        return svc
    yield _make
    for svc in made:
        svc.stop(2.0)


def frames_of(transport: FakeTransport, address: int) -> list[bytes]:
    return [f for f in transport.sent() if f[1] == address]


def test_window_and_hall_boards_show_calls(recorder, service):
    fake = FakeTransport()
    service(recorder, {"hall": {"type": "fake", "blink_s": 0, "gap_ms": 0,
                                "boards": [WINDOW_3, HALL]}}, transports={"hall": fake})
    wait_for(lambda: b"\x01\x03---\x07" in fake.sent(), what="the idle text at start")
    calls: list[tuple[str, int]] = []
    call(recorder, "A-001", 3, calls)
    call(recorder, "B-002", 4, calls)
    wait_for(lambda: b"\x01\x09B-002>4 A-001>3 \x07" in fake.sent(), what="the hall rows")
    wait_for(lambda: b"\x01\x03A-001\x07" in fake.sent(), what="window 3's board")
    recorder.publish([("ticket.done", {"ticket": "A-001", "window": 3})],
                     snap(calls, {4: "B-002"}))
    wait_for(lambda: frames_of(fake, 3)[-1] == b"\x01\x03---\x07", what="the window to clear")


def test_hall_board_lists_a_recalled_ticket_once_at_the_top(recorder, service):
    """Risk: two recalls of one ticket push every other call off the hall board."""
    fake = FakeTransport()
    service(recorder, {"hall": {"type": "fake", "blink_s": 0, "gap_ms": 0,
                                "boards": [{**HALL, "rows": 3}]}}, transports={"hall": fake})
    calls: list[tuple[str, int]] = []
    call(recorder, "A-001", 4, calls)
    call(recorder, "A-002", 3, calls)
    call(recorder, "A-001", 4, calls, "ticket.recalled")
    call(recorder, "A-001", 4, calls, "ticket.recalled")
    wait_for(lambda: frames_of(fake, 9) and frames_of(fake, 9)[-1] == b"\x01\x09A-001>4 A-002>3 "
             + b" " * 8 + b"\x07", what="each ticket once, the recalled one first")


def test_new_call_blinks_then_stays(recorder, service):
    """Addressed boards have no blink command: the writer alternates text and blank frames."""
    fake = FakeTransport()
    svc = service(recorder, {"b": {"type": "fake", "blink_s": 1.2, "gap_ms": 0,
                                   "boards": [WINDOW_3]}}, transports={"b": fake})
    wait_for(lambda: fake.sent(), what="the first frame")
    call(recorder, "A-007", 3, [])
    text, blank = b"\x01\x03A-007\x07", b"\x01\x03\x07"
    wait_for(lambda: frames_of(fake, 3).count(text) >= 2 and
             svc.writers["b"].boards[3].blink_until is None, what="the blink to end")
    shown = frames_of(fake, 3)
    first = shown.index(text)
    assert blank in shown[first:], "the text went dark at least once"
    assert shown[-1] == text, "after blinking the number stays on"


def test_recall_blinks_alpha_sign_with_flash_mode(recorder, service):
    fake = FakeTransport()
    service(recorder, {"a": {"type": "fake", "codec": "alpha", "blink_s": 0.3, "gap_ms": 0,
                             "boards": [{"address": 1, "kind": "window", "window": 3}]}},
            transports={"a": fake})
    calls: list[tuple[str, int]] = [("A-007", 3)]
    call(recorder, "A-007", 3, calls[1:], etype="ticket.recalled")
    wait_for(lambda: any(b"\x1b0bA-007" in f for f in fake.sent()), what="the steady frame")
    modes = [f[f.index(b"\x1b0") + 2:f.index(b"\x1b0") + 3] for f in fake.sent() if b"A-007" in f]
    assert modes[0] == b"c" and modes[-1] == b"b", "flash first, then hold"


def test_serial_bus_over_pty_golden_frames(recorder, service, pty_pair):
    service(recorder, {"rs485": {"type": "serial", "port": str(pty_pair.link), "gap_ms": 5,
                                 "blink_s": 0, "boards": [{"address": 7, "kind": "window",
                                                           "window": 4, "charset": "cyrillic",
                                                           "idle_text": "Бос"}]}})
    assert pty_pair.read(6) == b"\x01\x07\xc1\xee\xf1\x07"       # "Бос" in CP1251
    call(recorder, "C-015", 4, [])
    assert pty_pair.read(8) == b"\x01\x07C-015\x07"


def test_board_bus_reconnects_after_unplug(recorder, service, pty_pair):
    svc = service(recorder, {"rs485": {"type": "serial", "port": str(pty_pair.link), "gap_ms": 0,
                                       "blink_s": 0, "reconnect_s": 0.05,
                                       "boards": [{"address": 2, "kind": "window", "window": 3}]}})
    assert pty_pair.read(3) == b"\x01\x02\x07"
    pty_pair.unplug()
    calls: list[tuple[str, int]] = []
    call(recorder, "A-001", 3, calls)      # written into the void: the bus is lost
    wait_for(lambda: svc.writers["rs485"].up is False, what="the lost bus")
    pty_pair.replug()
    # Back: every board is refreshed with what it should show now.
    assert pty_pair.read(8, timeout=5) == b"\x01\x02A-001\x07"
    wait_for(lambda: [s.ok for s in recorder.of_type(DeviceStatus)] == [True, False, True],
             what="the bus alarm raised and cleared")
    assert recorder.of_type(DeviceStatus)[1].device == "boards:rs485"


def test_a_lost_board_never_stops_calls(recorder, service):
    dead, alive = FakeTransport(), FakeTransport()
    dead.unplugged = True
    service(recorder, {"dead": {"type": "fake", "blink_s": 0, "boards": [WINDOW_3]},
                       "alive": {"type": "fake", "blink_s": 0, "boards": [WINDOW_3]}},
            transports={"dead": dead, "alive": alive})
    for n in range(1, 30):
        call(recorder, f"A-{n:03d}", 3, [])          # the listener returns at once each time
    wait_for(lambda: alive.sent() and alive.sent()[-1] == b"\x01\x03A-029\x07",
             what="the working bus to show the last call")
    assert dead.sent() == []


def test_missing_serial_port_is_a_clear_alarm_not_a_stop(recorder, tmp_path):
    """Risk: an LED board's adapter unplugged at boot stopped the whole service (boards
    never stop ticketing): it is an alarm naming the port and the ports present."""
    cfg = BoardsConfig.model_validate({"buses": {"hall": {
        "type": "serial", "port": str(tmp_path / "ttyGONE"),
        "boards": [{"address": 1, "kind": "hall"}]}}})
    svc = BoardsService(cfg, recorder)
    svc.start()
    try:
        down = [cmd for cmd in recorder.commands
                if getattr(cmd, "device", None) == "boards:hall" and not cmd.ok]
        assert down and "ttyGONE (boards.buses.hall.port): not found" in down[0].detail
        assert "ports present now" in down[0].detail
    finally:
        svc.stop(2.0)


def test_optional_missing_port_keeps_retrying(recorder, service, tmp_path):
    svc = service(recorder, {"hall": {"type": "serial", "port": str(tmp_path / "ttyLATER"),
                                      "required": False, "reconnect_s": 0.05,
                                      "boards": [{"address": 1, "kind": "hall"}]}})
    wait_for(lambda: svc.writers["hall"].up is False, what="the missing port to be reported")
    assert "cannot open" in svc.health()["buses"]["hall"]["error"]
    assert svc.health()["ok"] is False
