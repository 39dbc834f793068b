"""The press / hold / repeat / chatter / stuck rules of one button, as a clock-driven state machine.

Pure logic, no GPIO: gpiozero edges call pressed() / released(), a timer calls tick().
Acting on release tells a short press from a hold whatever the pin library does, and
makes a stuck-down button harmless: it never releases, so it never acts.

Both edges are debounced. A press shorter than `debounce_s` is contact bounce; so is a
release followed by a new press within `debounce_s`: the contact opened for a moment
inside one press (an operator's long press that bounces must stay one hold, not become
two short presses). So a release only counts once the contact has stayed open for
`debounce_s`: the action comes from tick() (or from the next press), that much later.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Callable, Literal

# Actions: what the press asks for ("repeat": the same person again, see ButtonRules.repeats).
# Alerts: what to report.
Signal = Literal["press", "hold", "repeat", "held", "stuck", "unstuck", "chatter", "calm"]
ACTIONS = ("press", "hold", "repeat")


@dataclass(frozen=True)
class ButtonRules:
    debounce_s: float = 0.05       # shorter presses, and shorter gaps inside a press, are bounce
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
    # A visitor's button (a ticket): presses inside min_interval_s after an action are the
    # same impatient visitor, answered as "repeat" and counted with the blips, so nine
    # presses in five seconds give one ticket and never lock the button for the next one.
    repeats: bool = False


@dataclass
class ButtonCounters:
    actions: int = 0
    bounces: int = 0           # presses shorter than debounce, and gaps inside a press
    rate_limited: int = 0      # presses inside min_interval_s after an action
    repeats: int = 0           # the same visitor again (ticket buttons)
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
        # A release not yet sure (the contact may close again within debounce_s).
        self._up_at: float | None = None
        self._pending_down: float = 0.0
        self._presses: collections.deque[float] = collections.deque()   # at least debounce_s long
        self._blips: collections.deque[float] = collections.deque()     # shorter: bounce
        self.counters = ButtonCounters()

    @property
    def locked(self) -> bool:
        return self.locked_until is not None

    @property
    def down(self) -> bool:
        return self.down_at is not None or self._up_at is not None

    def pressed(self) -> list[Signal]:
        """A press edge; it may complete the press before it (whose release is now sure)."""
        t = self._now()
        out: list[Signal] = []
        if self._up_at is not None:
            if t - self._up_at < self.rules.debounce_s:
                # The contact closed again at once: that release was bounce, one press goes on.
                self._up_at = None
                self.down_at = self._pending_down
                self.counters.bounces += 1
                return ["chatter"] if self._count(t, blip=True) else []
            out = self._finish()
        self.down_at = t
        self._hold_signalled = False
        self._down_since_start = False
        return out

    def down_at_start(self) -> None:
        """The button already reads pressed when the service starts (jammed, or a finger on
        it): no edge will come, so count it down from now. It can become stuck (alarm);
        its release is not a press."""
        self.down_at = self._now()
        self._hold_signalled = True
        self._down_since_start = True

    def released(self) -> list[Signal]:
        """A release edge: what it completes is known once it has lasted (tick, next press)."""
        t = self._now()
        if self.down_at is None:
            return []                    # release without a press (start-up state)
        if self.stuck:
            self.stuck = False
            self._down_since_start = False
            self.down_at = None
            return ["unstuck"]           # coming back from stuck is not a press
        if self._down_since_start:
            self._down_since_start = False
            self.down_at = None
            return []                    # pressed before we started: not a press
        self._pending_down, self._up_at = self.down_at, t
        self.down_at = None
        if self.rules.debounce_s <= 0:
            return self._finish()        # no debounce: the release is sure at once
        return []

    def due_in(self) -> float | None:
        """Seconds until a pending release is sure (tick() should run then); None: none."""
        if self._up_at is None:
            return None
        return max(0.0, self._up_at + self.rules.debounce_s - self._now())

    def tick(self) -> list[Signal]:
        """Time passes (called a few times a second): a release now sure, stuck, hold
        reached, lockout over."""
        t = self._now()
        out: list[Signal] = []
        if self._up_at is not None and t - self._up_at >= self.rules.debounce_s:
            out += self._finish()
        if self.down_at is not None and not self.stuck:
            if t - self.down_at >= self.rules.stuck_s:
                self.stuck = True
                self.counters.stucks += 1
                out.append("stuck")
            elif not self._hold_signalled and t - self.down_at >= self.rules.hold_s:
                self._hold_signalled = True
                out.append("held")
        if self.locked_until is not None and t >= self.locked_until:
            self.locked_until = None
            self._presses.clear()
            self._blips.clear()
            out.append("calm")
        return out

    def _finish(self) -> list[Signal]:
        """The press that ended at the (now sure) release: what it means."""
        assert self._up_at is not None
        t, held = self._up_at, self._up_at - self._pending_down
        self._up_at = None
        rules = self.rules
        short = held < rules.debounce_s
        recent = self.last_action_at is not None and t - self.last_action_at < rules.min_interval_s
        repeat = not short and rules.repeats and recent
        if self._count(t, blip=short or repeat):
            return ["chatter"]
        if self.locked_until is not None:
            self.counters.locked_out += 1
            return []
        if short:
            self.counters.bounces += 1
            return []
        if repeat:
            self.counters.repeats += 1
            return ["repeat"]
        if recent:
            self.counters.rate_limited += 1
            return []
        self.last_action_at = t
        self.counters.actions += 1
        return ["hold" if held >= rules.hold_s else "press"]

    def _count(self, t: float, *, blip: bool) -> bool:
        """Count a press (or a blip) for chatter; True when it starts a lockout."""
        rules = self.rules
        seen, limit = ((self._blips, rules.chatter_presses * rules.chatter_blips_per_press)
                       if blip else (self._presses, rules.chatter_presses))
        seen.append(t)
        while seen and t - seen[0] > rules.chatter_window_s:
            seen.popleft()
        if len(seen) <= limit:
            return False
        started = self.locked_until is None
        # Chatter during a lockout extends it: a flapping contact stays ignored.
        self.locked_until = t + rules.lockout_s
        if started:
            self.counters.lockouts += 1
        return started
