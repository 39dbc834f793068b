"""The press / hold / chatter / stuck rules of one button, as a small clock-driven state machine.

Pure logic, no GPIO: gpiozero edges call pressed() / released(), a timer calls tick().
Acting on release tells a short press from a hold whatever the pin library does, and
makes a stuck-down button harmless: it never releases, so it never acts.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Callable, Literal

Action = Literal["press", "hold"]
Alert = Literal["held", "stuck", "unstuck", "chatter", "calm"]


@dataclass(frozen=True)
class ButtonRules:
    debounce_s: float = 0.05       # shorter presses are contact bounce
    hold_s: float = 1.5            # at least this long = hold
    min_interval_s: float = 1.0    # at most one action per this many seconds
    chatter_presses: int = 8       # more presses than this within chatter_window_s = chatter
    chatter_window_s: float = 5.0
    # Contact bounce comes as a few blips shorter than debounce_s around each real press:
    # blips count apart, against this many per chatter_presses (a flapping contact gives
    # hundreds a second).
    chatter_blips_per_press: int = 10
    lockout_s: float = 60.0        # a chattering button is ignored this long
    stuck_s: float = 30.0          # held longer = stuck (alarm; its release does nothing)


@dataclass
class ButtonCounters:
    actions: int = 0
    bounces: int = 0           # presses shorter than debounce
    rate_limited: int = 0      # presses inside min_interval_s after an action
    locked_out: int = 0        # presses ignored during a chatter lockout
    lockouts: int = 0
    stucks: int = 0


class ButtonLogic:
    """Decides what a sequence of edges means. Not thread-safe: the caller holds a lock."""

    def __init__(self, rules: ButtonRules, now: Callable[[], float]) -> None:
        self.rules = rules
        self._now = now
        self.down_at: float | None = None
        self.last_action_at: float | None = None
        self.locked_until: float | None = None
        self.stuck = False
        self._hold_signalled = False
        self._down_since_start = False   # down when we started: its length is unknown
        self._presses: collections.deque[float] = collections.deque()   # at least debounce_s long
        self._blips: collections.deque[float] = collections.deque()     # shorter: bounce
        self.counters = ButtonCounters()

    @property
    def locked(self) -> bool:
        return self.locked_until is not None

    def pressed(self) -> Alert | None:
        """A press edge. Chatter is judged at release, once the press's length is known."""
        self.down_at = self._now()
        self._hold_signalled = False
        self._down_since_start = False
        return None

    def down_at_start(self) -> None:
        """The button already reads pressed when the service starts (jammed, or a finger on
        it): no edge will come, so count it down from now. It can become stuck (alarm);
        its release is not a press."""
        self.down_at = self._now()
        self._hold_signalled = True
        self._down_since_start = True

    def _count(self, t: float, held: float) -> bool:
        """Count a finished press for chatter; True when it starts a lockout."""
        bounce = held < self.rules.debounce_s
        seen, limit = ((self._blips, self.rules.chatter_presses * self.rules.chatter_blips_per_press)
                       if bounce else (self._presses, self.rules.chatter_presses))
        seen.append(t)
        while seen and t - seen[0] > self.rules.chatter_window_s:
            seen.popleft()
        if len(seen) <= limit:
            return False
        started = self.locked_until is None
        # Chatter during a lockout extends it: a flapping contact stays ignored.
        self.locked_until = t + self.rules.lockout_s
        if started:
            self.counters.lockouts += 1
        return started

    def released(self) -> tuple[Action | None, Alert | None]:
        """A release edge: the action it completes (if any) and an alert to report."""
        t = self._now()
        if self.down_at is None:
            return None, None            # release without a press (start-up state)
        held = t - self.down_at
        self.down_at = None
        if self.stuck:
            self.stuck = False
            self._down_since_start = False
            return None, "unstuck"       # coming back from stuck is not a press
        if self._down_since_start:
            self._down_since_start = False
            return None, None            # pressed before we started: not a press
        if self._count(t, held):
            return None, "chatter"
        if self.locked_until is not None:
            self.counters.locked_out += 1
            return None, None
        if held < self.rules.debounce_s:
            self.counters.bounces += 1
            return None, None
        if self.last_action_at is not None and t - self.last_action_at < self.rules.min_interval_s:
            self.counters.rate_limited += 1
            return None, None
        self.last_action_at = t
        self.counters.actions += 1
        return ("hold" if held >= self.rules.hold_s else "press"), None

    def tick(self) -> Alert | None:
        """Time passes (called a few times a second): stuck, hold reached, lockout over."""
        t = self._now()
        if self.down_at is not None and not self.stuck:
            if t - self.down_at >= self.rules.stuck_s:
                self.stuck = True
                self.counters.stucks += 1
                return "stuck"
            if not self._hold_signalled and t - self.down_at >= self.rules.hold_s:
                self._hold_signalled = True
                return "held"
        if self.locked_until is not None and t >= self.locked_until:
            self.locked_until = None
            self._presses.clear()
            self._blips.clear()
            return "calm"
        return None
