"""What a visitor reads for each reason: Kazakh and Russian, with the times that matter."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from edge.config import parse_config
from edge.errors import CommandError, StorageError
from edge.kiosk.notices import Notices
from edge.kiosk.texts import SHORT, sentence
from edge.queue.commands import Reconfigure
from edge.queue.policies import _TEXTS as ENGINE_TEXTS   # every code the engine refuses with
from edge.queue.policies import Refusal
from edge.queue.snapshot import QueueSnapshot
from tests.conftest import demo_config_dict

WEEKDAYS = {d: {"open": "09:00", "close": "18:00"} for d in ("mon", "tue", "wed", "thu", "fri")}


class Stub:
    snapshot = QueueSnapshot(day="2026-11-23")

    def subscribe(self, listener: Any) -> None:
        self.listener = listener


def bus(clock, **policies: Any) -> tuple[Notices, list[Any]]:
    data = demo_config_dict()
    if policies:
        data["policies"] = policies
    notices = Notices(Stub(), parse_config(data, "test"), clock)
    seen: list[Any] = []
    notices.subscribe(seen.append)
    return notices, seen


# Codes, not texts: "booking_only:center" is the text of booking_only with scope center.
@pytest.mark.parametrize("code", sorted({k.split(":")[0] for k in ENGINE_TEXTS}) + ["paper_out", "printer_down",
                                                         "iin_short", "error"])
def test_every_reason_has_a_kazakh_and_a_russian_sentence_and_a_board_line(code):
    params = {"ticket": "A-012", "slot": "10:00", "from_time": "09:30", "day": "24.11",
              "opens": "24.11 09:00"}
    kk, ru = sentence(code, "kk", params), sentence(code, "ru", params)
    assert kk and ru and kk != ru
    assert code in SHORT, f"no board line for {code}"
    if code not in ("error",):
        assert kk != sentence("error", "kk", {}), f"{code} reads as a system fault"


def test_no_more_tickets_today_says_when_the_center_opens_next(clock):
    # Monday 09:00 in the test clock; with weekday hours the next day is Tuesday 24.11.
    notices, seen = bus(clock, hours=WEEKDAYS)
    notices.refusal(Refusal("capacity_full", "no more tickets for docs today", service="docs"),
                    printer="kiosk", source="gpio:17")
    [n] = seen
    assert "24.11 09:00" in n.texts["kk"] and "24.11 09:00" in n.texts["ru"]
    assert "Центр откроется снова 24.11 09:00." in n.texts["ru"]


def test_on_friday_the_next_opening_is_monday(clock):
    notices, seen = bus(clock, hours=WEEKDAYS, closed_dates=["2026-11-30"])
    clock.advance(4 * 86400)        # Friday 27.11; Monday 30.11 is a holiday
    notices.refusal(Refusal("daily_cap", "cap"), printer=None, source="kiosk")
    assert "01.12 09:00" in seen[0].texts["ru"]


def test_closed_too_early_and_another_center_carry_their_details(clock):
    notices, seen = bus(clock)
    notices.refusal(Refusal("closed", "closed", opens="24.11 09:00"), printer="k", source="kiosk")
    notices.refusal(Refusal("too_early", "early", slot="11:00", from_time="10:30"),
                    printer="k", source="kiosk")
    notices.refusal(Refusal("other_center", "other"), printer="k", source="kiosk")
    closed, early, other = seen
    assert "Откроется: 24.11 09:00" in closed.texts["ru"] and "24.11 09:00" in closed.texts["kk"]
    assert "10:30" in early.texts["ru"] and "11:00" in early.texts["kk"]
    assert other.texts["ru"] == "Эта запись в другой центр."
    assert other.short == {"kk": "БАСҚА ОРТАЛЫҚ", "ru": "ДРУГОЙ ЦОН", "en": "OTHER CENTER"}


def test_the_printer_reason_comes_from_the_printers_own_words(clock):
    notices, seen = bus(clock)
    err = CommandError("printer_down", "printer kiosk cannot print")
    Stub.snapshot = QueueSnapshot(day="d", devices={"printer:kiosk": {
        "ok": False, "detail": "out of paper: load a new roll"}})
    try:
        assert notices.reason(err, "kiosk") == ("paper_out", {})
        Stub.snapshot = QueueSnapshot(day="d", devices={"printer:kiosk": {
            "ok": False, "detail": "cover open: close the printer cover"}})
        assert notices.reason(err, "kiosk") == ("printer_down", {})
        assert notices.printer_state("kiosk") == (False, "printer_down")
        assert notices.printer_state(None) == (True, None)
    finally:
        Stub.snapshot = QueueSnapshot(day="2026-11-23")


def test_a_fault_reads_as_a_fault_never_as_the_engines_english(clock):
    notices, seen = bus(clock)
    notices.refusal(StorageError("database is locked"), printer="kiosk", source="kiosk")
    [n] = seen
    assert n.code == "error" and "locked" not in n.texts["ru"]
    assert n.texts["ru"] == "Талон не выдан: сбой системы. Обратитесь к сотруднику."


def test_the_booking_channels_follow_the_applied_config(clock):
    notices, seen = bus(clock)
    data = demo_config_dict()
    data["bookings"] = {"how_to_book": {"kk": "1414 нөміріне қоңырау шалыңыз.",
                                        "ru": "Позвоните по номеру 1414."}}
    new = parse_config(data, "central's cfg")
    # What the controller hands its listeners after the Reconfigure's commit; built
    # without the engine's domain objects, which this listener does not read.
    command = Reconfigure.__new__(Reconfigure)
    object.__setattr__(command, "config", new)
    notices._on_applied(SimpleNamespace(command=command))
    notices.refusal(Refusal("booking_only", "walk-ins refused"), printer=None, source="kiosk")
    assert seen[0].texts["ru"].endswith("Позвоните по номеру 1414.")


def test_one_broken_screen_does_not_keep_the_answer_from_the_others(clock):
    notices, seen = bus(clock)

    def broken(n: Any) -> None:
        raise RuntimeError("a bug in one screen")

    later: list[Any] = []
    notices.subscribe(broken)
    notices.subscribe(later.append)
    notices.publish("refused", "closed", printer=None, source="kiosk")
    assert len(seen) == 1 and len(later) == 1
    assert notices.health()["published"] == {"closed": 1}
