"""Effective time: a wall clock that never runs backwards, and the center's business day.

A Raspberry Pi has no real-time clock: it boots with the last saved time and NTP steps
it later, possibly by hours, in either direction. The engine never orders by time (it
orders by arrival counters), but durations, the business day and SLA timers need a time
that behaves. The rules (docs/queue.md, "Time"):
  * within one boot, effective time advances with the monotonic clock;
  * a wall-clock step is accepted only when the clock is NTP-synced and the step is
    forward; a backward step makes effective time run at half speed until the wall
    clock catches up (durations shrink, never go negative);
  * after a reboot, effective time is max(wall clock, last effective time);
  * the business day is the local date of effective time and never goes back.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from edge.clock import ClockReading

STEP_TOLERANCE_MS = 2_000


@dataclass(frozen=True)
class TimeBase:
    """The last persisted relation between effective time and the clocks."""

    eff_ms: int
    mono_ms: int
    boot: str
    wall_offset_ms: int   # wall - eff at that moment (non-zero after an unaccepted step)


@dataclass(frozen=True)
class TimeStep:
    eff_ms: int
    base: TimeBase
    jump_ms: int          # size of a wall-clock step seen now (0 when none)
    accepted: bool


def advance(base: TimeBase | None, r: ClockReading) -> TimeStep:
    """Effective time for reading `r`, given the last base; pure."""
    if base is None:
        nb = TimeBase(r.wall_ms, r.mono_ms, r.boot, 0)
        return TimeStep(r.wall_ms, nb, 0, True)
    if r.boot != base.boot:
        eff = max(r.wall_ms, base.eff_ms)
        return TimeStep(eff, TimeBase(eff, r.mono_ms, r.boot, r.wall_ms - eff), 0, True)
    d_mono = max(0, r.mono_ms - base.mono_ms)
    by_mono = base.eff_ms + d_mono
    offset = r.wall_ms - by_mono
    jump = offset - base.wall_offset_ms
    if abs(offset) <= STEP_TOLERANCE_MS:
        eff = by_mono
        return TimeStep(eff, TimeBase(eff, r.mono_ms, r.boot, r.wall_ms - eff), 0, True)
    if offset > 0 and r.synced:
        # Forward step on a synced clock (NTP after fake-hwclock): take it.
        eff = r.wall_ms
        return TimeStep(eff, TimeBase(eff, r.mono_ms, r.boot, 0),
                        jump if abs(jump) > STEP_TOLERANCE_MS else 0, True)
    if offset < 0 and r.synced:
        # The wall clock is behind us and trusted: slew (half speed) until it catches up.
        eff = max(r.wall_ms, base.eff_ms + d_mono // 2)
    else:
        eff = by_mono  # unsynced: a step is not believed; keep monotonic time
    seen = jump if abs(jump) > STEP_TOLERANCE_MS else 0
    return TimeStep(eff, TimeBase(eff, r.mono_ms, r.boot, r.wall_ms - eff), seen, False)


def local_day(eff_ms: int, tz: zoneinfo.ZoneInfo) -> str:
    """ISO date of the business day that `eff_ms` (UTC ms) falls on, in the center's zone."""
    return dt.datetime.fromtimestamp(eff_ms / 1000, tz).date().isoformat()


def next_day_starts_ms(day: str, tz: zoneinfo.ZoneInfo) -> int:
    """UTC ms at which the business day after `day` (ISO date) begins in the center's zone:
    local_day(t) > day exactly when t >= this."""
    d = dt.date.fromisoformat(day) + dt.timedelta(days=1)
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=tz).timestamp() * 1000)


def local_time(eff_ms: int, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(eff_ms / 1000, tz)
