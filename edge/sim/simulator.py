"""The day simulator: a whole day of visitors through the real queue engine and store.

Each step is what the controller's loop does for one command — engine.decide, then
QueueStore.commit (one SQLite transaction, in memory here), then engine.apply — with a
ManualClock set to the simulated moment. The controller itself is not used because it
runs a thread that waits on real time; calling the same three steps in order gives the
same states and events without threads, so a day takes seconds and is deterministic.

Operators are simple and tireless: an idle open window presses "call next" as soon as
someone it serves is waiting; the visitor walks to the window (walk_s) and is served
(their drawn service time); a visitor who left is recalled every recall_after_s until
the engine's recall limit marks the no-show. Breaks pause a window (after its current
visitor). After closing time no tickets are issued and windows serve who is left.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.clock import ManualClock
from edge.config import AppConfig
from edge.config.domain import domain_from_config
from edge.errors import CommandError
from edge.queue import commands as c
from edge.queue.engine import Outcome, QueueEngine
from edge.sim.scenario import Scenario, minutes_of
from edge.sim.visitors import Visitor, draw_visitors
from edge.storage.store import QueueStore

logger = logging.getLogger(__name__)

TICK_S = 10   # the controller ticks every second; every 10 simulated seconds is plenty here
DAY_S = 24 * 3600


@dataclass
class Desk:
    """One window as the simulated operator sees it."""

    number: int
    label: str
    state: str = "idle"            # idle, walking, serving, recalling, break
    ticket_id: int | None = None
    idle_since: int = 0
    busy_since: int | None = None
    busy_s: int = 0
    break_s: int = 0               # break time within the day (open to end), set by the run
    served: int = 0
    pending_breaks: list[int] = field(default_factory=list)   # minutes of breaks due
    breaks: list[tuple[int, int]] = field(default_factory=list)  # (start, end) as taken


@dataclass
class DayRun:
    """Everything a run produced; edge.sim.report turns it into numbers and a chart."""

    scenario: Scenario
    config: AppConfig
    seed: int
    visitors: list[Visitor]
    desks: list[Desk]
    samples: list[tuple[int, dict[str, int]]]   # (seconds after midnight, waiting per service)
    open_s: int
    close_s: int
    end_s: int                                  # when the last visitor left a window
    cutoff: bool                                # stopped at overtime_max_min with people left
    bookings_mode: str                          # "engine" or "walk-in"
    checkin_refused: int
    commands: int
    warnings: list[str] = field(default_factory=list)         # shown on the report


class DaySimulator:
    def __init__(self, scenario: Scenario, config: AppConfig, seed: int,
                 db_path: Path | str = ":memory:", visitors: list[Visitor] | None = None) -> None:
        self.sc = scenario
        self.head = scenario.scenario
        self.config = config
        self.seed = seed
        self.tz = zoneinfo.ZoneInfo(config.center.timezone)
        midnight = dt.datetime.combine(self.head.date, dt.time(0, 0), tzinfo=self.tz)
        self.midnight_ms = int(midnight.timestamp() * 1000)
        self.open_s = minutes_of(self.head.open) * 60
        self.close_s = minutes_of(self.head.close) * 60
        # The engine starts a new day at local midnight (yesterday's tickets are closed), so
        # the day cannot run past it whatever overtime_max_min says.
        self.stop_s = min(self.close_s + self.head.overtime_max_min * 60, DAY_S - TICK_S)
        start_s = self.open_s - 60
        self.clock = ManualClock(self.midnight_ms + start_s * 1000)
        self.now_s = start_s
        self.store = QueueStore(Path(db_path))
        services, windows, policies = domain_from_config(config)
        self.engine = QueueEngine(services, windows, config.center.timezone, policies, self.store.load())
        self.desks = [Desk(w.number, w.label or str(w.number), idle_since=self.open_s)
                      for w in config.windows]
        self.by_number = {d.number: d for d in self.desks}
        # Tests hand in a fixed list of visitors to check the numbers by hand.
        self.visitors = visitors if visitors is not None else draw_visitors(scenario, seed)
        self.by_ticket: dict[int, Visitor] = {}
        self.samples: list[tuple[int, dict[str, int]]] = []
        self._events: list[tuple[int, int, str, Any]] = []
        self._seq = 0
        self.commands = 0
        self.checkin_refused = 0
        self.bookings_mode = "walk-in"
        # Services some open window serves (any weight, 0 = "only if nothing else" too).
        # Visitors of any other service can never be called: the day must not wait for them.
        self.servable = {sid for w in config.windows for sid in w.services}
        self.warnings = [
            f"{load.id}: none of the {len(self.desks)} open windows serves it, so its visitors "
            "are never called (open more windows with --windows, or add it to a window's "
            "services in the center config)"
            for load in scenario.services if load.id not in self.servable]

    # -- the engine, as the controller's loop drives it ------------------------------
    def step(self, command: c.Command) -> Outcome:
        """decide -> commit -> apply at the current simulated time; CommandError if refused."""
        reading = self.clock.read()
        outcome = self.engine.decide(command, reading)
        self.commands += 1
        if not outcome.is_empty:
            self.store.commit(outcome, reading)
            self.engine.apply(outcome)
            self._observe(outcome)
        return outcome

    def _observe(self, outcome: Outcome) -> None:
        for ev in outcome.events:
            d = ev.data
            v = self.by_ticket.get(d.get("ticket_id", -1))
            if ev.type == "ticket.called" and v is not None and v.called_s is None:
                v.called_s = self.now_s
                v.wait_s = int(d.get("wait_s", 0))
            elif ev.type == "ticket.done" and v is not None:
                v.outcome = "done"
            elif ev.type == "ticket.no_show" and v is not None:
                v.outcome = "no_show"
                desk = self.by_number.get(d.get("window") or -1)
                if desk is not None and desk.ticket_id == d["ticket_id"]:
                    self._release(desk)

    # -- the event queue -------------------------------------------------------------
    def at(self, t_s: int, kind: str, arg: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self._events, (t_s, self._seq, kind, arg))

    def _advance(self, t_s: int) -> None:
        if t_s > self.now_s:
            step = (t_s - self.now_s) * 1000
            self.clock.wall_ms += step
            self.clock.mono_ms += step
            self.now_s = t_s

    def run(self) -> DayRun:
        self._load_bookings()
        for v in self.visitors:
            if v.comes:
                self.at(v.arrive_s, "arrive", v)
                self._arrivals_left += 1
            else:
                v.outcome = "booked_no_show"
        self.at(self.open_s, "open")
        for b in self.sc.breaks:
            for w in b.windows:
                self.at(minutes_of(b.start) * 60, "break_start", (w, b.minutes))
        self.at(self.open_s, "sample")
        self.at(self.open_s, "tick")
        cutoff = False
        while self._events:
            t, _, kind, arg = heapq.heappop(self._events)
            if t > self.stop_s:
                cutoff = self._busy()   # overtime limit (or midnight) with people left
                break
            if t > self.close_s and not self._busy():
                break   # closed, nobody left who can be served: the day is over
            self._advance(t)
            getattr(self, f"_on_{kind}")(arg)
        for v in self.visitors:
            if v.outcome == "pending":
                v.outcome = "unserved"
        for d in self.desks:
            if d.busy_since is not None:
                d.busy_s += self.now_s - d.busy_since
                d.busy_since = None
        end = max([self.close_s] + [v.called_s or 0 for v in self.visitors])
        end = max(end, self.now_s if cutoff else self._last_free)
        for d in self.desks:
            # Only break time inside the day counts: a break running past the last visitor
            # (or cut by the overtime limit) is no time the window was missing.
            d.break_s = sum(max(0, min(e, end) - max(s, self.open_s)) for s, e in d.breaks)
        self.store.close()
        return DayRun(self.sc, self.config, self.seed, self.visitors, self.desks, self.samples,
                      self.open_s, self.close_s, end, cutoff, self.bookings_mode,
                      self.checkin_refused, self.commands, self.warnings)

    _last_free = 0
    _arrivals_left = 0

    def _busy(self) -> bool:
        """Anyone still due: an arrival to come, a ticket waiting, a window at work."""
        if self._arrivals_left:
            return True
        if any(s.waiting for s in self.engine.snapshot().services if s.id in self.servable):
            return True
        return any(d.state in ("walking", "serving", "recalling") for d in self.desks)

    # -- handlers --------------------------------------------------------------------
    def _on_open(self, _: Any) -> None:
        for d in self.desks:
            self.step(c.OpenWindow(d.number, source="sim"))  # "already open" is a no-op
        self._dispatch()

    def _on_tick(self, _: Any) -> None:
        self.step(c.Tick(source="sim"))
        self._dispatch()
        self.at(self.now_s + TICK_S, "tick")

    def _on_sample(self, _: Any) -> None:
        snap = self.engine.snapshot()
        self.samples.append((self.now_s, {s.id: s.waiting for s in snap.services}))
        self.at(self.now_s + self.head.sample_min * 60, "sample")

    def _on_arrive(self, v: Visitor) -> None:
        self._arrivals_left -= 1
        if self.now_s >= self.close_s and not v.booked:
            v.outcome, v.refused = "turned_away", "after_close"
            return
        outcome = None
        if v.booked and self.bookings_mode == "engine":
            try:
                outcome = self.step(c.CheckIn(v.code, source="sim"))
                v.checked_in = True
            except CommandError as e:
                self.checkin_refused += 1
                logger.debug("check-in %s refused: %s", v.code, e)
        if outcome is None:
            try:
                outcome = self.step(c.IssueTicket(v.service, v.category, source="sim"))
            except CommandError as e:
                # The engine's own rules (capacity stop, booking_only, daily cap, numbers
                # used up): a real visitor is turned away at the kiosk the same way.
                logger.debug("ticket for visitor %d refused: %s", v.index, e)
                v.outcome, v.refused = "turned_away", e.code
                return
        t = outcome.reply.ticket
        assert t is not None
        v.ticket_id, v.label = t.id, t.label
        self.by_ticket[t.id] = v
        self._dispatch()

    def _dispatch(self) -> None:
        """Every idle open window calls the next visitor, the longest idle first."""
        for d in sorted((d for d in self.desks if d.state == "idle"),
                        key=lambda d: (d.idle_since, d.number)):
            if d.pending_breaks:
                self._start_break(d)
                continue
            try:
                outcome = self.step(c.CallNext(d.number, source="sim"))
            except CommandError:
                continue   # nobody this window serves is waiting
            t = outcome.reply.ticket
            if t is None:
                continue
            v = self.by_ticket.get(t.id)
            d.ticket_id = t.id
            d.busy_since = self.now_s
            if v is not None and v.leaves:
                d.state = "recalling"
                self.at(self.now_s + round(self.head.recall_after_s), "recall", d.number)
            else:
                d.state = "walking"
                self.at(self.now_s + round(self.head.walk_s), "start", d.number)

    def _on_start(self, number: int) -> None:
        d = self.by_number[number]
        if d.state != "walking":
            return   # the engine closed the call meanwhile (its no-show timer)
        self.step(c.StartService(number, source="sim"))
        d.state = "serving"
        v = self.by_ticket.get(d.ticket_id or -1)
        self.at(self.now_s + (v.service_s if v else 600), "finish", number)

    def _on_finish(self, number: int) -> None:
        d = self.by_number[number]
        if d.state != "serving":
            return
        self.step(c.Finish(number, source="sim"))
        d.served += 1
        self._release(d)
        self._dispatch()

    def _on_recall(self, number: int) -> None:
        d = self.by_number[number]
        if d.state != "recalling":
            return
        self.step(c.Recall(number, source="sim"))
        if d.state == "recalling":   # not yet a no-show: call once more later
            self.at(self.now_s + round(self.head.recall_after_s), "recall", number)
        else:
            self._dispatch()

    def _release(self, d: Desk) -> None:
        if d.busy_since is not None:
            d.busy_s += self.now_s - d.busy_since
        d.busy_since = None
        d.ticket_id = None
        d.state = "idle"
        d.idle_since = self.now_s
        self._last_free = max(self._last_free, self.now_s)

    def _on_break_start(self, arg: tuple[int, int]) -> None:
        number, minutes = arg
        d = self.by_number[number]
        d.pending_breaks.append(minutes)
        if d.state == "idle":
            self._start_break(d)

    def _start_break(self, d: Desk) -> None:
        minutes = d.pending_breaks.pop(0)
        self.step(c.PauseWindow(d.number, source="sim"))
        d.state = "break"
        d.breaks.append((self.now_s, self.now_s + minutes * 60))
        self.at(self.now_s + minutes * 60, "break_end", d.number)

    def _on_break_end(self, number: int) -> None:
        d = self.by_number[number]
        self.step(c.ResumeWindow(number, source="sim"))
        d.state = "idle"
        d.idle_since = self.now_s
        self._dispatch()

    # -- bookings --------------------------------------------------------------------
    def _load_bookings(self) -> None:
        """Give the engine the day's bookings when it supports them (issue 5)."""
        booked = [v for v in self.visitors if v.booked]
        if not booked or not hasattr(c, "CheckIn"):
            return
        from edge.sim.bookings import booking_records
        try:
            self.step(c.LoadBookings(tuple(booking_records(booked, self.head.date,
                                                           self.head.slot_minutes)),
                                     version=1, source="sim"))
        except CommandError as e:
            logger.warning("the engine refused the simulated bookings (%s): booked visitors "
                           "are simulated as walk-ins", e)
            return
        self.bookings_mode = "engine"


def simulate(scenario: Scenario, config: AppConfig, seed: int) -> DayRun:
    """Run one simulated day; the same scenario, config and seed give the same day."""
    return DaySimulator(scenario, config, seed).run()
