"""Keypads and the kiosk scanner over pty pairs: parsing, replies, refusals, unplug and replug."""

from __future__ import annotations

from typing import Any

import pytest

from edge.config.serial_inputs import KeypadConfig, ScannerConfig
from edge.drivers.serial_inputs.component import KeypadInput, ScannerInput
from edge.drivers.serial_inputs.keypad import FrameReader, parse_line
from edge.errors import CommandError, DeviceError
from edge.queue.commands import (CallNext, CheckIn, DeviceStatus, NoShow, Rate, Recall, StartService,
                                 Transfer)

from .conftest import wait_for


@pytest.fixture
def started():
    comps: list[Any] = []

    def _start(comp: Any) -> Any:
        comp.start()
        comps.append(comp)
        # pyserial flushes the input buffer on open: send only once the port is open.
        wait_for(lambda: comp.link.up, what="the port to open")
        return comp
    yield _start
    for comp in comps:
        comp.stop(2.0)


def keypad(port: str, **extra: Any) -> KeypadConfig:
    return KeypadConfig.model_validate({"type": "keypad", "port": port, "reconnect_s": 0.05,
                                        **extra})


@pytest.mark.parametrize("line, window, expected", [
    ("3 next", None, CallNext(window=3, source="k")),
    ("3 RECALL", None, Recall(window=3, source="k")),
    ("noshow", 7, NoShow(window=7, source="k")),
    ("12 start", 7, StartService(window=12, source="k")),
    ("rate 4", 2, Rate(window=2, score=4, source="k")),
    ("5 transfer cars", None, Transfer(window=5, service="cars", source="k")),
])
def test_line_protocol_table(line, window, expected):
    assert parse_line(line, window=window, source="k").command == expected


@pytest.mark.parametrize("line, error", [
    ("next", "no window"),
    ("3 dance", "unknown action 'dance'"),
    ("3 rate 9", "rate needs a score 1..5"),
    ("3 transfer", "transfer needs a service id"),
    ("² next", "bad window number '²'"),          # isdigit() but not a number int() takes
    ("①", "bad window number '①'"),
])
def test_line_protocol_errors(line, error):
    parsed = parse_line(line, window=None, source="k")
    assert parsed.command is None and error in parsed.error


def test_frame_reader_resyncs_after_garbage():
    reader = FrameReader()
    assert reader.feed(b"\x55\x01\x02") == []
    assert reader.feed(b"\x31\x07\x01\x01\x32\x07\xff") == [(2, 0x31), (1, 0x32)]
    assert reader.garbage == 1


def test_line_keypad_over_pty_answers_each_command(recorder, pty_pair, started):
    recorder.refuse[Recall] = CommandError("nothing_called", "window 3 has nobody to recall")
    started(KeypadInput(keypad(str(pty_pair.link)), "gpio.serial_inputs.0", recorder))
    pty_pair.send(b"3 next\r\n")
    assert pty_pair.read_until(b"\r\n") == b"OK ok\r\n"
    pty_pair.send(b"3 recall\n")
    assert pty_pair.read_until(b"\r\n") == b"ERR nothing_called window 3 has nobody to recall\r\n"
    pty_pair.send(b"3 fly\n")
    assert pty_pair.read_until(b"\r\n").startswith(b"ERR bad_input unknown action 'fly'")
    assert recorder.of_type(CallNext) == [CallNext(window=3, source="keypad:ttyTEST")]


def test_a_bad_line_is_answered_and_the_next_line_in_the_same_read_still_works(
        recorder, pty_pair, started):
    started(KeypadInput(keypad(str(pty_pair.link)), "gpio.serial_inputs.0", recorder))
    pty_pair.send("²\r3 next\r".encode())         # one read: a bad line, then a good one
    assert pty_pair.read_until(b"\r\n").startswith("ERR bad_input bad window number '²'".encode())
    assert pty_pair.read_until(b"\r\n") == b"OK ok\r\n"
    assert recorder.of_type(CallNext) == [CallNext(window=3, source="keypad:ttyTEST")]


def test_frame_keypad_over_pty(recorder, pty_pair, started):
    cfg = keypad(str(pty_pair.link), protocol="frames", addresses={1: 4, 7: 9})
    started(KeypadInput(cfg, "gpio.serial_inputs.0", recorder))
    recorder.refuse[CallNext] = CommandError("queue_empty", "nobody is waiting")
    pty_pair.send(bytes([0x01, 0x07, 0x35, 0x07]))     # unit 7, key '5' = no-show
    assert pty_pair.read(4) == bytes([0x01, 0x07, ord("O"), 0x07])
    pty_pair.send(bytes([0x01, 0x01, 0x31, 0x07]))     # unit 1, key '1' = call next: refused
    assert pty_pair.read(4) == bytes([0x01, 0x01, ord("E"), 0x07])
    assert [c for c in recorder.commands if not isinstance(c, DeviceStatus)] == [NoShow(window=9, source="keypad:ttyTEST@7"),
                                     CallNext(window=4, source="keypad:ttyTEST@1")]


def test_scanner_sends_a_booking_check_in(recorder, pty_pair, started):
    cfg = ScannerConfig.model_validate({"type": "scanner", "port": str(pty_pair.link),
                                        "printer": "kiosk"})
    scanner = started(ScannerInput(cfg, "gpio.serial_inputs.0", recorder))
    pty_pair.send(b"BK-7F3A9Q\r")
    wait_for(lambda: any(isinstance(c, CheckIn) for c in recorder.commands),
             what="the scan to become a check-in")
    checkins = [c for c in recorder.commands if isinstance(c, CheckIn)]
    assert len(checkins) == 1
    assert checkins[0].code == "BK-7F3A9Q" and checkins[0].printer == "kiosk"


def test_scanner_never_logs_the_code(recorder, pty_pair, started, caplog):
    cfg = ScannerConfig.model_validate({"type": "scanner", "port": str(pty_pair.link)})
    scanner = started(ScannerInput(cfg, "gpio.serial_inputs.0", recorder))
    caplog.set_level("DEBUG")
    pty_pair.send(b"900101300123\r")        # an IIN on an ID card's barcode
    wait_for(lambda: scanner.accepted + scanner.refused == 1, what="the scan")
    assert "900101300123" not in caplog.text
    assert "12 characters" in caplog.text


def test_scanner_takes_codes_up_to_max_length_whole_and_refuses_longer_ones(
        recorder, pty_pair, started):
    """Risk: a code longer than 80 characters (max_length may be up to 512) is dropped, or
    cut short and sent as a wrong code."""
    cfg = ScannerConfig.model_validate({"type": "scanner", "port": str(pty_pair.link),
                                        "max_length": 200})
    scanner = started(ScannerInput(cfg, "gpio.serial_inputs.0", recorder))
    code = "BK-" + "0123456789ABCDEFGHIJ" * 5            # 103 characters
    pty_pair.send(code.encode() + b"\r")
    wait_for(lambda: recorder.of_type(CheckIn), what="the long scan")
    pty_pair.send(("X" * 250).encode())                  # too long, no line end: a pause ends it
    wait_for(lambda: scanner.ignored == 1, what="the over-long scan to be refused")
    pty_pair.send(code.replace("BK", "BQ").encode())     # no line end either: whole
    wait_for(lambda: len(recorder.of_type(CheckIn)) == 2, what="the scan without a suffix")
    assert [c.code for c in recorder.of_type(CheckIn)] == [code, code.replace("BK", "BQ")]


def test_missing_port_is_a_clear_error_at_start(recorder, tmp_path):
    cfg = keypad(str(tmp_path / "ttyNOPE"))
    comp = KeypadInput(cfg, "gpio.serial_inputs.2", recorder)
    with pytest.raises(DeviceError) as e:
        comp.start()
    assert "ttyNOPE (gpio.serial_inputs.2.port): not found" in str(e.value)
    assert "plug the adapter in or fix the path" in str(e.value)


def test_keypad_reconnects_after_unplug(recorder, pty_pair, started):
    comp = started(KeypadInput(keypad(str(pty_pair.link)), "gpio.serial_inputs.0", recorder))
    pty_pair.send(b"3 next\n")
    pty_pair.read_until(b"\r\n")
    pty_pair.unplug()
    wait_for(lambda: comp.link.up is False, what="the unplug to be seen")
    statuses = recorder.of_type(DeviceStatus)
    assert [s.ok for s in statuses] == [True, False]
    assert statuses[1].device == "keypad:ttyTEST"
    pty_pair.replug()
    wait_for(lambda: comp.link.up, what="the port to reopen")
    pty_pair.send(b"4 next\n")
    assert pty_pair.read_until(b"\r\n") == b"OK ok\r\n"
    assert recorder.of_type(CallNext)[-1] == CallNext(window=4, source="keypad:ttyTEST")
    assert [s.ok for s in recorder.of_type(DeviceStatus)] == [True, False, True]


def test_a_repeated_keypad_press_calls_one_visitor_not_two(recorder, pty_pair, started, fake_time):
    """A bouncing key, or a unit that sends its frame again because it missed the answer:
    a second call_next at once would mark the visitor just called as served (the engine
    takes "next" as "done") and call the one after."""
    cfg = keypad(str(pty_pair.link), protocol="frames", addresses={1: 4})
    started(KeypadInput(cfg, "gpio.serial_inputs.0", recorder, now=fake_time))
    next_1 = bytes([0x01, 0x01, 0x31, 0x07])
    pty_pair.send(next_1)
    assert pty_pair.read(4) == bytes([0x01, 0x01, ord("O"), 0x07])
    fake_time.advance(0.3)
    pty_pair.send(next_1)                                   # again at once: the same answer
    assert pty_pair.read(4) == bytes([0x01, 0x01, ord("O"), 0x07])
    assert recorder.of_type(CallNext) == [CallNext(window=4, source="keypad:ttyTEST@1")]
    fake_time.advance(1.0)                                  # a real second press
    pty_pair.send(next_1)
    assert pty_pair.read(4) == bytes([0x01, 0x01, ord("O"), 0x07])
    assert len(recorder.of_type(CallNext)) == 2


def test_a_repeated_line_is_answered_like_the_first_and_done_once(recorder, pty_pair, started, fake_time):
    recorder.refuse[Recall] = CommandError("nothing_called", "window 3 has nobody to recall")
    started(KeypadInput(keypad(str(pty_pair.link)), "gpio.serial_inputs.0", recorder, now=fake_time))
    pty_pair.send(b"3 recall\n")
    first = pty_pair.read_until(b"\r\n")
    pty_pair.send(b"3 recall\n")
    assert pty_pair.read_until(b"\r\n") == first
    pty_pair.send(b"3 next\n")                              # another key: acted on at once
    assert pty_pair.read_until(b"\r\n") == b"OK ok\r\n"
    assert len(recorder.of_type(Recall)) == 1 and len(recorder.of_type(CallNext)) == 1


def test_half_a_frame_followed_by_silence_is_dropped_not_glued_to_the_next_frame(
        recorder, pty_pair, started, fake_time):
    """[0x01, 5] then nothing (a unit reset, noise, a collision on the bus): glued to the
    next frame [0x01, 7, '5', 0x07] it reads as unit 5 key 0x01, and unit 7's no-show is lost."""
    cfg = keypad(str(pty_pair.link), protocol="frames", addresses={5: 2, 7: 9})
    comp = started(KeypadInput(cfg, "gpio.serial_inputs.0", recorder, now=fake_time))
    pty_pair.send(bytes([0x01, 0x05]))
    wait_for(lambda: comp._frames.pending(), what="the half frame to arrive")
    fake_time.advance(1.0)
    wait_for(lambda: not comp._frames.pending(), what="the half frame to be dropped")
    pty_pair.send(bytes([0x01, 0x07, 0x35, 0x07]))
    assert pty_pair.read(4) == bytes([0x01, 0x07, ord("O"), 0x07])
    assert [c for c in recorder.commands if not isinstance(c, DeviceStatus)] == [
        NoShow(window=9, source="keypad:ttyTEST@7")]


def test_a_line_cut_by_an_unplug_is_not_glued_to_the_first_line_after_the_replug(
        recorder, pty_pair, started):
    comp = started(KeypadInput(keypad(str(pty_pair.link)), "gpio.serial_inputs.0", recorder))
    pty_pair.send(b"3 ne")
    wait_for(lambda: comp._lines.pending(), what="the half line to arrive")
    pty_pair.unplug()
    wait_for(lambda: comp.link.up is False, what="the unplug to be seen")
    pty_pair.replug()
    wait_for(lambda: comp.link.up, what="the port to reopen")
    pty_pair.send(b"4 next\n")
    assert pty_pair.read_until(b"\r\n") == b"OK ok\r\n"
    assert recorder.of_type(CallNext) == [CallNext(window=4, source="keypad:ttyTEST")]


def test_two_tickets_returned_or_called_by_number_within_a_second_are_both_done(
        harness, pty_pair, started, fake_time):
    """Risk: a repeat is recognised by action and window only. `return` names no window,
    so "2 return A-003" sent right after "1 return A-001" (two operators on one keypad
    line) was taken for a bounce: answered with A-001's OK, and A-003 stayed a no-show;
    the same for a second ticket at one window, and for "1 call A-001" after "1 call
    A-004" (answered "CALL A-004" although A-001 was not called)."""
    from edge.queue import commands as c
    from edge.queue.model import TicketState

    for _ in range(4):
        harness.call(c.IssueTicket("docs"))
    for _ in range(3):
        harness.call(c.CallNext(1))
        harness.call(c.NoShow(1))                   # missed at window 1
    started(KeypadInput(keypad(str(pty_pair.link)), "gpio.serial_inputs.0", harness.controller,
                        now=fake_time))
    for line, answer in ((b"1 return A-001", b"OK RETURNED A-001 to docs ahead=1"),
                         (b"1 return A-002", b"OK RETURNED A-002 to docs ahead=2"),
                         (b"2 return A-003", b"OK RETURNED A-003 to docs ahead=3"),
                         (b"2 return A-003", b"OK RETURNED A-003 to docs ahead=3"),  # a repeat
                         (b"1 call A-004", b"OK CALL A-004 -> 1")):
        pty_pair.send(line + b"\n")
        assert pty_pair.read_until(b"\r\n") == answer + b"\r\n"
    pty_pair.send(b"1 call A-001\n")                # its own answer: not yet by number
    assert pty_pair.read_until(b"\r\n").startswith(b"ERR return_too_soon A-001 came back")
    tickets = harness.engine.state.tickets
    assert [tickets[i].state for i in (1, 2, 3)] == [TicketState.WAITING] * 3
    assert [e.type for e in harness.store.outbox()].count("ticket.returned") == 3
