"""The kiosk's numeric keypad (IIN entry) and the scanner's IIN switch, as tables and over
pty pairs; and operator keypads' bounce patterns as tables of frames and pauses."""

from __future__ import annotations

from typing import Any

import pytest

from edge.config.serial_inputs import KeypadConfig, NumpadConfig, ScannerConfig
from edge.drivers.serial_inputs.component import KeypadInput, NumpadInput, ScannerInput
from edge.drivers.serial_inputs.numpad import IinEntry
from edge.errors import CommandError
from edge.kiosk.notices import Notices
from edge.queue.commands import CallNext, CheckIn, CheckInIin, DeviceStatus, Recall
from tests.iin import make_iin, wrong_check_digit

from .conftest import wait_for

IIN = make_iin("85040550012")
ESC, BS = b"\x1b", b"\x08"


@pytest.fixture
def started():
    comps: list[Any] = []

    def _start(comp: Any) -> Any:
        comp.start()
        comps.append(comp)
        wait_for(lambda: comp.link.up, what="the port to open")
        return comp
    yield _start
    for comp in comps:
        comp.stop(2.0)


@pytest.fixture
def notices(recorder, demo_config, clock):
    bus = Notices(recorder, demo_config, clock)
    seen: list[Any] = []
    bus.subscribe(seen.append)
    bus.seen = seen                    # type: ignore[attr-defined]
    return bus


def keys(entry: IinEntry, clock: Any, script: list[tuple[bytes, float]]) -> list[tuple[str, int]]:
    """Feed (bytes, seconds after) rows; the steps as (kind, digits in the entry)."""
    out = []
    for data, after in script:
        for byte in data:
            step = entry.key(byte)
            if step is not None:
                out.append((step.kind, step.count))
        clock.advance(after)
    return out


ENTRY_TABLE = [
    ("a valid IIN", [(IIN.encode(), 0)], "submit"),
    ("a wrong check digit", [(wrong_check_digit(IIN).encode(), 0)], "bad_iin"),
    ("a typo erased and corrected", [(b"857" + BS + IIN[2:].encode(), 0)], "submit"),
    ("a typo erased with '*'", [(b"859*" + IIN[2:].encode(), 0)], "submit"),
    ("cleared and typed again", [(b"12345" + ESC + IIN.encode(), 0)], "submit"),
    ("enter after 7 digits", [(IIN[:7].encode() + b"#", 0)], "iin_short"),
    # The next visitor never finishes a number left half-typed.
    ("half an IIN left, then a whole one", [(b"999999", 25.0), (IIN.encode(), 0)], "submit"),
    ("half an IIN left, then the rest of it", [(IIN[:6].encode(), 25.0),
                                               (IIN[6:].encode() + b"#", 0)], "iin_short"),
    ("slow typing is not idle", [(bytes([b]), 5.0) for b in IIN.encode()], "submit"),
    ("the whole IIN and CR LF in one burst", [(IIN.encode() + b"\r\n", 0)], "submit"),
]


@pytest.mark.parametrize("name, script, last", ENTRY_TABLE, ids=[r[0] for r in ENTRY_TABLE])
def test_iin_entry_table(fake_time, name, script, last):
    entry = IinEntry(idle_s=20.0, now=fake_time)
    steps = keys(entry, fake_time, script)
    finals = [k for k, _ in steps if k in ("submit", "bad_iin", "iin_short")]
    assert finals == [last], steps
    assert entry.count == 0


def test_the_entry_never_shows_its_digits(fake_time):
    entry = IinEntry(idle_s=20.0, now=fake_time)
    for b in IIN.encode()[:11]:
        step = entry.key(b)
    assert step is not None and step.mask == "*" * 11 + "-"
    assert IIN[:6] not in repr(entry) and IIN[:6] not in repr(step)
    last = entry.key(IIN.encode()[11])
    assert last is not None and last.iin == IIN and IIN not in repr(last)


def numpad(port: str, **extra: Any) -> NumpadConfig:
    return NumpadConfig.model_validate({"type": "numpad", "port": port, "printer": "kiosk",
                                        "reconnect_s": 0.05, **extra})


def test_numpad_over_pty_checks_in_with_a_valid_iin_and_echoes_it_masked(
        recorder, pty_pair, started, notices, caplog):
    caplog.set_level("DEBUG")
    started(NumpadInput(numpad(str(pty_pair.link)), "gpio.serial_inputs.0", recorder,
                        notices=notices))
    pty_pair.send(IIN[:3].encode())
    for n in range(1, 4):
        assert pty_pair.read_until(b"\r\n") == ("*" * n + "-" * (12 - n)).encode() + b"\r\n"
    pty_pair.send(IIN[3:].encode())
    echoed = b"".join(pty_pair.read_until(b"\r\n") for _ in range(9))   # 8 masks + the 12th
    assert echoed.endswith(b"************\r\n")
    assert pty_pair.read_until(b"\r\n") == b"OK \r\n"      # the recorder's reply has no ticket
    [cmd] = recorder.of_type(CheckInIin)
    assert (cmd.printer, cmd.source) == ("kiosk", "numpad:ttyTEST")
    assert cmd.iin == IIN and IIN not in repr(cmd)
    assert IIN.encode() not in echoed and IIN not in caplog.text
    # The board line over the kiosk got the masked entry, never the digits.
    entries = [n for n in notices.seen if n.kind == "entry"]
    assert entries and all(IIN[:4] not in str(n.short) for n in entries)


def test_numpad_refuses_a_wrong_check_digit_before_any_command(recorder, pty_pair, started,
                                                               notices):
    beeps: list[int] = []
    pad = started(NumpadInput(numpad(str(pty_pair.link)), "gpio.serial_inputs.0", recorder,
                              notices=notices, beep=lambda: beeps.append(1)))
    pty_pair.send(wrong_check_digit(IIN).encode())
    got = b""
    while not got.endswith(b"ERR bad_iin\r\n"):
        got += pty_pair.read_until(b"\r\n")
    assert [c for c in recorder.commands if not isinstance(c, DeviceStatus)] == []
    assert pad.refused == 1 and beeps == [1]
    [refusal] = [n for n in notices.seen if n.kind == "refused"]
    assert refusal.code == "bad_iin"
    assert "ЖСН қате" in refusal.texts["kk"] and "Неверный ИИН" in refusal.texts["ru"]


def test_numpad_shows_the_engines_refusal_on_the_screens(recorder, pty_pair, started, notices):
    from edge.queue.policies import Refusal
    recorder.refuse[CheckInIin] = Refusal("other_center", "booking AB-1 is for center X")
    started(NumpadInput(numpad(str(pty_pair.link)), "gpio.serial_inputs.0", recorder,
                        notices=notices))
    pty_pair.send(IIN.encode())
    got = b""
    while not got.endswith(b"ERR other_center\r\n"):
        got += pty_pair.read_until(b"\r\n")
    [refusal] = [n for n in notices.seen if n.kind == "refused"]
    assert refusal.code == "other_center"
    assert "басқа орталыққа" in refusal.texts["kk"] and "в другой центр" in refusal.texts["ru"]


def test_numpad_erases_a_half_typed_iin_left_alone(recorder, pty_pair, started, fake_time):
    started(NumpadInput(numpad(str(pty_pair.link), idle_s=5), "gpio.serial_inputs.0", recorder,
                        now=fake_time))
    pty_pair.send(b"12345")
    for _ in range(5):
        pty_pair.read_until(b"\r\n")
    fake_time.advance(6)                      # the link's idle poll erases it
    assert pty_pair.read_until(b"\r\n") == b"------------\r\n"
    pty_pair.send(IIN.encode())
    wait_for(lambda: recorder.of_type(CheckInIin), what="the check-in")
    assert recorder.of_type(CheckInIin)[0].iin == IIN


@pytest.mark.parametrize("switch, scanned, expected", [
    (True, IIN, CheckInIin),                       # an ID card's barcode
    (False, IIN, CheckIn),                         # off: a booking code, as before
    (True, wrong_check_digit(IIN), CheckIn),       # 12 digits, not an IIN: a code
    (True, "BK-7F3A9Q", CheckIn),
    (True, IIN + "0", CheckIn),                    # 13 digits: not an IIN
])
def test_scanner_takes_a_12_digit_scan_as_an_iin_when_switched_on(
        recorder, pty_pair, started, caplog, switch, scanned, expected):
    caplog.set_level("DEBUG")
    cfg = ScannerConfig.model_validate({"type": "scanner", "port": str(pty_pair.link),
                                        "printer": "kiosk", "iin": switch})
    started(ScannerInput(cfg, "gpio.serial_inputs.0", recorder))
    pty_pair.send(scanned.encode() + b"\r")
    wait_for(lambda: recorder.of_type(CheckIn) or recorder.of_type(CheckInIin), what="the scan")
    [cmd] = recorder.of_type(CheckIn) + recorder.of_type(CheckInIin)
    assert type(cmd) is expected and cmd.printer == "kiosk"
    assert scanned not in caplog.text


def test_a_refused_scan_is_shown_on_the_screens(recorder, pty_pair, started, notices):
    from edge.queue.policies import Refusal
    recorder.refuse[CheckIn] = Refusal("too_early", "booking BK-1 is at 11:00",
                                       slot="11:00", from_time="10:30")
    cfg = ScannerConfig.model_validate({"type": "scanner", "port": str(pty_pair.link),
                                        "printer": "kiosk"})
    started(ScannerInput(cfg, "gpio.serial_inputs.0", recorder, notices=notices))
    pty_pair.send(b"BK-1\r")
    wait_for(lambda: notices.seen, what="the notice")
    [n] = notices.seen
    assert (n.kind, n.code, n.printer) == ("refused", "too_early", "kiosk")
    assert "10:30" in n.texts["kk"] and "10:30" in n.texts["ru"]
    assert n.short["ru"] == "РЕГИСТР. С 10:30"


NEXT_1 = bytes([0x01, 0x01, 0x31, 0x07])
RECALL_1 = bytes([0x01, 0x01, 0x32, 0x07])
CALL4, RECALL4 = CallNext(window=4, source="keypad:ttyTEST@1"), Recall(window=4,
                                                                         source="keypad:ttyTEST@1")
KEYPAD_TABLE = [
    # (frame, seconds before the next) -> commands. A key that bounces or a unit that sends
    # its frame again within a second is one press; after a second it is a new one.
    ("one press", [(NEXT_1, 0)], [CALL4]),
    ("a bounce 20 ms later", [(NEXT_1, 0.02), (NEXT_1, 0)], [CALL4]),
    ("three resends in 0.9 s", [(NEXT_1, 0.3), (NEXT_1, 0.3), (NEXT_1, 0.3), (NEXT_1, 0)],
     [CALL4]),
    ("a second press 1.2 s later", [(NEXT_1, 1.2), (NEXT_1, 0)], [CALL4, CALL4]),
    ("next then recall at once", [(NEXT_1, 0.05), (RECALL_1, 0)], [CALL4, RECALL4]),
    ("a frame cut in two by a 10 ms pause", [(NEXT_1[:2], 0.0), (NEXT_1[2:], 0)], [CALL4]),
]


@pytest.mark.parametrize("name, script, expected", KEYPAD_TABLE, ids=[r[0] for r in KEYPAD_TABLE])
def test_keypad_bounce_table_over_pty(recorder, pty_pair, started, fake_time, name, script,
                                      expected):
    cfg = KeypadConfig.model_validate({"type": "keypad", "port": str(pty_pair.link),
                                       "protocol": "frames", "addresses": {1: 4},
                                       "reconnect_s": 0.05})
    started(KeypadInput(cfg, "gpio.serial_inputs.0", recorder, now=fake_time))
    for data, after in script:
        pty_pair.send(data)
        if len(data) == 4 or data == NEXT_1[2:]:
            assert pty_pair.read(4)[2:3] == b"O", "every frame is answered"
        fake_time.advance(after)
    assert [c for c in recorder.commands if not isinstance(c, DeviceStatus)] == expected


def test_numpad_says_system_fault_when_the_controller_cannot_answer(recorder, pty_pair, started, notices):
    """A storage fault (not a policy): the visitor reads 'system fault, ask staff'."""
    recorder.refuse[CheckInIin] = CommandError("stopping", "the controller is shutting down")
    started(NumpadInput(numpad(str(pty_pair.link)), "gpio.serial_inputs.0", recorder,
                        notices=notices))
    pty_pair.send(IIN.encode())
    wait_for(lambda: [n for n in notices.seen if n.kind == "refused"], what="the refusal")
    [n] = [n for n in notices.seen if n.kind == "refused"]
    assert n.code == "stopping"
    assert "сбой системы" in n.texts["ru"] and "ақау" in n.texts["kk"]
