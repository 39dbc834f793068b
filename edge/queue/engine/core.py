"""The queue engine: pure and synchronous. A command and a clock reading in; an Outcome out.

`decide()` never changes the engine: it returns the tickets, windows and counters to
write and the events to append. The controller commits the Outcome in one SQLite
transaction and only then calls `apply()`. A crash between the two loses nothing: the
next start loads what was committed.

Each command's rules live in the module named after its concept (issuing, calling,
windows, paper, checkin, alarms, reload); this module only finds the handler and runs
the rules of every command around it (the day's roll, timers, SLA alarms).
"""

from __future__ import annotations

from typing import Any

from edge.clock import ClockReading
from edge.errors import CommandError
from edge.queue import commands as c
from edge.queue.engine import (alarms, calling, checkin, day, desk, indexes, issuing,
                               operators, paper, reload, timers, views, windows)
from edge.queue.engine.draft import Draft, EngineData, Handler
from edge.queue.engine.state import EngineState, Outcome
from edge.queue.lines import Line
from edge.queue.model import Service, Ticket, Window
from edge.queue.policies import Policies
from edge.queue.snapshot import QueueSnapshot
from edge.queue.timebase import advance, local_day

HANDLERS: dict[type[c.Command], Handler] = {
    **issuing.HANDLERS, **calling.HANDLERS, **windows.HANDLERS, **paper.HANDLERS,
    **checkin.HANDLERS, **alarms.HANDLERS, **reload.HANDLERS, **operators.HANDLERS,
    **desk.HANDLERS,
    c.Tick: lambda d, cmd: None,   # only the rules that run around every command
}


class QueueEngine(EngineData):
    """The rules of the queue. Not thread-safe by design: only the controller calls it."""

    def __init__(self, services: list[Service], windows: list[Window], tz: str,
                 policies: Policies | None = None, state: EngineState | None = None) -> None:
        super().__init__(services, windows, tz, policies, state)
        indexes.rebuild(self)

    # -- the two entry points ---------------------------------------------------------
    def decide(self, command: c.Command, reading: ClockReading) -> Outcome:
        """What `command` would change, now; raises CommandError (and changes nothing)."""
        handler = HANDLERS.get(type(command))
        if handler is None:
            raise CommandError("unknown_command", f"unknown command {type(command).__name__}")
        draft = Draft(self, advance(self.state.time, reading), reading)
        if draft.step.jump_ms:
            draft.emit("clock.jump", wall_step_ms=draft.step.jump_ms, synced=reading.synced,
                       accepted=draft.step.accepted)
        if not isinstance(command, c.Tick) and day.day_ends_at(self, draft.now):
            # The lines, counts and indexes a command reads are the committed state: decided
            # in the same draft as the roll, a command would see yesterday's queue (call a
            # ticket the roll just closed). The roll must be its own committed step.
            raise CommandError("day_not_started", f"day {local_day(draft.now, self.tz)} has "
                               "not started: decide and commit a Tick first (see day_ends)")
        day.roll_day(draft)
        scanned = timers.before_command(draft)
        operators.check(draft, command)
        handler(draft, command)
        timers.after_command(draft, scanned)
        return draft.finish()

    def day_ends(self, reading: ClockReading) -> bool:
        """Whether `reading` starts a new business day. Then the caller commits a Tick (it
        closes yesterday's tickets) before deciding any other command on the new day."""
        return day.day_ends_at(self, advance(self.state.time, reading).eff_ms)

    def apply(self, outcome: Outcome) -> None:
        """Make a committed outcome the engine's state."""
        st = self.state
        self._gen += 1
        for b in outcome.bookings.values():
            old_b = st.bookings.get(b.code)
            st.bookings[b.code] = b
            indexes.booking_applied(self, old_b, b)
        for t in outcome.tickets.values():
            old = st.tickets.get(t.id)
            st.tickets[t.id] = t
            indexes.ticket_applied(self, old, t)
        for w in outcome.windows.values():
            st.windows[w.number] = w
        st.counters.update(outcome.counters)
        if outcome.config is not None:
            self.services = dict(outcome.config.services)  # services carry no runtime state
            self.policies = outcome.config.policies
            st.windows = dict(outcome.config.windows)       # drops windows no longer configured
            self.windows_in_config = outcome.config.configured
        if outcome.meta:
            m = outcome.meta
            new_day = m["day"] != st.day
            st.day, st.next_ticket_id = m["day"], m["next_ticket_id"]
            st.next_arrival = m["next_arrival"]
            st.time, st.alarms, st.devices = m["time"], m["alarms"], m["devices"]
            st.bookings_version = m.get("bookings_version", st.bookings_version)
            if new_day:
                day.forget_old_days(self)
                self._times.clear()
                # The hall screen and boards list today's calls: yesterday's evening calls
                # would show as the morning's "last calls" (a restart already forgets them).
                self._recent.clear()
        indexes.events_applied(self, outcome.events, outcome.now_ms)
        if outcome.config is not None:
            indexes.rebuild(self)   # lines per (new) service, estimate_samples

    def restore(self, state: EngineState) -> None:
        """Go back to `state`, the store's committed one, forgetting outcomes applied but
        never committed (the controller's group commit failed: edge/controller.py)."""
        configured = [w for n, w in self.state.windows.items() if n in self.windows_in_config]
        EngineData.__init__(self, list(self.services.values()), configured, self.tz.key,
                            self.policies, state)
        indexes.rebuild(self)

    # -- reads ----------------------------------------------------------------------
    def ticket(self, ticket_id: int) -> Ticket | None:
        return self.state.tickets.get(ticket_id)

    def waiting_line(self, service: str) -> list[Ticket]:
        return self._lines.get(service, Line()).live(self.state.tickets.get)

    def snapshot(self) -> QueueSnapshot:
        """The committed state for readers on other threads (views.snapshot)."""
        return views.snapshot(self)

    def avg_minutes(self, service: str) -> float:
        """Minutes per visitor of `service`: rolling average of real service times."""
        return issuing.avg_minutes(self, service)

    def wait_minutes(self, service: str, ahead: int, now_ms: int) -> int:
        """Minutes a newcomer with `ahead` people ahead waits from `now_ms`, on the clock."""
        return issuing.wait_minutes(self, service, ahead, now_ms)

    def issue_data(self, t: Ticket, ahead: int, wait_min: int) -> dict[str, Any]:
        return issuing.issue_data(self, t, ahead, wait_min)
