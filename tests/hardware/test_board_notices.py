"""A board over the kiosk (`notices = true`) shows a visitor's refusal for a while, in
Kazakh and Russian, then the queue again; boards without it never do."""

from __future__ import annotations

from typing import Any

import pytest

from edge.config.boards import BoardsConfig
from edge.drivers.boards.bus import FakeTransport
from edge.drivers.boards.service import BoardsService
from edge.kiosk.notices import Notices

from .conftest import wait_for

KIOSK_2ROWS = {"address": 5, "kind": "hall", "rows": 2, "width": 16, "charset": "kazakh",
               "notices": True, "idle_text": "KEZEK"}
KIOSK_1ROW = {"address": 6, "kind": "hall", "rows": 1, "width": 16, "charset": "cyrillic",
              "notices": True, "idle_text": "KEZEK"}
WINDOW_3 = {"address": 3, "kind": "window", "window": 3, "idle_text": "---"}


def frame(address: int, text: bytes) -> bytes:
    return bytes([0x01, address]) + text + bytes([0x07])


@pytest.fixture
def rig(recorder, demo_config, clock, fake_time):
    fake = FakeTransport()
    bus = Notices(recorder, demo_config, clock, now=fake_time)
    svc = BoardsService(BoardsConfig.model_validate({"buses": {"kiosk": {
        "type": "fake", "blink_s": 0, "gap_ms": 0, "boards": [KIOSK_2ROWS, KIOSK_1ROW, WINDOW_3]}}}),
        recorder, transports={"kiosk": fake}, now=fake_time, notices=bus)
    svc.start()
    wait_for(lambda: frame(3, b"---") in fake.sent(), what="the boards at start")
    yield fake, bus
    svc.stop(2.0)


def test_a_two_row_board_shows_both_languages_then_the_queue_again(rig, fake_time):
    fake, bus = rig
    bus.publish("refused", "paper_out", printer="kiosk", source="gpio:17", show_s=10)
    kk, ru = "ҚАҒАЗ БІТТІ".encode("kz1048"), "НЕТ БУМАГИ".encode("kz1048")
    wait_for(lambda: frame(5, kk.ljust(16) + ru.ljust(16)) in fake.sent(),
             what="Kazakh over Russian on the two-row board")
    fake_time.advance(11)
    wait_for(lambda: [f for f in fake.sent() if f[1] == 5][-1] == frame(5, b"KEZEK".ljust(16)
                                                                           + b"".ljust(16)),
             what="the queue's rows once the notice is over")


def test_a_one_row_board_shows_the_languages_in_turn(rig, fake_time):
    fake, bus = rig
    bus.publish("refused", "closed", {"opens": "24.11 09:00"}, printer="kiosk", source="kiosk",
                show_s=10)
    # A CP1251 board: Kazakh letters fall back to Russian look-alikes (Қ -> К).
    wait_for(lambda: frame(6, "ОРТАЛЫК ЖАБЫК".encode("cp1251")) in fake.sent(),
             what="the Kazakh line")
    fake_time.advance(2.1)
    wait_for(lambda: frame(6, "ЦЕНТР ЗАКРЫТ".encode("cp1251")) in fake.sent(),
             what="the Russian line after it")
    fake_time.advance(10)
    wait_for(lambda: [f for f in fake.sent() if f[1] == 6][-1] == frame(6, b"KEZEK"),
             what="the idle text again")


def test_boards_without_notices_never_show_them(rig, fake_time):
    fake, bus = rig
    bus.publish("refused", "paper_out", printer="kiosk", source="gpio:17", show_s=10)
    wait_for(lambda: any(f[1] == 5 and "БУМАГИ".encode("kz1048") in f for f in fake.sent()),
             what="the notice board")
    assert all("БУМАГИ".encode("cp1251") not in f for f in fake.sent() if f[1] == 3)


def test_a_masked_iin_entry_shows_and_ends(rig, fake_time):
    fake, bus = rig
    bus.publish("entry", "iin_entry", {"mask": "*****-------"}, printer="kiosk",
                source="numpad:ttyUSB1", show_s=20)
    wait_for(lambda: frame(5, "ЖСН *****-------".encode("kz1048")[:16]
                           + "ИИН *****-------".encode("kz1048")[:16]) in fake.sent(),
             what="the masked entry")
    bus.publish("entry", "iin_entry", {"mask": "-" * 12}, printer="kiosk",
                source="numpad:ttyUSB1", show_s=0)      # entry done: the queue again
    wait_for(lambda: [f for f in fake.sent() if f[1] == 5][-1][2:7] == b"KEZEK",
             what="the board back to the queue")
