"""Buttons on gpiozero's MockFactory, as tables: press/release timings -> the commands sent.

Rows are (seconds down, seconds up after it) edge by edge; after the last release the
contact stays open and the component acts. Bounce is a gap or a press shorter than the
debounce time (50 ms); a hold is 1.5 s or more down.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from edge.config.hardware import GpioConfig
from edge.drivers.gpio.component import GpioComponent
from edge.errors import CommandError
from edge.kiosk.notices import Notices
from edge.queue.commands import CallNext, DeviceStatus, IssueTicket, Recall
from edge.queue.snapshot import QueueSnapshot

from .conftest import FakeApplied, FakeReply, RecordingController, wait_for

OPERATOR = {"kind": "operator", "pin": 22, "window": 3, "action": "call_next",
            "hold_action": "recall"}
TICKET = {"kind": "ticket", "pin": 17, "service": "docs", "printer": "kiosk"}
CALL, RECALL = CallNext(window=3, source="gpio:22"), Recall(window=3, source="gpio:22")
TICKET_CMD = IssueTicket(service="docs", printer="kiosk", source="gpio:17")
SETTLE_S = 0.06


class TicketingController(RecordingController):
    """Answers every IssueTicket with a numbered ticket, as the engine does."""

    def submit(self, command: Any) -> Any:
        fut = super().submit(command)
        if isinstance(command, IssueTicket) and fut.exception() is None:
            n = len(self.of_type(IssueTicket))
            fut._result = FakeApplied(command, FakeReply(  # type: ignore[attr-defined]
                ticket=SimpleNamespace(label=f"A-{n:03}")), [], self.snapshot)
        return fut


@pytest.fixture
def rig(mock_factory, fake_time, demo_config, clock):
    controller = TicketingController()
    notices = Notices(controller, demo_config, clock)
    seen: list[Any] = []
    notices.subscribe(seen.append)
    made: list[GpioComponent] = []

    def make(*buttons: dict[str, Any], **gpio: Any) -> GpioComponent:
        comp = GpioComponent(GpioConfig.model_validate({"buttons": list(buttons), **gpio}),
                             controller, mock_factory, now=fake_time, tick_s=0.02,
                             notices=notices)
        comp.start()
        made.append(comp)
        return comp

    yield SimpleNamespace(make=make, controller=controller, notices=seen, time=fake_time,
                          factory=mock_factory)
    for comp in made:
        comp.stop(1.0)


def play(rig: Any, comp: GpioComponent, pin: int, timings: list[tuple[float, float]]) -> None:
    for down, up in timings:
        rig.factory.pin(pin).drive_low()
        rig.time.advance(down)
        rig.factory.pin(pin).drive_high()
        rig.time.advance(up)
        comp.tick()          # the worker may tick at any moment: a test tick is one of them
    rig.time.advance(SETTLE_S)
    comp.tick()


OPERATOR_TABLE = [
    # A clean short press, then a clean hold.
    ("short press", [(0.3, 0.0)], [CALL]),
    ("hold", [(2.0, 0.0)], [RECALL]),
    # The risk of the issue: a bounce inside an operator's long press gave two short
    # presses (call next twice, skipping a visitor). It is one hold: a recall.
    ("hold with a 10 ms bounce in the middle", [(0.8, 0.01), (1.2, 0.0)], [RECALL]),
    ("hold with three bounces", [(0.5, 0.004), (0.5, 0.03), (0.7, 0.002), (0.3, 0.0)],
     [RECALL]),
    ("short press whose release bounces", [(0.3, 0.005), (0.004, 0.003), (0.002, 0.0)],
     [CALL]),
    ("bounce blips before a short press", [(0.002, 0.001), (0.003, 0.001), (0.2, 0.0)],
     [CALL]),
    # A gap longer than the debounce is a real release: two presses, each done.
    ("two presses 0.6 s apart", [(0.2, 0.6), (0.2, 0.0)], [CALL, CALL]),
    ("a 100 ms gap is a release, not bounce", [(0.8, 0.1), (1.2, 0.0)], [CALL, CALL]),
    # A second press inside min_interval_s (0.5 s) of an operator button: one action.
    ("double tap", [(0.1, 0.1), (0.1, 0.0)], [CALL]),
]


@pytest.mark.parametrize("name, timings, expected", OPERATOR_TABLE,
                         ids=[row[0] for row in OPERATOR_TABLE])
def test_operator_button_timings(rig, name, timings, expected):
    comp = rig.make(OPERATOR)
    play(rig, comp, 22, timings)
    assert rig.controller.commands == expected
    assert rig.controller.of_type(DeviceStatus) == [], "no alarm for any of these"
    assert rig.notices == [], "an operator's button says nothing to visitors"


TICKET_TABLE = [
    # The issue's visitor: nine presses in five seconds. One ticket, no lockout.
    ("nine presses in five seconds", [(0.15, 0.4)] * 9, 1, 8),
    ("a double press", [(0.2, 0.3), (0.2, 0.0)], 1, 1),
    ("presses 6 s apart are two visitors", [(0.2, 6.0), (0.2, 0.0)], 2, 0),
    ("the same visitor for 4.5 s, the next one 6 s later",
     [(0.2, 0.3)] * 8 + [(0.2, 6.0), (0.2, 0.0)], 2, 8),
    # The window is fixed from the ticket (it never grows with the presses, so it can never
    # keep the next visitor waiting): still pressing 5 s later is a second ticket.
    ("still pressing after 5 s", [(0.2, 0.8)] * 7, 2, 5),
]


@pytest.mark.parametrize("name, timings, tickets, repeats", TICKET_TABLE,
                         ids=[row[0] for row in TICKET_TABLE])
def test_ticket_button_timings(rig, name, timings, tickets, repeats):
    comp = rig.make(TICKET, buzzers={"kiosk": {"pin": 12}})
    play(rig, comp, 17, timings)
    assert rig.controller.commands == [TICKET_CMD] * tickets
    health = comp.health()["buttons"][0]
    assert (health["state"], health["repeats"], health["lockouts"]) == ("up", repeats, 0)
    assert rig.controller.of_type(DeviceStatus) == []
    # Each extra press is answered on the screens: "your ticket ... is printing".
    answers = [n for n in rig.notices if n.code == "ticket_printing"]
    assert len(answers) == repeats
    assert all(n.kind == "info" and n.printer == "kiosk" for n in answers)
    if answers:
        assert "A-001" in answers[0].texts["ru"] and "A-001" in answers[0].texts["kk"]


def test_an_impatient_visitor_does_not_silence_the_kiosk_for_the_next_one(rig):
    comp = rig.make(TICKET)
    play(rig, comp, 17, [(0.1, 0.45)] * 11)       # 11 presses in 6 s
    rig.time.advance(6)
    play(rig, comp, 17, [(0.2, 0.0)])             # the next visitor
    assert rig.controller.commands == [TICKET_CMD] * 3   # at 0 s, at 5.5 s, and the next one
    assert comp.health()["buttons"][0]["lockouts"] == 0


def test_a_flapping_ticket_button_is_still_locked_out_with_an_alarm(rig):
    comp = rig.make(TICKET)
    play(rig, comp, 17, [(0.004, 0.004)] * 120)   # a broken contact, not a hand
    assert rig.controller.of_type(IssueTicket) == []
    [alarm] = rig.controller.of_type(DeviceStatus)
    assert alarm.device == "button:gpio17" and not alarm.ok
    assert comp.health()["buttons"][0]["state"] == "locked"


def test_a_stuck_ticket_button_still_raises_its_alarm(rig):
    comp = rig.make(TICKET)
    rig.factory.pin(17).drive_low()
    rig.time.advance(31)
    wait_for(lambda: rig.controller.of_type(DeviceStatus), what="the stuck alarm")
    assert "stuck down" in rig.controller.of_type(DeviceStatus)[0].detail
    assert comp.health()["buttons"][0]["state"] == "stuck"


def test_a_refused_ticket_is_shown_to_the_visitor_and_repeated_presses_get_the_same_answer(rig):
    rig.controller.refuse[IssueTicket] = CommandError("printer_down", "printer kiosk cannot print")
    rig.controller.snapshot = QueueSnapshot(day="2026-11-23", devices={
        "printer:kiosk": {"ok": False, "detail": "out of paper: load a new roll"}})
    comp = rig.make(TICKET, buzzers={"kiosk": {"pin": 12}})
    play(rig, comp, 17, [(0.2, 0.5), (0.2, 0.5), (0.2, 0.0)])
    assert rig.controller.commands == [TICKET_CMD]
    assert [(n.kind, n.code) for n in rig.notices] == [("refused", "paper_out")] * 3
    assert "Қызметкерге хабарласыңыз" in rig.notices[0].texts["kk"]
    assert "Обратитесь к сотруднику" in rig.notices[0].texts["ru"]
    wait_for(lambda: any(s.state for s in rig.factory.pin(12).states), what="the buzzer")


def test_without_debounce_a_release_acts_at_once(rig):
    """debounce_ms = 0 (a button with its own debounce, the press benchmark): the release
    is sure as it happens; nothing waits for the worker's tick."""
    rig.make({**TICKET, "debounce_ms": 0, "min_interval_s": 0})
    rig.factory.pin(17).drive_low()
    rig.factory.pin(17).drive_high()
    assert rig.controller.commands == [TICKET_CMD]
