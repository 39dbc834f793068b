"""GPIO buttons on gpiozero's MockFactory: press, hold, bounce, chatter, stuck, feedback."""

from __future__ import annotations

from typing import Any

import pytest

from edge.config.hardware import GpioConfig
from edge.drivers.gpio.component import GpioComponent
from edge.errors import CommandError
from edge.queue.commands import (CallNext, DeviceStatus, Finish, IssueTicket, Rate, Recall,
                                 Transfer)
from edge.queue.model import Category
from edge.queue.snapshot import QueueSnapshot, WindowView

from .conftest import wait_for

TICKET = {"kind": "ticket", "pin": 17, "service": "docs", "category": "pensioner",
          "printer": "kiosk"}
CALL = {"kind": "operator", "pin": 22, "window": 3, "action": "call_next", "hold_action": "recall"}


def make(recorder: Any, factory: Any, clock: Any, **gpio: Any) -> GpioComponent:
    comp = GpioComponent(GpioConfig.model_validate(gpio), recorder, factory, now=clock, tick_s=0.02)
    comp.start()
    return comp


# A release acts once the contact has stayed open for the debounce time (50 ms).
SETTLE_S = 0.06


def press(comp: GpioComponent, factory: Any, clock: Any, pin: int, seconds: float = 0.2) -> None:
    """A button wired to GND with the internal pull-up: pressed = low; then the release
    settles and the component acts (its worker would, a moment later)."""
    factory.pin(pin).drive_low()
    clock.advance(seconds)
    factory.pin(pin).drive_high()
    clock.advance(SETTLE_S)
    comp.tick()


def edges(comp: GpioComponent, factory: Any, clock: Any, pin: int,
          timings: list[tuple[float, float]]) -> None:
    """Raw edges of one pin: (seconds down, seconds up after it) each; then the last
    release settles and the component acts."""
    for down, up in timings:
        factory.pin(pin).drive_low()
        clock.advance(down)
        factory.pin(pin).drive_high()
        clock.advance(up)
    clock.advance(SETTLE_S)
    comp.tick()


@pytest.fixture
def parts(recorder, mock_factory, fake_time):
    made: list[GpioComponent] = []

    def _make(**gpio: Any) -> GpioComponent:
        comp = make(recorder, mock_factory, fake_time, **gpio)
        made.append(comp)
        return comp
    yield _make
    for comp in made:
        comp.stop(1.0)


def test_ticket_button_issues_one_ticket_on_release(parts, recorder, mock_factory, fake_time):
    comp = parts(buttons=[TICKET])
    mock_factory.pin(17).drive_low()
    assert recorder.commands == [], "nothing may happen before the release"
    fake_time.advance(0.2)
    mock_factory.pin(17).drive_high()
    comp.tick()
    assert recorder.commands == [], "a release acts once it has lasted the debounce time"
    fake_time.advance(SETTLE_S)
    comp.tick()
    assert recorder.commands == [IssueTicket(service="docs", category=Category.PENSIONER,
                                             printer="kiosk", source="gpio:17")]


def test_short_press_and_hold_do_different_actions(parts, recorder, mock_factory, fake_time):
    comp = parts(buttons=[CALL])
    press(comp, mock_factory, fake_time, 22, 0.3)
    fake_time.advance(5)
    press(comp, mock_factory, fake_time, 22, 2.0)      # hold_s defaults to 1.5
    assert recorder.commands == [CallNext(window=3, source="gpio:22"),
                                 Recall(window=3, source="gpio:22")]


def test_long_press_without_hold_action_is_a_normal_press(parts, recorder, mock_factory, fake_time):
    comp = parts(buttons=[{"kind": "operator", "pin": 5, "window": 1, "action": "finish"}])
    press(comp, mock_factory, fake_time, 5, 3.0)
    assert recorder.commands == [Finish(window=1, source="gpio:5")]


def test_transfer_on_hold(parts, recorder, mock_factory, fake_time):
    comp = parts(buttons=[{"kind": "operator", "pin": 6, "window": 2, "action": "finish",
                    "hold_action": "transfer", "transfer_service": "cars"}])
    press(comp, mock_factory, fake_time, 6, 1.6)
    assert recorder.commands == [Transfer(window=2, service="cars", source="gpio:6")]


def test_rating_buttons(parts, recorder, mock_factory, fake_time):
    comp = parts(buttons=[{"kind": "rating", "pin": 20 + s, "window": 4, "score": s} for s in range(1, 6)])
    press(comp, mock_factory, fake_time, 25)
    fake_time.advance(2)
    press(comp, mock_factory, fake_time, 21)
    assert recorder.commands == [Rate(window=4, score=5, source="gpio:25"),
                                 Rate(window=4, score=1, source="gpio:21")]


def test_pull_down_button_is_pressed_high(parts, recorder, mock_factory, fake_time):
    comp = parts(buttons=[{**TICKET, "pull": "down"}])
    mock_factory.pin(17).drive_high()
    fake_time.advance(0.2)
    mock_factory.pin(17).drive_low()
    fake_time.advance(SETTLE_S)
    comp.tick()
    assert len(recorder.of_type(IssueTicket)) == 1


def test_contact_bounce_is_ignored(parts, recorder, mock_factory, fake_time):
    """MockPin does not simulate bounce_time, and lgpio's differs: our debounce is by press length."""
    comp = parts(buttons=[TICKET])
    # 3 ms blips 2 ms apart, then the real press: bounce, not presses
    edges(comp, mock_factory, fake_time, 17, [(0.003, 0.002)] * 3 + [(0.2, 0.0)])
    assert len(recorder.of_type(IssueTicket)) == 1


def test_double_press_gives_one_ticket(parts, recorder, mock_factory, fake_time):
    comp = parts(buttons=[TICKET])
    press(comp, mock_factory, fake_time, 17)
    fake_time.advance(0.5)
    press(comp, mock_factory, fake_time, 17)      # inside min_interval_s (5 s for ticket buttons)
    fake_time.advance(6)
    press(comp, mock_factory, fake_time, 17)
    assert len(recorder.of_type(IssueTicket)) == 2
    assert comp.health()["buttons"][0]["repeats"] == 1


def test_chattering_button_is_locked_out_and_raises_an_alarm(parts, recorder, mock_factory, fake_time):
    comp = parts(buttons=[{**CALL, "min_interval_s": 0}])
    for _ in range(30):                     # a flapping contact: 30 presses in 3 s
        press(comp, mock_factory, fake_time, 22, 0.06)
        fake_time.advance(0.04)
    calls = recorder.of_type(CallNext)
    assert len(calls) == 8, "only the presses before the lockout count"
    alarms = recorder.of_type(DeviceStatus)
    assert [(a.device, a.ok) for a in alarms] == [("button:gpio22", False)]
    assert "ignored for 60 s" in alarms[0].detail
    assert comp.health()["buttons"][0]["state"] == "locked"
    fake_time.advance(61)
    wait_for(lambda: len(recorder.of_type(DeviceStatus)) == 2, what="the alarm to clear")
    assert recorder.of_type(DeviceStatus)[1].ok is True
    press(comp, mock_factory, fake_time, 22)
    assert len(recorder.of_type(CallNext)) == 9, "the button works again after the lockout"


def test_bouncing_presses_are_not_chatter(parts, recorder, mock_factory, fake_time):
    """Each real press comes with two 2 ms bounce blips; 3 presses must not lock the button."""
    comp = parts(buttons=[{**CALL, "min_interval_s": 0.5}])
    for _ in range(3):
        edges(comp, mock_factory, fake_time, 22, [(0.002, 0.001), (0.002, 0.001), (0.15, 0.0)])
        fake_time.advance(1.0)
    assert len(recorder.of_type(CallNext)) == 3
    assert recorder.of_type(DeviceStatus) == []
    assert comp.health()["buttons"][0]["state"] != "locked"


def test_a_contact_flapping_faster_than_debounce_is_chatter(parts, recorder, mock_factory, fake_time):
    comp = parts(buttons=[CALL])
    # 100 blips of 5 ms in 1 s: a broken contact
    edges(comp, mock_factory, fake_time, 22, [(0.005, 0.005)] * 100)
    assert recorder.of_type(CallNext) == []
    alarms = recorder.of_type(DeviceStatus)
    assert [(a.device, a.ok) for a in alarms] == [("button:gpio22", False)]
    assert "80 contact blips" in alarms[0].detail
    assert comp.health()["buttons"][0]["state"] == "locked"


def test_stuck_button_does_nothing_and_raises_an_alarm(parts, recorder, mock_factory, fake_time):
    comp = parts(buttons=[TICKET])
    mock_factory.pin(17).drive_low()
    fake_time.advance(31)
    wait_for(lambda: recorder.of_type(DeviceStatus), what="the stuck alarm")
    assert comp.health()["buttons"][0]["state"] == "stuck"
    fake_time.advance(600)
    mock_factory.pin(17).drive_high()        # freed at last: not a ticket
    assert recorder.of_type(IssueTicket) == []
    statuses = recorder.of_type(DeviceStatus)
    assert [(s.device, s.ok) for s in statuses] == [("button:gpio17", False), ("button:gpio17", True)]
    assert "stuck down" in statuses[0].detail


def test_a_button_already_pressed_at_start_raises_the_stuck_alarm(parts, recorder, mock_factory,
                                                                 fake_time):
    """Risk: a button jammed before a restart never raises its alarm (no edge ever comes)."""
    button = {**TICKET, "pull": "off", "active_high": True}   # external pull-down: pressed = high
    mock_factory.pin(17).drive_high()        # held down while the service starts
    comp = parts(buttons=[button])
    fake_time.advance(31)
    wait_for(lambda: recorder.of_type(DeviceStatus), what="the stuck alarm")
    assert comp.health()["buttons"][0]["state"] == "stuck"
    assert "stuck down" in recorder.of_type(DeviceStatus)[0].detail
    mock_factory.pin(17).drive_low()         # freed: not a ticket
    assert recorder.of_type(IssueTicket) == []
    assert [s.ok for s in recorder.of_type(DeviceStatus)] == [False, True]


def test_refusal_beeps_the_buzzer(parts, recorder, mock_factory, fake_time):
    recorder.refuse[CallNext] = CommandError("queue_empty", "nobody is waiting")
    comp = parts(buttons=[CALL], buzzers={"desk": {"pin": 12}})
    press(comp, mock_factory, fake_time, 22)
    buzzer_pin = mock_factory.pin(12)
    wait_for(lambda: any(s.state for s in buzzer_pin.states), what="the buzzer to sound")
    assert comp.health()["refusals"] == 1
    assert comp.health()["buttons"][0]["last"] == "queue_empty"


def test_accepted_press_does_not_beep(parts, recorder, mock_factory, fake_time):
    comp = parts(buttons=[CALL], buzzers={"desk": {"pin": 12}})
    press(comp, mock_factory, fake_time, 22)
    comp.stop(1.0)                           # the worker has handled everything queued
    assert not any(s.state for s in mock_factory.pin(12).states)
    assert recorder.of_type(CallNext)


def _snapshot(busy: bool, alarms: dict[str, Any]) -> QueueSnapshot:
    window = WindowView(3, "3", "open", "A-001" if busy else None, "called" if busy else None,
                        "docs" if busy else None, {"docs": 1}, False)
    return QueueSnapshot(day="2025-03-03", windows=(window,), alarms=alarms)


def test_status_leds_follow_the_queue(parts, recorder, mock_factory, fake_time):
    comp = parts(leds=[{"pin": 23, "role": "ready", "printer": "kiosk"},
                {"pin": 24, "role": "printer_problem", "printer": "kiosk"},
                {"pin": 25, "role": "window_busy", "window": 3}])
    ready, problem, busy = (mock_factory.pin(p) for p in (23, 24, 25))
    wait_for(lambda: ready.state, what="the ready LED")
    assert (problem.state, busy.state) == (False, False)

    recorder.publish(snapshot=_snapshot(True, {}))
    wait_for(lambda: busy.state, what="the window-busy LED")

    alarm = {"device:printer:kiosk": {"alarm": "device:printer:kiosk", "message": "out of paper"}}
    recorder.publish(snapshot=_snapshot(True, alarm))
    wait_for(lambda: problem.state and not ready.state, what="the printer-problem LED")

    recorder.publish(snapshot=_snapshot(False, {}))
    wait_for(lambda: ready.state and not problem.state and not busy.state, what="LEDs back")
