"""Clock jumps: bookings, timers and SLA alarms follow effective time, never the raw wall clock."""

from __future__ import annotations

from edge.queue import commands as c
from edge.queue.bookings import BookingStatus
from edge.queue.lines import TIER_BOOKED

from .conftest import booking

SLA = {"services": {"docs": {"max_wait_min": 30}}}


def test_forward_ntp_step_expires_bookings_and_raises_alarms(make_center, clock) -> None:
    center = make_center(policies=SLA)
    center.call(c.LoadBookings((booking("EARLY", "09:20"), booking("MISSED", "09:30")), 1))
    t = center.call(c.CheckIn("EARLY")).reply.ticket
    assert t.tier != TIER_BOOKED
    clock.jump_wall(2 * 3600)                 # synced: NTP corrects a clock 2 h behind
    events = center.tick().events
    types = [e.type for e in events]
    assert "clock.jump" in types
    assert center.engine.state.bookings["MISSED"].status is BookingStatus.EXPIRED
    assert center.engine.ticket(t.id).tier == TIER_BOOKED
    assert f"sla.wait:{t.id}" in center.controller.snapshot.alarms


def test_backward_step_does_not_turn_time_back_for_check_in(make_center, clock) -> None:
    center = make_center(policies=SLA)
    center.call(c.LoadBookings((booking("AB-1", "10:00"),), 1))
    a = center.call(c.IssueTicket("docs")).reply.ticket
    center.at("09:50")
    center.tick()
    assert f"sla.wait:{a.id}" in center.controller.snapshot.alarms
    clock.jump_wall(-3600)                    # the wall clock says 08:50 now
    center.tick()
    # Effective time did not go back: still within the check-in margin, alarm still on.
    assert center.call(c.CheckIn("AB-1")).reply.ticket.booked
    assert f"sla.wait:{a.id}" in center.controller.snapshot.alarms
    assert not [e for e in center.events() if e.type == "alarm.cleared"]


def test_unsynced_jump_is_not_believed(make_center, clock) -> None:
    center = make_center()
    center.call(c.LoadBookings((booking("AB-1", "10:00"),), 1))
    clock.synced = False
    clock.jump_wall(24 * 3600)                # a bogus clock one day ahead
    center.tick()
    assert center.engine.state.day == "2026-11-23"
    assert center.engine.state.bookings["AB-1"].status is BookingStatus.ACTIVE
    # Effective time follows the monotonic clock: 09:00 still, so check-in is too early.
    assert center.refused(c.CheckIn("AB-1")).code == "too_early"
    clock.advance(45 * 60)                    # 09:45 by the monotonic clock
    assert center.call(c.CheckIn("AB-1")).reply.ticket.booked


def test_reboot_with_a_clock_behind_keeps_bookings_and_the_day(make_center, clock) -> None:
    center = make_center()
    center.call(c.LoadBookings((booking("AB-1", "09:40"),), 1))
    center.at("09:20")
    center.call(c.IssueTicket("realty"))      # a commit at 09:20 saves the time base
    center.close()
    clock.reboot("boot-2", wall_ms=clock.wall_ms - 6 * 3600 * 1000, synced=False)
    center._open()
    center.tick()
    # Effective time = max(wall, last effective): still 09:20, check-in opens at 09:10.
    assert center.engine.state.day == "2026-11-23"
    assert center.call(c.CheckIn("AB-1")).reply.ticket.booked
