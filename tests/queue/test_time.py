"""Clock jumps: a Pi without a real-time clock must not reorder, go negative or skip days."""

from __future__ import annotations

from edge.clock import ClockReading, ManualClock
from edge.queue import commands as c
from edge.queue.timebase import TimeBase, advance

from .conftest import PureEngine

HOUR = 3600


def test_backward_step_keeps_order_day_and_positive_durations(pure: PureEngine, clock: ManualClock) -> None:
    pure.do(c.IssueTicket("docs"))
    day = pure.engine.state.day
    clock.jump_wall(-30 * HOUR)        # fake-hwclock style: more than a day back
    clock.advance(10)
    pure.do(c.IssueTicket("docs"))
    assert pure.engine.state.day == day
    assert [t.label for t in pure.engine.waiting_line("docs")] == ["A-001", "A-002"]
    pure.do(c.CallNext(1))
    clock.advance(30)
    pure.do(c.Finish(1))
    done = [e for e in pure.events if e.type == "ticket.done"][0]
    assert done.data["service_s"] >= 0 and done.data["visit_s"] >= 0
    jump = [e for e in pure.events if e.type == "clock.jump"][0]
    assert jump.data["wall_step_ms"] < 0


def test_unsynced_forward_jump_does_not_start_a_new_day(pure: PureEngine, clock: ManualClock) -> None:
    clock.synced = False
    pure.do(c.IssueTicket("docs"))
    clock.jump_wall(24 * HOUR)
    clock.advance(1)
    assert pure.label(c.IssueTicket("docs")) == "A-002"
    assert "day.started" not in pure.types()


def test_synced_forward_step_after_boot_starts_the_real_day(pure: PureEngine, clock: ManualClock) -> None:
    pure.do(c.IssueTicket("docs"))
    # Power cut overnight; the Pi boots with yesterday's saved time and no NTP yet.
    clock.reboot("boot-2", wall_ms=clock.wall_ms + 60_000, synced=False)
    assert pure.label(c.IssueTicket("docs")) == "A-002"   # still the same business day
    clock.jump_wall(24 * HOUR)                               # NTP steps to the real time
    clock.synced = True
    # A-002 was issued this morning under the stale clock: it is carried into the real day
    # and numbering goes on after it (docs/queue.md, "The morning before NTP").
    assert pure.label(c.IssueTicket("docs")) == "A-003"
    assert "day.started" in pure.types() and "ticket.redated" in pure.types()


def test_reboot_with_a_clock_behind_never_moves_time_back() -> None:
    base = TimeBase(eff_ms=1_000_000, mono_ms=5_000, boot="a", wall_offset_ms=0)
    step = advance(base, ClockReading(wall_ms=400_000, mono_ms=1_000, boot="b", synced=False))
    assert step.eff_ms == 1_000_000


def test_synced_backward_step_slews_instead_of_jumping() -> None:
    base = TimeBase(eff_ms=10_000_000, mono_ms=0, boot="a", wall_offset_ms=0)
    step = advance(base, ClockReading(wall_ms=10_000_000 - 3_600_000, mono_ms=10_000, boot="a", synced=True))
    assert step.eff_ms == 10_005_000   # half speed, never backwards
    assert not step.accepted
    again = advance(step.base, ClockReading(wall_ms=10_000_000 - 3_600_000 + 10_000, mono_ms=20_000,
                                            boot="a", synced=True))
    assert again.eff_ms == 10_010_000
    assert again.jump_ms == 0          # the same step is reported once


def test_small_drift_is_not_a_step() -> None:
    base = TimeBase(eff_ms=0, mono_ms=0, boot="a", wall_offset_ms=0)
    step = advance(base, ClockReading(wall_ms=61_500, mono_ms=60_000, boot="a", synced=True))
    assert step.jump_ms == 0 and step.eff_ms == 60_000
