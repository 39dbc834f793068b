"""The queue engine: pure and synchronous. A command and a clock reading in; an Outcome out.

`decide()` never changes the engine: it returns the tickets, windows and counters to
write and the events to append. The controller commits the Outcome in one SQLite
transaction and only then calls `apply()`. A crash between the two loses nothing: the
next start loads what was committed.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from edge.clock import ClockReading
from edge.errors import CommandError
from edge.queue import commands as c
from edge.queue import sla
from edge.queue.bookings import (Booking, BookingRejected, BookingStatus, iin_hmac, iin_valid,
                                 parse_booking, shown)
from edge.queue import estimates
from edge.queue.estimates import ServiceTimes
from edge.queue.events import Event
from edge.queue.lines import TIER_BENEFIT, TIER_BOOKED, TIER_NORMAL, TIER_TRANSFER, Line, key_of
from edge.queue.model import (Category, PrintState, Service, Ticket, TicketState, Window,
                              WindowState)
from edge.queue.policies import Policies, Refusal, capacity_left
from edge.queue.snapshot import CallView, QueueSnapshot, ServiceView, WindowView
from edge.queue.timebase import (TimeBase, TimeStep, advance, local_day, local_time,
                                 next_day_starts_ms)

RECENT_CALLS = 12
# An IIN is 12 digits: a booking code holding a run of them is not put into an event.
_IIN_RUN = re.compile(r"\d{12}")


@dataclass(frozen=True)
class Reply:
    """What the submitter is told: a line for people, the ticket concerned, extra data."""

    text: str = ""
    ticket: Ticket | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Counter:
    day: str
    last: int


@dataclass(frozen=True)
class NewConfig:
    """A reloaded configuration, decided but not in effect until apply()."""

    services: dict[str, Service]
    windows: dict[int, Window]     # configured windows merged with their runtime state
    policies: "Policies"
    configured: frozenset[int] = frozenset()   # window numbers in the new config


@dataclass
class Outcome:
    """Everything one command changes; written in one transaction, then applied."""

    reply: Reply
    now_ms: int
    events: list[Event] = field(default_factory=list)
    tickets: dict[int, Ticket] = field(default_factory=dict)
    windows: dict[int, Window] = field(default_factory=dict)
    counters: dict[str, Counter] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    bookings: dict[str, Booking] = field(default_factory=dict)
    config: NewConfig | None = None   # a Reconfigure: swapped in by apply(), after the commit
    redated: set[int] = field(default_factory=set)  # tickets whose `day` changed (the store's
                                                    # upsert leaves `day` alone: see store.py)

    @property
    def is_empty(self) -> bool:
        return not (self.events or self.tickets or self.windows or self.counters or self.bookings
                    or self.meta)


@dataclass
class EngineState:
    """Everything the engine knows; loaded from the store at start."""

    day: str = ""
    next_ticket_id: int = 1
    next_arrival: int = 1
    time: TimeBase | None = None
    tickets: dict[int, Ticket] = field(default_factory=dict)
    windows: dict[int, Window] = field(default_factory=dict)
    counters: dict[str, Counter] = field(default_factory=dict)
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    bookings: dict[str, Booking] = field(default_factory=dict)
    bookings_version: int = 0


class _Draft:
    """A working copy for one decide(): reads fall through to the engine, writes stay here."""

    def __init__(self, engine: "QueueEngine", step: TimeStep, reading: ClockReading) -> None:
        self.e = engine
        self.step = step
        self.reading = reading
        self.out = Outcome(Reply(), step.eff_ms)
        self.day = engine.state.day
        self.next_ticket_id = engine.state.next_ticket_id
        self.next_arrival = engine.state.next_arrival
        self.alarms = dict(engine.state.alarms)
        self.devices = dict(engine.state.devices)
        self.bookings_version = engine.state.bookings_version
        self.meta_dirty = False

    @property
    def now(self) -> int:
        return self.step.eff_ms

    def ticket(self, tid: int) -> Ticket | None:
        return self.out.tickets.get(tid) or self.e.state.tickets.get(tid)

    def window(self, number: int) -> Window:
        w = self.out.windows.get(number) or self.e.state.windows.get(number)
        if w is None:
            known = ", ".join(str(n) for n in sorted(self.e.state.windows))
            raise CommandError("unknown_window", f"no window {number} (windows: {known})")
        return w

    def put(self, t: Ticket) -> None:
        self.out.tickets[t.id] = t

    def put_window(self, w: Window) -> None:
        self.out.windows[w.number] = w

    def booking(self, code: str) -> Booking | None:
        return self.out.bookings.get(code) or self.e.state.bookings.get(code)

    def put_booking(self, b: Booking) -> None:
        self.out.bookings[b.code] = b

    def emit(self, type_: str, **data: Any) -> None:
        self.out.events.append(Event(type_, data))

    def arrival(self) -> int:
        a = self.next_arrival
        self.next_arrival += 1
        self.meta_dirty = True
        return a

    def raise_alarm(self, alarm: str, message: str, severity: str = "warning", **extra: Any) -> None:
        old = self.alarms.get(alarm)
        if old is not None and old.get("severity") == severity:
            return  # raised already: one event per alarm, not one per check
        # A raised alarm whose severity changes (sync.outbox: warning -> critical at the
        # cap) is raised again, so the snapshot, status and central all see the new level.
        info = {"alarm": alarm, "severity": severity, "message": message,
                "since_ms": old["since_ms"] if old else self.now, **extra}
        if old is not None:
            info["previous_severity"] = old.get("severity")
        self.alarms[alarm] = info
        self.meta_dirty = True
        self.emit("alarm.raised", **info)

    def clear_alarm(self, alarm: str, **extra: Any) -> None:
        if alarm not in self.alarms:
            return
        del self.alarms[alarm]
        self.meta_dirty = True
        self.emit("alarm.cleared", alarm=alarm, **extra)

    def finish(self) -> Outcome:
        out = self.out
        if out.events or out.tickets or out.windows or out.counters or out.bookings \
                or self.meta_dirty:
            out.meta = {"day": self.day, "next_ticket_id": self.next_ticket_id,
                        "next_arrival": self.next_arrival, "time": self.step.base,
                        "alarms": self.alarms, "devices": self.devices,
                        "bookings_version": self.bookings_version}
        return out


def _merge_windows(configured: list[Window], saved: dict[int, Window]) -> dict[int, Window]:
    """Configured windows with the runtime state of `saved` (state, ticket, last visit)."""
    merged: dict[int, Window] = {}
    for w in configured:
        old = saved.get(w.number)
        if old is not None:
            w = w.with_(state=old.state, ticket_id=old.ticket_id,
                        last_done_ticket_id=old.last_done_ticket_id,
                        last_done_mono_ms=old.last_done_mono_ms)
        merged[w.number] = w
    # A window removed from the config keeps existing while it holds a ticket.
    for n, old in saved.items():
        if n not in merged and old.ticket_id is not None:
            merged[n] = old
    return merged


def _without_slot(extra: dict[str, Any]) -> dict[str, Any]:
    """A ticket's extra without slot_ms (the early booked visitor's pending promotion)."""
    return {k: v for k, v in extra.items() if k != "slot_ms"} if "slot_ms" in extra else extra


# A no-show back in its line remembers when it was missed: until policies.no_show_return_min
# has passed since then it is called in its turn only, not by number (see _call_ticket).
NO_SHOW_MS = "no_show_ms"


# A visit at a window that pauses for a break (lunch with the visitor still at the window,
# or "done" pressed only after it) is not service time: the break is kept on the ticket
# and left out of its service_s and of the service's average (docs/queue.md).
PAUSED_SINCE = "paused_since"   # wall ms the window paused, while it is paused
PAUSED_MS = "paused_ms"         # pauses already over, during this call's visit
_NOT_AFTER_A_CALL = ("slot_ms", NO_SHOW_MS, PAUSED_SINCE, PAUSED_MS)
# The keys of `extra` that hold a moment on the effective clock (not a duration, and not a
# booking's slot, which is real time already): _shifted moves them with the ticket's times.
_EXTRA_MOMENTS = (NO_SHOW_MS, PAUSED_SINCE)


def _called_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """A called ticket's extra: it has had its turn, so no pending slot promotion, no
    return delay and no earlier visit's breaks are left."""
    if not any(k in extra for k in _NOT_AFTER_A_CALL):
        return extra
    return {k: v for k, v in extra.items() if k not in _NOT_AFTER_A_CALL}


def _paused_ms(extra: dict[str, Any], now: int) -> int:
    """Break time of the visit so far: the pauses over, and the one going on."""
    since = extra.get(PAUSED_SINCE)
    return int(extra.get(PAUSED_MS, 0)) + (max(0, now - int(since)) if since is not None else 0)


def _ago(ms: int) -> str:
    minutes = ms // 60_000
    return f"{minutes} min ago" if minutes else "under a minute ago"


def _number_key(t: Ticket) -> tuple[str, str]:
    return (t.day, t.origin_service or t.service)


def _label_key(label: str) -> tuple[str, int] | None:
    """("A", 17) for A-017, A17, a-17 or "A 17"; None for anything that is not a label."""
    m = re.fullmatch(r"\s*([^\W\d_]+)\s*-?\s*(\d+)\s*", label.upper())
    return (m[1], int(m[2])) if m else None


UNSYNCED_BOOT = "issued_unsynced_boot"


def _unsynced_mark(extra: dict[str, Any], r: ClockReading) -> dict[str, Any]:
    """A ticket issued before NTP set the clock remembers the boot it was issued in: if the
    clock's step then starts a new day, it is the morning's ticket (see _roll_day)."""
    return extra if r.synced else {**extra, UNSYNCED_BOOT: r.boot}


def ticket_view(t: Ticket) -> dict[str, Any]:
    return {"ticket_id": t.id, "ticket": t.label, "service": t.service}


class QueueEngine:
    """The rules of the queue. Not thread-safe by design: only the controller calls it."""

    def __init__(self, services: list[Service], windows: list[Window], tz: str,
                 policies: Policies | None = None, state: EngineState | None = None) -> None:
        self.tz = zoneinfo.ZoneInfo(tz)
        self.policies = policies or Policies()
        self.services: dict[str, Service] = {s.id: s for s in services}
        self.state = state or EngineState()
        # A window removed from the config is kept while it holds a visitor (see
        # _merge_windows); it finishes that visitor but takes no one new.
        self.windows_in_config: frozenset[int] = frozenset(w.number for w in windows)
        self._configure_windows(windows)
        self._lines: dict[str, Line] = {}
        self._benefit_lines: dict[str, Line] = {}
        self._tier_counts: dict[tuple[str, int], int] = {}
        self._recent: deque[CallView] = deque(maxlen=RECENT_CALLS)
        # snapshot(): the last view per service / window, reused while its inputs are equal.
        self._service_views: dict[str, tuple[Service, int, float, ServiceView]] = {}
        self._window_views: dict[int, tuple[Window, Ticket | None, WindowView]] = {}
        self._times = ServiceTimes(self.policies.estimate_samples)
        self._live: set[int] = set()             # ids of tickets not in a final state
        # Indexes kept by apply() so that no per-command rule walks every ticket:
        self._early: set[int] = set()            # live tickets waiting for their booked slot
        self._numbers: dict[tuple[str, str], set[int]] = {}  # (day, origin service) -> numbers in use
        # (day, origin service) -> number -> how many no-shows that may come back hold it: a
        # newcomer gets such a number only when no other is free (see _next_number).
        self._missed: dict[tuple[str, str], dict[int, int]] = {}
        self._open_bookings: set[str] = set()    # codes of active bookings (timers, capacity)
        self._by_iin: dict[str, set[str]] = {}   # iin_hmac -> booking codes
        # Timer memo: (generation, next deadline). decide() skips the timer scan while the
        # state is unchanged and no deadline has come; a cache, so decide() stays pure.
        self._gen = 0
        self._day_end: tuple[str, int] = ("", 0)  # (business day, UTC ms its next day starts)
        self._timer_memo: tuple[int, int | None] = (-1, None)
        self._rebuild_indexes()
        self._handlers: dict[type, Callable[[_Draft, Any], None]] = {
            c.IssueTicket: self._issue, c.CallNext: self._call_next, c.CallTicket: self._call_ticket,
            c.Recall: self._recall, c.NoShow: self._no_show, c.StartService: self._start,
            c.Finish: self._finish, c.Transfer: self._transfer, c.Park: self._park,
            c.Unpark: self._unpark, c.ReturnTicket: self._return,
            c.PauseWindow: self._pause, c.ResumeWindow: self._resume,
            c.OpenWindow: self._open, c.CloseWindow: self._close, c.Rate: self._rate,
            c.Tick: lambda d, cmd: None, c.DeviceStatus: self._device_status,
            c.TicketPrinted: self._printed, c.VoidTicket: self._void,
            c.RecordEvent: self._record, c.Reconfigure: self._reconfigure,
            c.PrintJobs: self._print_jobs, c.Reprint: self._reprint,
            c.LoadBookings: self._load_bookings, c.CheckIn: self._checkin_code,
            c.CheckInIin: self._checkin_iin,
        }

    # -- setup ----------------------------------------------------------------------
    def _configure_windows(self, configured: list[Window]) -> None:
        self.state.windows = _merge_windows(configured, self.state.windows)

    def _rebuild_indexes(self) -> None:
        self._lines = {sid: Line() for sid in self.services}
        self._benefit_lines = {sid: Line() for sid in self.services}
        self._tier_counts = {}
        for t in sorted(self.state.tickets.values(), key=key_of):
            if t.state is TicketState.WAITING:
                self._index_waiting(t)
        calls = sorted((t for t in self.state.tickets.values() if t.called_ms and t.window),
                       key=lambda t: t.called_ms or 0)
        self._recent.clear()
        for t in calls[-RECENT_CALLS:]:
            self._recent.appendleft(CallView(t.label, t.window or 0, t.service, t.called_ms or 0,
                                             t.recalls + 1))
        self._live = {t.id for t in self.state.tickets.values() if not t.state.is_final}
        self._early = {t.id for t in self.state.tickets.values()
                       if not t.state.is_final and "slot_ms" in t.extra}
        self._numbers = {}
        self._missed = {}
        for t in self.state.tickets.values():
            if not t.state.is_final:
                self._numbers.setdefault(_number_key(t), set()).add(t.number)
            elif self._may_come_back(t):
                self._count_missed(t, 1)
        self._times = ServiceTimes(self.policies.estimate_samples)
        done = sorted((t for t in self.state.tickets.values()
                       if t.state is TicketState.DONE and t.day == self.state.day and t.finished_ms),
                      key=lambda t: t.finished_ms or 0)
        for t in done:
            start = t.serving_ms or t.called_ms
            if start is not None:
                self._times.add(t.service, ((t.finished_ms or start) - start) // 1000)
        self._open_bookings = set()
        self._by_iin = {}
        for b in self.state.bookings.values():
            self._index_booking(b)
        self._gen += 1

    def _index_booking(self, b: Booking) -> None:
        if b.status is BookingStatus.ACTIVE:
            self._open_bookings.add(b.code)
        else:
            self._open_bookings.discard(b.code)
        if b.iin_hmac:
            self._by_iin.setdefault(b.iin_hmac, set()).add(b.code)

    def _count_missed(self, t: Ticket, delta: int) -> None:
        held = self._missed.setdefault(_number_key(t), {})
        n = held.get(t.number, 0) + delta
        if n > 0:
            held[t.number] = n
        else:
            held.pop(t.number, None)

    def _index_waiting(self, t: Ticket) -> None:
        self._lines.setdefault(t.service, Line()).push(t)
        if t.category.is_benefit:
            self._benefit_lines.setdefault(t.service, Line()).push(t)
        k = (t.service, t.tier)
        self._tier_counts[k] = self._tier_counts.get(k, 0) + 1

    def _unindex_waiting(self, t: Ticket) -> None:
        k = (t.service, t.tier)
        self._tier_counts[k] = self._tier_counts.get(k, 1) - 1

    # -- the two entry points ---------------------------------------------------------
    def decide(self, command: c.Command, reading: ClockReading) -> Outcome:
        """What `command` would change, now; raises CommandError (and changes nothing)."""
        handler = self._handlers.get(type(command))
        if handler is None:
            raise CommandError("unknown_command", f"unknown command {type(command).__name__}")
        draft = _Draft(self, advance(self.state.time, reading), reading)
        if draft.step.jump_ms:
            draft.emit("clock.jump", wall_step_ms=draft.step.jump_ms, synced=reading.synced,
                       accepted=draft.step.accepted)
        if not isinstance(command, c.Tick) and self._day_ends_at(draft.now):
            # The lines, counts and indexes a command reads are the committed state: decided
            # in the same draft as the roll, a command would see yesterday's queue (call a
            # ticket the roll just closed). The roll must be its own committed step.
            raise CommandError("day_not_started", f"day {local_day(draft.now, self.tz)} has "
                               "not started: decide and commit a Tick first (see day_ends)")
        self._roll_day(draft)
        scanned = self._timers(draft)
        handler(draft, command)
        self._after(draft, scanned)
        return draft.finish()

    def day_ends(self, reading: ClockReading) -> bool:
        """Whether `reading` starts a new business day. Then the caller commits a Tick (it
        closes yesterday's tickets) before deciding any other command on the new day."""
        return self._day_ends_at(advance(self.state.time, reading).eff_ms)

    def _day_ends_at(self, now_ms: int) -> bool:
        # Asked before every command: an integer compare against the day's end, worked
        # out once per day, instead of a local date per command.
        day = self.state.day
        if not day:
            return False
        if self._day_end[0] != day:
            self._day_end = (day, next_day_starts_ms(day, self.tz))
        return now_ms >= self._day_end[1]

    def apply(self, outcome: Outcome) -> None:
        """Make a committed outcome the engine's state."""
        st = self.state
        self._gen += 1
        for b in outcome.bookings.values():
            old_b = st.bookings.get(b.code)
            if old_b is not None and old_b.iin_hmac and old_b.iin_hmac != b.iin_hmac:
                self._by_iin.get(old_b.iin_hmac, set()).discard(b.code)
            st.bookings[b.code] = b
            self._index_booking(b)
        for t in outcome.tickets.values():
            old = st.tickets.get(t.id)
            if old is not None and not old.state.is_final:
                self._numbers.get(_number_key(old), set()).discard(old.number)
            if old is not None and self._may_come_back(old):
                self._count_missed(old, -1)
            if self._may_come_back(t):
                self._count_missed(t, 1)
            if t.state.is_final:
                self._live.discard(t.id)
                self._early.discard(t.id)
            else:
                self._live.add(t.id)
                self._numbers.setdefault(_number_key(t), set()).add(t.number)
                if "slot_ms" in t.extra:
                    self._early.add(t.id)
                else:
                    self._early.discard(t.id)
            was_waiting = old is not None and old.state is TicketState.WAITING
            now_waiting = t.state is TicketState.WAITING
            if was_waiting and (not now_waiting or key_of(old) != key_of(t) or old.service != t.service):
                self._unindex_waiting(old)
                was_waiting = False
            st.tickets[t.id] = t
            if now_waiting and not was_waiting:
                self._index_waiting(t)
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
            st.day, st.next_ticket_id, st.next_arrival = m["day"], m["next_ticket_id"], m["next_arrival"]
            st.time, st.alarms, st.devices = m["time"], m["alarms"], m["devices"]
            st.bookings_version = m.get("bookings_version", st.bookings_version)
            if new_day:
                self._forget_old_days()
                self._times.clear()
                # The hall screen and boards list today's calls: yesterday's evening calls
                # would show as the morning's "last calls" (a restart already forgets them).
                self._recent.clear()
        for ev in outcome.events:
            if ev.type == "ticket.done":
                self._times.add(ev.data["service"], int(ev.data.get("service_s", 0)))
            if ev.type in ("ticket.called", "ticket.recalled"):
                d = ev.data
                self._recent.appendleft(CallView(d["ticket"], d["window"], d["service"],
                                                 outcome.now_ms, d["calls"]))
        if outcome.config is not None:
            self._rebuild_indexes()   # lines per (new) service, estimate_samples

    def _forget_old_days(self) -> None:
        # Finished tickets of earlier days stay in the database, not in memory.
        day = self.state.day
        self.state.tickets = {i: t for i, t in self.state.tickets.items()
                              if t.day == day or not t.state.is_final}
        self._numbers = {k: v for k, v in self._numbers.items() if v}
        # Yesterday's no-shows cannot come back: their numbers are free again.
        self._missed = {k: v for k, v in self._missed.items() if v and k[0] == day}

    # -- reads ----------------------------------------------------------------------
    def ticket(self, ticket_id: int) -> Ticket | None:
        return self.state.tickets.get(ticket_id)

    def waiting_line(self, service: str) -> list[Ticket]:
        return self._lines.get(service, Line()).live(self.state.tickets.get)

    def snapshot(self) -> QueueSnapshot:
        """The committed state for readers on other threads. Built after every command,
        so views whose inputs did not change are reused instead of rebuilt."""
        st = self.state
        waiting: dict[str, int] = dict.fromkeys(self.services, 0)
        for (sid, _), n in self._tier_counts.items():
            if sid in waiting:
                waiting[sid] += n
        services = []
        for s in self.services.values():
            n, avg = waiting[s.id], round(self.avg_minutes(s.id), 1)
            cached = self._service_views.get(s.id)
            # A reconfigure makes new Service objects: identity says the config is the same.
            if cached is None or cached[0] is not s or cached[1] != n or cached[2] != avg:
                cached = (s, n, avg, ServiceView(s.id, dict(s.names), s.prefix, n, avg))
                self._service_views[s.id] = cached
            services.append(cached[3])
        windows = []
        serving = 0
        for number in sorted(st.windows):
            w = st.windows[number]
            if w.ticket_id is None and number not in self.windows_in_config:
                # Removed by a reload and its last visitor gone: kept in the state for a
                # late rating or `close`, but no longer a window the hall should show.
                continue
            t = st.tickets.get(w.ticket_id) if w.ticket_id is not None else None
            if t is not None:
                serving += 1
            cached_w = self._window_views.get(number)
            # Tickets and windows are immutable: the same two objects make the same view.
            if cached_w is None or cached_w[0] is not w or cached_w[1] is not t:
                cached_w = (w, t, WindowView(w.number, w.label, w.state.value,
                                             t.label if t else None, t.state.value if t else None,
                                             t.service if t else None, dict(w.weights), w.benefit))
                self._window_views[number] = cached_w
            windows.append(cached_w[2])
        return QueueSnapshot(day=st.day, services=tuple(services), windows=tuple(windows),
                             recent_calls=tuple(self._recent), alarms=dict(st.alarms),
                             devices=dict(st.devices), waiting_total=sum(waiting.values()),
                             serving_total=serving, now_ms=st.time.eff_ms if st.time else 0)

    # -- time -----------------------------------------------------------------------
    def _roll_day(self, d: _Draft) -> None:
        today = local_day(d.now, self.tz)
        if not d.day:
            d.day = today
            d.meta_dirty = True
            return
        if today <= d.day:
            return  # the business day never goes back (clock stepped back, fake-hwclock)
        previous, d.day = d.day, today
        d.meta_dirty = True
        carried = self._issued_under_a_stale_clock(d, previous)
        if carried:
            # Numbering goes on after the morning's tickets (finished ones too): the hall
            # must not show a second A-001 today.
            for sid, ctr in self.state.counters.items():
                if ctr.day == previous:
                    d.out.counters[sid] = Counter(today, ctr.last)
        # Every ticket still open ends its day in a final state, but the morning's carried
        # ones, no-shows that may come back included, move to the new day.
        for t in list(self.state.tickets.values()):
            t = d.ticket(t.id) or t
            if t.day > previous:
                continue
            if t.id in carried:
                moved = self._shifted(t, carried[t.id])
                extra = {k: v for k, v in moved.extra.items() if k != UNSYNCED_BOOT}
                d.put(moved.with_(day=today, extra=extra))
                d.out.redated.add(t.id)
                d.emit("ticket.redated", **ticket_view(t), day=today, previous=previous,
                       reason="clock_set")
                continue
            if t.state.is_final:
                continue
            final = TicketState.DONE if t.state is TicketState.SERVING else TicketState.NO_SHOW
            d.put(t.with_(state=final, finished_ms=d.now, window=None))
            d.emit("ticket.done" if final is TicketState.DONE else "ticket.no_show",
                   **ticket_view(t), window=t.window, reason="day_closed", auto=True,
                   calls=t.recalls + (1 if t.called_ms else 0))
        for w in self.state.windows.values():
            if w.ticket_id is not None and w.ticket_id not in carried:
                d.put_window(d.window(w.number).with_(ticket_id=None))
        d.emit("day.started", day=today, previous=previous)

    @staticmethod
    def _shifted(t: Ticket, ms: int) -> Ticket:
        """The ticket's times moved onto the real clock, so its wait is not 14 h long; the
        moments kept in `extra` too (a no-show's, from which the return delay counts; a
        break's start, which would otherwise last 14 h and swallow the service time)."""
        times: dict[str, Any] = {k: getattr(t, k) + ms
                                 for k in ("issued_ms", "queued_ms", "called_ms", "serving_ms",
                                           "finished_ms") if getattr(t, k) is not None}
        moments = [k for k in _EXTRA_MOMENTS if k in t.extra]
        if moments:
            times["extra"] = {**t.extra, **{k: int(t.extra[k]) + ms for k in moments}}
        return t.with_(**times)

    def _issued_under_a_stale_clock(self, d: _Draft, previous: str) -> dict[int, int]:
        """Tickets of `previous` that were in fact issued today, under a clock not yet set.

        A Pi without a real-time clock boots with the time it saved at shutdown (say 19:00
        yesterday) and runs on it until NTP answers. If that step to the real time is what
        starts the new day, every ticket issued since the boot was issued this morning:
        the visitors holding them are in the hall and keep their places (a no-show's visitor
        may still come back today). Tickets issued before the boot really were yesterday's
        and close as usual.
        """
        base = self.state.time
        if not (d.step.accepted and d.step.jump_ms > 0 and base is not None
                and base.boot == d.reading.boot):
            return {}
        # Where the monotonic clock alone would have taken effective time: if that is still
        # the previous day, the step (not midnight) is what starts the new day.
        by_mono = base.eff_ms + max(0, d.reading.mono_ms - base.mono_ms)
        if local_day(by_mono, self.tz) != previous:
            return {}
        step_ms = d.now - by_mono
        return {t.id: step_ms for t in self.state.tickets.values()
                if t.day == previous and self._open_today(t)
                and t.extra.get(UNSYNCED_BOOT) == d.reading.boot}

    def _open_today(self, t: Ticket) -> bool:
        """Whether `t` may still change on its business day: it is live, or it is a no-show
        whose visitor may come back. Done and voided tickets, and no-shows where they are
        final, are closed for good."""
        return not t.state.is_final or self._may_come_back(t)

    def _may_come_back(self, t: Ticket) -> bool:
        """A no-show whose visitor may still come back (docs/queue.md, "A no-show who comes
        back"): its day's roll has not closed it, and the center lets no-shows return."""
        return t.state is TicketState.NO_SHOW and self.policies.no_show_return_min > 0

    def _timers(self, d: _Draft) -> int | None | bool:
        """Time-based rules that run before every command: bookings expire, checked-in
        booked visitors become due at their slot, called visitors time out.

        Returns False when nothing can be due (memo), else the next deadline (or None).
        """
        gen, due = self._timer_memo
        if gen == self._gen and d.day == self.state.day and not d.out.tickets \
                and (due is None or d.now < due):
            return False
        pol = self.policies
        next_due: int | None = None

        def soon(ms: int) -> None:
            nonlocal next_due
            if next_due is None or ms < next_due:
                next_due = ms

        # Bookings whose day or late margin passed without a check-in expire; they no
        # longer hold capacity.
        for code in sorted(self._open_bookings):
            b = d.booking(code)
            if b is None or b.status is not BookingStatus.ACTIVE or b.day > d.day:
                continue
            end = b.slot_ms(self.tz) + pol.bookings.late_ms if b.day == d.day else 0
            if b.day < d.day or d.now > end:
                d.put_booking(b.with_(status=BookingStatus.EXPIRED))
                d.emit("booking.expired", booking=b.code, service=b.service, day=b.day,
                       slot_start=b.slot_start)
            else:
                soon(end + 1)
        # A booked visitor who checked in early joins the booked tier when the slot comes
        # (in slot order, so earlier slots are called first).
        promote = []
        for tid in sorted(self._early):
            t = d.ticket(tid)
            if t is None or t.state is not TicketState.WAITING or "slot_ms" not in t.extra:
                continue
            at = int(t.extra["slot_ms"]) - pol.bookings.call_ahead_ms
            if d.now >= at:
                promote.append((int(t.extra["slot_ms"]), t.arrival, t.id))
            else:
                soon(at)
        for _, _, tid in sorted(promote):
            t = d.ticket(tid)
            assert t is not None
            d.put(t.with_(tier=TIER_BOOKED, arrival=d.arrival(), extra=_without_slot(t.extra)))
        # A called visitor who does not come within the timeout is a no-show.
        if pol.no_show_after_s:
            for number in sorted(self.state.windows):
                w = d.window(number)
                t = d.ticket(w.ticket_id) if w.ticket_id is not None else None
                if t is None or t.state is not TicketState.CALLED or t.called_ms is None:
                    continue
                deadline = t.called_ms + pol.no_show_after_s * 1000
                if d.now >= deadline:
                    self._no_show_ticket(d, w, t, auto=True, reason="timeout")
                else:
                    soon(deadline)
        return next_due

    def _after(self, d: _Draft, scanned: int | None | bool) -> None:
        """After the command: raise and clear SLA alarms; remember when to look again."""
        due: int | None = None
        if scanned is not False or d.out.tickets:
            due = self._sla(d)
            if scanned is not False:
                due = scanned if due is None else (due if scanned is None else min(due, scanned))
            if not (d.out.events or d.out.tickets or d.out.windows or d.out.bookings
                    or d.meta_dirty):
                # Nothing changed: until the state changes or `due` comes, skip the scans.
                self._timer_memo = (self._gen, due)

    def _sla(self, d: _Draft) -> int | None:
        rules = self.policies.services
        has_rules = any(r.max_wait_min or r.max_service_min or r.visit_sla_min
                        for r in rules.values())
        if not has_rules and not any(a.startswith(sla.PREFIX) for a in d.alarms):
            return None
        tickets = {i: d.ticket(i) for i in self._live}
        tickets.update(d.out.tickets)
        want, due = sla.breaches(d.now, (t for t in tickets.values() if t is not None), rules)
        for alarm in sorted(want):
            if alarm not in d.alarms:
                info = dict(want[alarm])
                d.raise_alarm(alarm, info.pop("message"), **info)
        for alarm in sorted(d.alarms):
            if alarm.startswith(sla.PREFIX) and alarm not in want:
                d.clear_alarm(alarm, resolved=True)
        return due

    # -- helpers --------------------------------------------------------------------
    def _service(self, sid: str) -> Service:
        s = self.services.get(sid)
        if s is None:
            raise CommandError("unknown_service",
                               f"no service {sid!r} (services: {', '.join(self.services)})")
        return s

    def _held(self, d: _Draft, number: int, action: str = "",
              before_start: bool = False) -> tuple[Window, Ticket]:
        """The ticket at window `number`; `before_start`: only while called, not in service."""
        w = d.window(number)
        t = d.ticket(w.ticket_id) if w.ticket_id is not None else None
        if t is None or not t.state.at_window:
            raise CommandError("no_ticket", f"window {number} has no ticket called or in service")
        if before_start and t.state is TicketState.SERVING:
            # The operator sees a visitor at the window: say who, and why not now.
            why = "start was already pressed" if action == "start" else \
                f"{action} works only before start"
            raise CommandError("in_service", f"{t.label} is in service at window {number}; {why}")
        return w, t

    def _find_today(self, d: _Draft, label: str) -> Ticket:
        label = label.strip().upper()
        # An operator types "A17", "a-17" or "A 017" for the A-017 on the board.
        key = _label_key(label)
        found = [t for t in self.state.tickets.values() if t.day == d.day
                 and (t.label == label or (key is not None and _label_key(t.label) == key))]
        found = [d.ticket(t.id) or t for t in found]
        live = [t for t in found if not t.state.is_final]
        if live:
            return live[-1]
        if found:
            return found[-1]
        raise CommandError("unknown_ticket", f"no ticket {label} today; check the number (a "
                           "ticket of an earlier day is closed: the visitor takes a new one)")

    def _next_number(self, d: _Draft, s: Service) -> int:
        counter = d.out.counters.get(s.id) or self.state.counters.get(s.id)
        # A transferred ticket keeps its number (A-005 served in realty): numbers in use are
        # counted by the service that issued them.
        active = self._numbers.get((d.day, s.id), set())
        # A no-show's number stays its own while another is free: once the numbers wrap,
        # its visitor could not come back (`return A-001` would find the newcomer's A-001).
        missed = self._missed.get((d.day, s.id), {})
        spare: int | None = None
        start = s.range_start if counter is None or counter.day != d.day else counter.last + 1
        size = s.range_end - s.range_start + 1
        for i in range(size):
            n = s.range_start + (start - s.range_start + i) % size
            if n in active:
                continue
            if n not in missed:
                return n
            if spare is None:
                spare = n
        if spare is not None:
            return spare   # rather than none at all; that no-show can no longer come back
        raise CommandError("numbers_exhausted",
                           f"all {size} numbers of service {s.id} are in use; finish some tickets")

    def _ahead(self, service: str, tier: int) -> int:
        return sum(n for (s, t), n in self._tier_counts.items() if s == service and t <= tier)

    def avg_minutes(self, service: str) -> float:
        """Minutes per visitor of `service`: rolling average of real service times."""
        s = self.services.get(service)
        return self._times.avg_minutes(service, s.avg_minutes if s else 10.0)

    def wait_minutes(self, service: str, ahead: int, now_ms: int) -> int:
        """Minutes a newcomer with `ahead` people ahead waits from `now_ms`, on the clock."""
        # The windows that will serve the line: a window paused for a break comes back
        # (all of them paused at lunch is not "one window"), a closed one does not.
        work = estimates.work_minutes(ahead, self.avg_minutes(service),
                                      self._capacity_windows(service))
        schedule = self.policies.schedule
        if schedule.hours is None:
            return math.ceil(work)
        # The day's breaks and the time before opening add to the wait: no one is served then.
        return math.ceil(round(schedule.wall_minutes(local_time(now_ms, self.tz), work), 6))

    def issue_data(self, t: Ticket, ahead: int, wait_min: int) -> dict[str, Any]:
        return {**ticket_view(t), "category": t.category.value, "booked": t.booked,
                "visit": t.visit, "day": t.day, "number": t.number, "ahead": ahead,
                "wait_min": wait_min, "printer": t.printer, "booking": t.booking,
                "issued_at": local_time(t.issued_ms, self.tz).strftime("%Y-%m-%dT%H:%M:%S")}

    def _call(self, d: _Draft, w: Window, t: Ticket) -> None:
        # A booked visitor called before the slot has had their turn: the slot no longer
        # promotes them (after a park or transfer they queue like anyone else).
        t = t.with_(state=TicketState.CALLED, window=w.number, recalls=0, called_ms=d.now,
                    serving_ms=None, extra=_called_extra(t.extra))
        d.put(t)
        d.put_window(w.with_(ticket_id=t.id))
        d.emit("ticket.called", **ticket_view(t), window=w.number, calls=1,
               wait_s=max(0, (d.now - t.queued_ms) // 1000))
        d.out.reply = Reply(f"CALL {t.label} -> {w.number}", t)

    def _release(self, d: _Draft, w: Window, done: Ticket | None = None) -> None:
        if done is not None:
            d.put_window(w.with_(ticket_id=None, last_done_ticket_id=done.id,
                                 last_done_mono_ms=d.now))
        else:
            d.put_window(w.with_(ticket_id=None))

    def _done(self, d: _Draft, w: Window, t: Ticket, implicit: bool = False) -> None:
        start = t.serving_ms or t.called_ms or d.now
        paused = _paused_ms(t.extra, d.now) if (PAUSED_MS in t.extra or
                                                PAUSED_SINCE in t.extra) else 0
        extra = t.extra
        if PAUSED_SINCE in extra:  # done while paused: the break ends with the visit
            extra = {k: v for k, v in extra.items() if k != PAUSED_SINCE}
            extra[PAUSED_MS] = paused
        t = t.with_(state=TicketState.DONE, finished_ms=d.now, window=w.number, extra=extra)
        d.put(t)
        self._release(d, w, t)
        d.emit("ticket.done", **ticket_view(t), window=w.number,
               service_s=max(0, (d.now - start - paused) // 1000),
               visit_s=max(0, (d.now - t.issued_ms) // 1000), implicit=implicit,
               **({"paused_s": paused // 1000} if paused else {}))

    def _pick(self, d: _Draft, w: Window) -> Ticket | None:
        lookup = self.state.tickets.get
        heads: list[tuple[tuple[int, ...], Ticket]] = []
        # Booked visitors whose slot has come (issue 5): no walk-in of any service this
        # window serves (weight >= 1) is called before them. `fresh` are those made due
        # by this very command's timers, not yet in the lines.
        fresh = [t for t in d.out.tickets.values() if t.state is TicketState.WAITING
                 and t.tier == TIER_BOOKED and w.weights.get(t.service, 0) >= 1]
        due = {sid for sid, wt in w.weights.items()
               if wt >= 1 and self._tier_counts.get((sid, TIER_BOOKED), 0) > 0}
        due.update(t.service for t in fresh)
        for t in fresh:
            heads.append(((-20, -w.weights[t.service], *key_of(t)), t))
        for sid, weight in w.weights.items():
            line = self._lines.get(sid)
            head = line.head(lookup) if line else None
            if head is not None:
                if sid in due and head.tier <= TIER_BOOKED:
                    heads.append(((-20, -weight, *key_of(head)), head))
                else:
                    heads.append(((-weight, *key_of(head)), head))
            if w.benefit:
                bl = self._benefit_lines.get(sid)
                bh = bl.head(lookup) if bl else None
                if bh is not None:
                    # At a benefit window benefit visitors come before everyone, across
                    # its services; weight still orders them among themselves.
                    heads.append(((-10, -weight, *key_of(bh)), bh))
        if not heads:
            return None
        heads.sort(key=lambda kv: kv[0])
        return heads[0][1]

    # -- handlers -------------------------------------------------------------------
    def _issue(self, d: _Draft, cmd: c.IssueTicket) -> None:
        s = self._service(cmd.service)
        category = Category(cmd.category)
        self._walk_in_allowed(d, s)
        self._issue_ticket(d, s, category, cmd.printer, cmd.source)

    def _issue_ticket(self, d: _Draft, s: Service, category: Category, printer: str | None,
                      source: str, booking: str | None = None, tier: int | None = None,
                      extra: dict[str, Any] | None = None) -> Ticket:
        if printer is not None:
            dev = d.devices.get(f"printer:{printer}")
            if dev is not None and not dev.get("ok", True):
                raise CommandError("printer_down",
                                   f"printer {printer} cannot print ({dev.get('detail') or 'offline'}); "
                                   "no ticket issued")
        number = self._next_number(d, s)
        tid = d.next_ticket_id
        d.next_ticket_id += 1
        if tier is None:
            tier = TIER_BENEFIT if category.is_benefit else TIER_NORMAL
        t = Ticket(id=tid, day=d.day, service=s.id, number=number, label=s.label(number),
                   category=category, state=TicketState.WAITING, visit=f"{d.day}/{tid}",
                   arrival=d.arrival(), tier=tier, issued_ms=d.now, queued_ms=d.now,
                   origin_service=s.id, booking=booking,
                   print_state=PrintState.PENDING if printer else PrintState.NONE,
                   printer=printer, extra=_unsynced_mark(extra or {}, d.reading))
        d.put(t)
        d.out.counters[s.id] = Counter(d.day, number)
        ahead = self._ahead(s.id, tier)
        wait = self.wait_minutes(s.id, ahead, d.now)
        data = self.issue_data(t, ahead, wait)
        d.emit("ticket.issued", **data, source=source)
        d.out.reply = Reply(f"TICKET {t.label} {s.id} ahead={ahead} wait={wait}min", t, data)
        return t

    def _walk_in_allowed(self, d: _Draft, s: Service) -> None:
        """Refuse a walk-in ticket the day's policies do not allow (a Refusal says why)."""
        pol = self.policies
        rules = pol.rules(s.id)
        if rules.mode == "booking_only":
            raise Refusal("booking_only", f"service {s.id} serves booked visitors only; book on "
                          "the egov.kz portal, the eGov Telegram bot or by phone 1414",
                          service=s.id)
        now = local_time(d.now, self.tz)
        if not pol.schedule.is_open(now):
            nxt = pol.schedule.next_opening(now)
            raise Refusal("closed", "the center is closed now; it opens "
                          f"{nxt.strftime('%a %d.%m %H:%M') if nxt else 'not within two weeks'}",
                          opens=nxt.strftime("%d.%m %H:%M") if nxt else "")
        if rules.daily_cap is not None:
            # A voided ticket never reached a visitor (its paper did not come out).
            issued = sum(1 for t in self.state.tickets.values()
                         if t.day == d.day and t.origin_service == s.id
                         and t.state is not TicketState.VOIDED)
            if issued >= rules.daily_cap:
                raise Refusal("daily_cap", f"service {s.id} has issued its {rules.daily_cap} "
                              "tickets for today", service=s.id, cap=rules.daily_cap)
        left = pol.schedule.minutes_left(now) if pol.capacity_stop else None
        if left is not None:
            waiting = sum(n for (sid, _), n in self._tier_counts.items() if sid == s.id)
            pending = self._booked_pending(d, s.id)
            room = capacity_left(left, self._capacity_windows(s.id), self.avg_minutes(s.id),
                                 waiting, pending)
            if room < 1:
                raise Refusal("capacity_full", f"no more tickets for {s.id} today: {left:.0f} "
                              f"working minutes are left for {waiting} waiting and {pending} "
                              "booked visitors", service=s.id, waiting=waiting, booked=pending)

    def _booked_pending(self, d: _Draft, service: str) -> int:
        """Active bookings of today for `service` not checked in yet (they hold capacity)."""
        n = 0
        for code in self._open_bookings:
            b = d.booking(code)
            if b is not None and b.status is BookingStatus.ACTIVE and b.day == d.day \
                    and b.service == service:
                n += 1
        return n

    def _ahead_of(self, t: Ticket) -> int:
        """Waiting tickets called before `t` as things stand (for paper printed after the
        issue). Walks the live tickets: print jobs and reprints only, never the hot path."""
        n = sum(k for (sid, tier), k in self._tier_counts.items()
                if sid == t.service and tier < t.tier)
        for tid in self._live:
            o = self.state.tickets.get(tid)
            if o is not None and o.state is TicketState.WAITING and o.service == t.service \
                    and o.tier == t.tier and o.arrival < t.arrival:
                n += 1
        return n

    def _capacity_windows(self, service: str) -> int:
        configured = self.windows_in_config
        return estimates.line_windows((w.state is WindowState.CLOSED, w.weights.get(service, 0))
                                      for w in self.state.windows.values()
                                      if w.number in configured)

    def _line_note(self, service: str) -> str | None:
        """Before a visitor is put in `service`'s line: None when no window serves it (the
        visitor would wait for a call that cannot come), else the note for the answer ("",
        or that no such window is open now). A walk over the windows: not the hot path."""
        serving = [x for x in self.state.windows.values()
                   if service in x.weights and x.number in self.windows_in_config]
        if not serving:
            return None
        return "" if any(x.state is WindowState.OPEN for x in serving) else \
            f" (no window open for {service} now)"

    def _in_config(self, d: _Draft, number: int, action: str) -> Window:
        """Window `number`, refused for `action` when a reload removed it from the config."""
        w = d.window(number)
        if number not in self.windows_in_config:
            held = d.ticket(w.ticket_id) if w.ticket_id is not None else None
            now = f"; finish, transfer or park {held.label} there" \
                if held is not None and held.state.at_window else ""
            raise CommandError("window_removed", f"window {number} is no longer in the "
                               f"configuration: it cannot {action}{now}")
        return w

    def _call_next(self, d: _Draft, cmd: c.CallNext) -> None:
        w = self._in_config(d, cmd.window, "call visitors")
        if w.state is not WindowState.OPEN:
            raise CommandError("window_not_open", f"window {w.number} is {w.state.value}; "
                               f"{'resume' if w.state is WindowState.PAUSED else 'open'} it first")
        if w.ticket_id is not None:
            held = d.ticket(w.ticket_id)
            if held is not None and held.state.at_window:
                # Calling the next visitor means the one at the window was served.
                self._done(d, w, held, implicit=True)
                w = d.window(cmd.window)
        t = self._pick(d, w)
        if t is None:
            if d.out.tickets:
                d.out.reply = Reply(f"EMPTY {w.number}: no one is waiting")
                return
            raise CommandError("queue_empty", f"no one is waiting for window {w.number}'s services")
        self._call(d, w, t)

    def _call_ticket(self, d: _Draft, cmd: c.CallTicket) -> None:
        w = self._in_config(d, cmd.window, "call visitors")
        if w.state is not WindowState.OPEN:
            raise CommandError("window_not_open", f"window {w.number} is {w.state.value}; "
                               f"{'resume' if w.state is WindowState.PAUSED else 'open'} it first")
        t = self._find_today(d, cmd.label)
        back = t.state is TicketState.NO_SHOW
        if back:
            self._may_return(t)
            self._return_delay_over(d, t, t.finished_ms or d.now, in_line=False)
        elif t.state.is_final:
            raise self._final(t)
        elif t.state not in (TicketState.WAITING, TicketState.PARKED):
            raise CommandError("not_waiting", f"{t.label} is {t.state.value}, not waiting")
        elif NO_SHOW_MS in t.extra:
            # Back in line from a no-show: `return` then `call` must not skip the delay.
            self._return_delay_over(d, t, int(t.extra[NO_SHOW_MS]), in_line=True)
        if w.ticket_id is not None:
            held = d.ticket(w.ticket_id)
            if held is not None and held.state.at_window:
                self._done(d, w, held, implicit=True)
                w = d.window(cmd.window)
        if not back:
            self._call(d, w, t)
            return
        after_s = max(0, (d.now - (t.finished_ms or d.now)) // 1000)
        self._call(d, w, self._reopen(d, t, w.number))
        d.out.reply = Reply(f"CALL {t.label} -> {w.number} (back {after_s // 60} min after its "
                            "no-show)", d.out.reply.ticket)

    # -- a no-show who comes back (docs/queue.md, "A no-show who comes back") ----------
    @staticmethod
    def _final(t: Ticket) -> CommandError:
        return CommandError("ticket_final", f"{t.label} is {t.state.value}: it cannot be called "
                            "or returned again; the visitor takes a new ticket")

    def _may_return(self, t: Ticket) -> None:
        """Refuse, naming why, a no-show that may not come back at this center.

        Only today's tickets are found by label (_find_today), and a live ticket with the
        same label is found first, so the number of a no-show found here is free today.
        """
        if not self.policies.no_show_return_min:
            at = local_time(t.finished_ms or 0, self.tz).strftime("%H:%M")
            raise CommandError("return_off", f"{t.label} was a no-show at {at}; no-shows are "
                               "final at this center (policies.no_show_return_min = 0): the "
                               "visitor takes a new ticket")
        if t.service not in self.services:
            raise CommandError("unknown_service", f"{t.label} was for service {t.service}, "
                               "which is no longer configured: the visitor takes a new ticket")

    def _return_delay_over(self, d: _Draft, t: Ticket, missed_ms: int, in_line: bool) -> None:
        """Refuse a call by number sooner than no_show_return_min after the no-show (ZMS's
        rule): otherwise "no-show" and a call by number would be a way around the line."""
        minutes = self.policies.no_show_return_min
        ready = missed_ms + minutes * 60_000
        if d.now >= ready:
            return
        # Shown as the whole minute from which the call works (never a minute too early).
        at = local_time(-(-ready // 60_000) * 60_000, self.tz).strftime("%H:%M")
        ago = _ago(d.now - missed_ms)
        if in_line:
            raise CommandError("return_too_soon", f"{t.label} came back from a no-show {ago} "
                               "and waits at the end of the line: it is called in its turn, or "
                               f"by number from {at} (policies.no_show_return_min = {minutes})")
        raise CommandError("return_too_soon", f"{t.label} was a no-show {ago}; it can be called "
                           f"by number from {at} (policies.no_show_return_min = {minutes}), or "
                           f"go back to the end of the line now: return {t.label}")

    def _reopen(self, d: _Draft, t: Ticket, window: int | None) -> Ticket:
        """No-show `t` in the queue again, waiting; emits ticket.returned.

        `window` None: at the end of its line, as a fresh arrival (ZMS: missed and parked
        visitors go to the end; an old place would put them ahead of people who waited
        while they were away). Otherwise the caller calls it to that window at once.
        """
        missed_ms = t.finished_ms or d.now
        returns = int(t.extra.get("returns", 0)) + 1
        # The old no-show reason would mislead a later `done` at the window (_timed_out_at).
        extra = {k: v for k, v in t.extra.items() if k != "no_show"}
        extra["returns"] = returns
        if window is None:
            extra[NO_SHOW_MS] = missed_ms
        back = t.with_(state=TicketState.WAITING, window=None, recalls=0, called_ms=None,
                       serving_ms=None, finished_ms=None, queued_ms=d.now, extra=extra,
                       # The visitor is at the window with the ticket: paper still owed would
                       # come out at the kiosk for nobody, or be voided as overdue.
                       print_state=PrintState.NONE if t.print_state in
                       (PrintState.PENDING, PrintState.FAILED) else t.print_state)
        if window is None:
            back = back.with_(arrival=d.arrival(),
                              tier=TIER_BENEFIT if t.category.is_benefit else TIER_NORMAL)
        d.put(back)
        d.emit("ticket.returned", **ticket_view(back), visit=t.visit, window=window,
               after_s=max(0, (d.now - missed_ms) // 1000), returns=returns)
        return back

    def _return(self, d: _Draft, cmd: c.ReturnTicket) -> None:
        t = self._find_today(d, cmd.label)
        if t.state is not TicketState.NO_SHOW:
            if t.state.is_final:
                raise self._final(t)
            hint = f"unpark {t.label} puts it back in line" if t.state is TicketState.PARKED \
                else "return works only for a no-show"
            raise CommandError("not_no_show", f"{t.label} is {t.state.value}, not a no-show; {hint}")
        self._may_return(t)
        note = self._line_note(t.service)
        if note is None:
            raise CommandError("no_window", f"no window serves {t.service}, so {t.label} cannot "
                               "wait in its line; call it by number to a window instead")
        back = self._reopen(d, t, None)
        ahead = self._ahead(back.service, back.tier)
        d.out.reply = Reply(f"RETURNED {t.label} to {back.service} ahead={ahead}{note}", back)

    def _recall(self, d: _Draft, cmd: c.Recall) -> None:
        w, t = self._held(d, cmd.window, "recall", before_start=True)
        gap_ms = self.policies.recall_min_interval_s * 1000
        since = d.now - (t.called_ms or 0)
        if gap_ms and t.called_ms is not None and since < gap_ms:
            raise CommandError("recall_too_soon", f"{t.label} was called {since // 1000} s ago; "
                               f"recall again in {math.ceil((gap_ms - since) / 1000)} s")
        calls = t.recalls + 2
        if calls > self.policies.recall_limit:
            self._no_show_ticket(d, w, t, auto=True, reason="recall_limit")
            d.out.reply = Reply(f"NOSHOW {t.label} after {t.recalls + 1} calls", t)
            return
        t = t.with_(recalls=t.recalls + 1, called_ms=d.now)
        d.put(t)
        d.emit("ticket.recalled", **ticket_view(t), window=w.number, calls=calls)
        d.out.reply = Reply(f"CALL {t.label} -> {w.number} (recall {t.recalls})", t)

    def _no_show_ticket(self, d: _Draft, w: Window, t: Ticket, auto: bool,
                        reason: str | None = None) -> None:
        # The reason stays on the ticket so a later `done` at the window can say why the
        # visitor is gone (see _finish).
        t = t.with_(state=TicketState.NO_SHOW, finished_ms=d.now,
                    extra={**t.extra, "no_show": reason} if reason else t.extra)
        d.put(t)
        self._release(d, w)
        d.emit("ticket.no_show", **ticket_view(t), window=w.number, calls=t.recalls + 1, auto=auto,
               **({"reason": reason} if reason else {}))

    def _no_show(self, d: _Draft, cmd: c.NoShow) -> None:
        w, t = self._held(d, cmd.window, "no-show", before_start=True)
        self._no_show_ticket(d, w, t, auto=False)
        d.out.reply = Reply(f"NOSHOW {t.label}", t)

    def _start(self, d: _Draft, cmd: c.StartService) -> None:
        w, t = self._held(d, cmd.window, "start", before_start=True)
        extra = t.extra
        if PAUSED_MS in extra or PAUSED_SINCE in extra:
            # Service time counts from `start`: breaks before it are not in it.
            extra = {k: v for k, v in extra.items() if k not in (PAUSED_MS, PAUSED_SINCE)}
            if PAUSED_SINCE in t.extra:
                extra[PAUSED_SINCE] = d.now
        t = t.with_(state=TicketState.SERVING, serving_ms=d.now, extra=extra)
        d.put(t)
        d.emit("ticket.serving", **ticket_view(t), window=w.number,
               wait_s=max(0, ((t.called_ms or d.now) - t.queued_ms) // 1000))
        d.out.reply = Reply(f"SERVING {t.label} at {w.number}", t)

    def _finish(self, d: _Draft, cmd: c.Finish) -> None:
        try:
            w, t = self._held(d, cmd.window)
        except CommandError as e:
            gone = self._timed_out_at(d, cmd.window) if e.code == "no_ticket" else None
            if gone is None:
                raise
            # no_show_after_s counts from the call until `start`: an operator who serves
            # without pressing it loses the visit; say so instead of "no ticket".
            raise CommandError("no_ticket", f"{gone.label} was closed as a no-show "
                               f"{self.policies.no_show_after_s} s after its call because "
                               "start was not pressed (policies.no_show_after_s); press start "
                               "when the visitor comes to the window") from None
        self._done(d, w, t)
        d.out.reply = Reply(f"DONE {t.label}", t)

    def _timed_out_at(self, d: _Draft, number: int) -> Ticket | None:
        """The last ticket called to window `number` today, if the no-show timer closed it.

        Walks today's tickets: only on a refused `done`, never on the hot path."""
        last: Ticket | None = None
        for t in self.state.tickets.values():
            t = d.ticket(t.id) or t
            if t.day == d.day and t.window == number and t.called_ms is not None \
                    and (last is None or t.called_ms > (last.called_ms or 0)):
                last = t
        done_ms = d.window(number).last_done_mono_ms
        if last is not None and last.state is TicketState.NO_SHOW \
                and last.extra.get("no_show") == "timeout" \
                and (done_ms is None or (last.finished_ms or 0) > done_ms):
            return last
        return None

    def _transfer(self, d: _Draft, cmd: c.Transfer) -> None:
        target = self._service(cmd.service)
        w, t = self._held(d, cmd.window)
        same = target.id == t.service
        note = self._line_note(target.id)
        if note is None:
            raise CommandError("no_window", f"no window serves {target.id}; {t.label} stays at "
                               f"window {w.number} (add {target.id} to a window's services)")
        moved = t.with_(state=TicketState.WAITING, service=target.id, window=None,
                        arrival=d.arrival(), queued_ms=d.now, called_ms=None, serving_ms=None,
                        recalls=0, extra=_without_slot(t.extra),
                        # To another service: right after those already in service there.
                        # To the same service: the back of the line, as a fresh arrival.
                        tier=(TIER_BENEFIT if t.category.is_benefit else TIER_NORMAL) if same
                        else TIER_TRANSFER)
        d.put(moved)
        self._release(d, w)
        d.emit("ticket.transferred", **ticket_view(t), to_service=target.id, window=w.number,
               visit=t.visit)
        d.out.reply = Reply(f"TRANSFER {t.label} -> {target.id}{note}", moved)

    def _park(self, d: _Draft, cmd: c.Park) -> None:
        w, t = self._held(d, cmd.window)
        t = t.with_(state=TicketState.PARKED, window=None, extra=_without_slot(t.extra))
        d.put(t)
        self._release(d, w)
        d.emit("ticket.parked", **ticket_view(t), window=w.number)
        d.out.reply = Reply(f"PARKED {t.label}", t)

    def _unpark(self, d: _Draft, cmd: c.Unpark) -> None:
        t = self._find_today(d, cmd.label)
        if t.state is not TicketState.PARKED:
            if self._may_come_back(t):   # the missed visitor is back: name the way that works
                raise CommandError("not_parked", f"{t.label} is a no-show, not parked; "
                                   f"return {t.label} puts it back in line")
            raise CommandError("not_parked", f"{t.label} is {t.state.value}, not parked")
        t = t.with_(state=TicketState.WAITING, arrival=d.arrival(), queued_ms=d.now,
                    tier=TIER_BENEFIT if t.category.is_benefit else TIER_NORMAL)
        d.put(t)
        d.emit("ticket.unparked", **ticket_view(t))
        d.out.reply = Reply(f"UNPARKED {t.label}", t)

    def _set_window(self, d: _Draft, number: int, state: WindowState, event: str,
                    allowed: tuple[WindowState, ...]) -> None:
        # Closing a removed window is harmless (and tidies the hall screen): allowed.
        w = d.window(number) if state is WindowState.CLOSED else \
            self._in_config(d, number, f"be {state.value}")
        if w.state is state:
            d.out.reply = Reply(f"WINDOW {number} already {state.value}")
            return
        if w.state not in allowed:
            raise CommandError("window_state", f"window {number} is {w.state.value}; cannot {event}")
        d.put_window(w.with_(state=state))
        d.emit(f"window.{event}", window=number)
        d.out.reply = Reply(f"WINDOW {number} {state.value}")

    def _pause(self, d: _Draft, cmd: c.PauseWindow) -> None:
        self._set_window(d, cmd.window, WindowState.PAUSED, "paused", (WindowState.OPEN,))
        self._visit_break(d, cmd.window, paused=True)

    def _resume(self, d: _Draft, cmd: c.ResumeWindow) -> None:
        self._set_window(d, cmd.window, WindowState.OPEN, "resumed", (WindowState.PAUSED,))
        self._visit_break(d, cmd.window, paused=False)

    def _open(self, d: _Draft, cmd: c.OpenWindow) -> None:
        self._set_window(d, cmd.window, WindowState.OPEN, "opened",
                         (WindowState.CLOSED, WindowState.PAUSED))
        self._visit_break(d, cmd.window, paused=False)

    def _visit_break(self, d: _Draft, number: int, *, paused: bool) -> None:
        """A window that just paused (or came back) with a visitor at it: the break starts
        (or ends) on the visitor's ticket, so that it is not counted as service time."""
        w = d.out.windows.get(number)   # only a window whose state this command changed
        t = d.ticket(w.ticket_id) if w is not None and w.ticket_id is not None else None
        if t is None or not t.state.at_window:
            return
        extra = dict(t.extra)
        if paused:
            extra[PAUSED_SINCE] = d.now
        elif PAUSED_SINCE in extra:
            extra[PAUSED_MS] = _paused_ms(extra, d.now)
            del extra[PAUSED_SINCE]
        else:
            return
        d.put(t.with_(extra=extra))

    def _close(self, d: _Draft, cmd: c.CloseWindow) -> None:
        w = d.window(cmd.window)
        if w.ticket_id is not None:
            t = d.ticket(w.ticket_id)
            if t is not None and t.state.at_window:
                raise CommandError("window_busy", f"window {w.number} still has {t.label}: "
                                   "finish, transfer or park it first")
        self._set_window(d, cmd.window, WindowState.CLOSED, "closed",
                         (WindowState.OPEN, WindowState.PAUSED))

    def _rate(self, d: _Draft, cmd: c.Rate) -> None:
        if not 1 <= cmd.score <= 5:
            raise CommandError("bad_rating", f"a rating is 1 to 5, got {cmd.score}")
        w = d.window(cmd.window)
        t = d.ticket(w.last_done_ticket_id) if w.last_done_ticket_id is not None else None
        if t is None or w.last_done_mono_ms is None:
            raise CommandError("rating_ignored", f"window {w.number} has no finished visit to rate")
        if d.now - w.last_done_mono_ms > self.policies.rating_window_s * 1000:
            raise CommandError("rating_ignored", f"the visit {t.label} at window {w.number} "
                               f"ended over {self.policies.rating_window_s} s ago")
        if "rating" in t.extra:
            raise CommandError("rating_ignored", f"{t.label} was already rated")
        d.put(t.with_(extra={**t.extra, "rating": cmd.score}))
        d.emit("rating.recorded", **ticket_view(t), window=w.number, visit=t.visit,
               score=cmd.score)
        d.out.reply = Reply(f"RATED {t.label} {cmd.score}", t)

    def _device_status(self, d: _Draft, cmd: c.DeviceStatus) -> None:
        before = d.devices.get(cmd.device)
        now = {"ok": cmd.ok, "detail": cmd.detail, "blocks_issue": cmd.blocks_issue}
        if before == now:
            return
        d.devices[cmd.device] = now
        d.meta_dirty = True
        alarm = f"device:{cmd.device}"
        if cmd.ok:
            d.clear_alarm(alarm, device=cmd.device)
        else:
            d.raise_alarm(alarm, f"{cmd.device}: {cmd.detail or 'not working'}", device=cmd.device,
                          severity="critical" if cmd.blocks_issue else "warning")
        d.out.reply = Reply(f"DEVICE {cmd.device} {'ok' if cmd.ok else 'down'}")

    def _printed(self, d: _Draft, cmd: c.TicketPrinted) -> None:
        t = d.ticket(cmd.ticket_id)
        if t is None:
            raise CommandError("unknown_ticket", f"no ticket #{cmd.ticket_id}")
        state = PrintState.PRINTED if cmd.ok else PrintState.FAILED
        if t.print_state is state:
            return
        # "printed" stays once set: a reprint later owed is then known as one, so a
        # printer worker started after a restart never voids a ticket the visitor holds.
        d.put(t.with_(print_state=state, extra={**t.extra, "printed": True}) if cmd.ok
              else t.with_(print_state=state))
        if cmd.ok:
            d.emit("ticket.printed", **ticket_view(t), printer=t.printer)
        else:
            d.emit("ticket.print_failed", **ticket_view(t), printer=t.printer, detail=cmd.detail)

    def _void(self, d: _Draft, cmd: c.VoidTicket) -> None:
        t = d.ticket(cmd.ticket_id)
        if t is None:
            raise CommandError("unknown_ticket", f"no ticket #{cmd.ticket_id}")
        if t.state is not TicketState.WAITING:
            raise CommandError("not_waiting", f"{t.label} is {t.state.value}; only a waiting "
                               "ticket can be voided")
        if t.print_state not in (PrintState.PENDING, PrintState.FAILED) or t.extra.get("printed"):
            # The printer's job is stale: the visitor holds the paper, or needs none any more
            # (a no-show back at a window). Voiding would take the turn of someone present.
            raise CommandError("not_owed", f"{t.label} is not owed paper (print state "
                               f"{t.print_state.value}): not voided")
        d.put(t.with_(state=TicketState.VOIDED, finished_ms=d.now))
        # A booked check-in whose ticket never printed: the visitor holds nothing, so the
        # booking lets go of the dead ticket and may be scanned again.
        code = t.booking or t.extra.get("late_booking")
        b = d.booking(code) if code else None
        reopened = b is not None and b.ticket_id == t.id
        if b is not None and reopened:
            # A late visitor's booking stays expired: the next scan is late again.
            status = BookingStatus.ACTIVE if b.status is BookingStatus.CHECKED_IN else b.status
            d.put_booking(b.with_(status=status, ticket_id=None, checked_in_ms=None))
        d.emit("ticket.voided", **ticket_view(t), reason=cmd.reason,
               **({"booking": code} if reopened else {}))
        d.out.reply = Reply(f"VOIDED {t.label}", t)

    def _record(self, d: _Draft, cmd: c.RecordEvent) -> None:
        if not cmd.type or cmd.type.startswith("ticket."):
            raise CommandError("bad_event", f"event type {cmd.type!r} is reserved or empty")
        alarm = cmd.data.get("alarm")
        if cmd.type in ("alarm.raised", "alarm.cleared") and isinstance(alarm, str) and alarm:
            # Alarms from other parts (sync's outbox alarm) live with the queue's own, so
            # status, health and the LEDs see them; raising twice records one event.
            extra = {k: v for k, v in cmd.data.items() if k not in ("alarm", "message", "severity")}
            if cmd.type == "alarm.raised":
                d.raise_alarm(alarm, str(cmd.data.get("message", alarm)),
                              str(cmd.data.get("severity", "warning")), **extra)
            else:
                d.clear_alarm(alarm, **extra)
            return
        d.emit(cmd.type, **cmd.data)

    def _reconfigure(self, d: _Draft, cmd: c.Reconfigure) -> None:
        services, windows = cmd.services, cmd.windows
        # The IIN secret is read once at start (file / credential / environment): no I/O here.
        policies = replace(cmd.policies, iin_key=self.policies.iin_key)
        new_ids = {s.id for s in services}
        for t in self.state.tickets.values():
            t = d.ticket(t.id) or t
            if not t.state.is_final and t.service not in new_ids:
                raise CommandError("config_conflict", f"service {t.service} still has ticket "
                                   f"{t.label}; keep the service until its tickets are done")
        # Nothing changes here: apply() swaps the new config in once the commit succeeded
        # (a failed write must leave the old config running). Windows merge with their
        # state in this draft (a timer may have freed one just now); all are written.
        current = {n: d.window(n) for n in self.state.windows}
        merged = _merge_windows(list(windows), current)
        for w in merged.values():
            d.put_window(w)
        d.out.config = NewConfig({s.id: s for s in services}, merged, policies,
                                 frozenset(w.number for w in windows))
        d.emit("config.applied", services=sorted(new_ids), windows=sorted(w.number for w in windows))
        d.out.reply = Reply("CONFIG applied")

    def _print_jobs(self, d: _Draft, cmd: c.PrintJobs) -> None:
        jobs = []
        for t in self.state.tickets.values():
            if t.print_state in (PrintState.PENDING, PrintState.FAILED) and t.state is TicketState.WAITING \
                    and (cmd.printer is None or t.printer == cmd.printer):
                ahead = self._ahead_of(t)
                job = self.issue_data(t, ahead, self.wait_minutes(t.service, ahead, d.now))
                if t.extra.get("printed"):
                    job["reprint"] = True  # the visitor has paper: never void this one
                jobs.append(job)
        jobs.sort(key=lambda j: j["ticket_id"])
        d.out.reply = Reply(f"{len(jobs)} tickets to print", None, {"jobs": jobs})

    def _reprint(self, d: _Draft, cmd: c.Reprint) -> None:
        t = self._find_today(d, cmd.label)
        if t.state.is_final:
            raise CommandError("ticket_final", f"{t.label} is {t.state.value}; nothing to reprint")
        printer = cmd.printer or t.printer
        if printer is None:
            raise CommandError("no_printer", f"{t.label} has no printer; name one")
        t = t.with_(printer=printer, print_state=PrintState.PENDING)
        d.put(t)
        ahead = self._ahead_of(t) if t.state is TicketState.WAITING else 0
        d.emit("ticket.reprint", **self.issue_data(t, ahead, self.wait_minutes(t.service, ahead,
                                                                                d.now)))
        d.out.reply = Reply(f"REPRINT {t.label} on {printer}", t)

    # -- bookings (issue 5; docs/bookings.md) ------------------------------------------
    def _load_bookings(self, d: _Draft, cmd: c.LoadBookings) -> None:
        """Add or update bookings; each replaces a stored one only with a higher version.

        A batch is a delta: a booking missing from it is kept (cancellations come as
        status "cancelled"). Bad entries are rejected one by one, with the reason.
        """
        if cmd.version is not None and cmd.version <= d.bookings_version:
            d.out.reply = Reply(f"BOOKINGS version {cmd.version} ignored: version "
                                f"{d.bookings_version} is loaded", data={"stale_batch": True})
            return
        changed = stale = kept = 0
        rejected: list[dict[str, Any]] = []
        for i, raw in enumerate(cmd.bookings):
            try:
                b = parse_booking(raw, self.policies.iin_key)
                if b.service not in self.services:
                    raise BookingRejected(f"service: no service {shown(b.service)} at this "
                                          f"center (services: {', '.join(self.services)})")
            except BookingRejected as e:
                # The code goes into the bookings.rejected event so central can act on it,
                # but not one that may hold an IIN (12 digits: a column shifted at central).
                code = raw.get("code") if isinstance(raw, dict) else None
                keep = isinstance(code, str) and len(code) <= 32 and not _IIN_RUN.search(code)
                rejected.append({"index": i, "code": code if keep else None,
                                 "reason": str(e)})
                continue
            old = d.booking(b.code)
            if old is not None and b.version <= old.version:
                stale += 1
                continue
            if old is not None and (old.status is BookingStatus.CHECKED_IN
                                    or old.ticket_id is not None):
                # The visitor is in the building with a ticket (on time or late): that
                # fact wins.
                kept += 1
                d.put_booking(old.with_(version=b.version))
                continue
            if b.status is BookingStatus.ACTIVE and b.day < d.day:
                b = b.with_(status=BookingStatus.EXPIRED)
            d.put_booking(b)
            changed += 1
        if cmd.version is not None:
            d.bookings_version = cmd.version
            d.meta_dirty = True
        summary = {"version": cmd.version, "received": len(cmd.bookings), "changed": changed,
                   "unchanged": stale, "kept_checked_in": kept, "rejected": len(rejected)}
        d.emit("bookings.loaded", **summary, source=cmd.source)
        if rejected:
            d.emit("bookings.rejected", version=cmd.version, items=rejected[:100])
        d.out.reply = Reply(f"BOOKINGS {changed} changed, {stale} unchanged, {kept} kept "
                            f"(checked in), {len(rejected)} rejected",
                            data={**summary, "rejected_items": rejected})

    def _checkin_code(self, d: _Draft, cmd: c.CheckIn) -> None:
        code = cmd.code.strip().upper()
        b = d.booking(code)
        if b is None:
            # An ID card's barcode is the IIN: the refusal is logged and shown in health.
            what = ("this code (12 digits in a row, as in an IIN: not shown)"
                    if _IIN_RUN.search(code) else f"code {code}")
            raise Refusal("unknown_booking", f"no booking with {what} at this center")
        self._check_in(d, b, cmd.printer, cmd.source)

    def _checkin_iin(self, d: _Draft, cmd: c.CheckInIin) -> None:
        iin = cmd.iin.strip()
        if not iin_valid(iin):
            # Never repeat the number: it may be someone's real IIN with a typo.
            raise Refusal("bad_iin", "not a valid IIN: 12 digits with a correct check digit")
        key = self.policies.iin_key
        if key is None:
            raise CommandError("iin_not_configured", "check-in by IIN needs the site's IIN "
                               "secret: set [bookings] iin_secret_file or $KEZEK_IIN_SECRET")
        h = iin_hmac(key, iin)
        found = [b for b in (d.booking(code) for code in sorted(self._by_iin.get(h, ())))
                 if b is not None and b.iin_hmac == h]
        if not found:
            raise Refusal("unknown_booking", "no booking for this IIN at this center")
        order = {BookingStatus.ACTIVE: 0, BookingStatus.EXPIRED: 1, BookingStatus.CHECKED_IN: 2,
                 BookingStatus.REBOOKED: 3, BookingStatus.CANCELLED: 4}
        # Today's open booking with the earliest slot; else the nearest other day.
        found.sort(key=lambda b: (b.day != d.day, order[b.status], b.day < d.day,
                                  b.day if b.day >= d.day else "~" + b.day, b.slot_start, b.code))
        self._check_in(d, found[0], cmd.printer, cmd.source)

    def _check_in(self, d: _Draft, b: Booking, printer: str | None, source: str) -> None:
        pol, rules = self.policies, self.policies.bookings
        if b.site and pol.site and b.site != pol.site:
            raise Refusal("other_center", f"booking {b.code} is for center {b.site}, "
                          f"this is {pol.site}")
        if b.status is BookingStatus.CANCELLED:
            raise Refusal("booking_cancelled", f"booking {b.code} was cancelled")
        if b.status is BookingStatus.REBOOKED:
            raise Refusal("booking_rebooked", f"booking {b.code} was moved to another time"
                          + (f" (new booking {b.rebooked_to})" if b.rebooked_to else ""))
        # A late visitor's walk-in ticket is recorded too (status expired): one ticket per
        # booking, however often the code is scanned.
        if b.status is BookingStatus.CHECKED_IN or b.ticket_id is not None:
            t = d.ticket(b.ticket_id) if b.ticket_id is not None else None
            label = t.label if t else "?"
            # A visitor who missed the call scans again: their ticket can come back
            # (docs/queue.md), so say how, or they get a second, walk-in ticket.
            how = ""
            if t is not None and t.state is TicketState.NO_SHOW and t.day == d.day \
                    and self._open_today(t):
                at = local_time(t.finished_ms or d.now, self.tz).strftime("%H:%M")
                how = f", a no-show at {at}: return {label} puts it back in line"
            raise Refusal("already_checked_in", f"booking {b.code} is already checked in "
                          f"(ticket {label}{how})", ticket=label)
        shown_day = ".".join(reversed(b.day.split("-")))
        if b.day != d.day:
            raise Refusal("wrong_day", f"booking {b.code} is for {b.day}, today is {d.day}",
                          day=shown_day)
        s = self._service(b.service)
        slot = b.slot_ms(self.tz)
        if d.now < slot - rules.early_ms:
            opens = local_time(slot - rules.early_ms, self.tz).strftime("%H:%M")
            raise Refusal("too_early", f"booking {b.code} is at {b.slot_start}; check-in "
                          f"opens at {opens}", slot=b.slot_start, from_time=opens)
        if d.now > slot + rules.late_ms or b.status is BookingStatus.EXPIRED:
            closed = local_time(slot + rules.late_ms, self.tz).strftime("%H:%M")
            # A booking_only service takes no walk-ins: a late visitor must book again,
            # so say "late" with the slot rather than "for booked visitors only".
            if rules.late_action == "refuse" or pol.rules(s.id).mode == "booking_only":
                raise Refusal("too_late", f"booking {b.code} was at {b.slot_start}; check-in "
                              f"closed at {closed}", slot=b.slot_start)
            self._walk_in_allowed(d, s)
            # An ordinary ticket, not booked; extra names the booking so a void frees it.
            t = self._issue_ticket(d, s, Category.NORMAL, printer, source,
                                   extra={"late_booking": b.code})
            d.put_booking(b.with_(status=BookingStatus.EXPIRED, ticket_id=t.id,
                                  checked_in_ms=d.now))
            d.emit("booking.late", booking=b.code, service=s.id, slot_start=b.slot_start,
                   ticket_id=t.id, ticket=t.label, late_s=max(0, (d.now - slot) // 1000))
            d.out.reply = Reply(f"LATE {b.code} (slot {b.slot_start}): walk-in {d.out.reply.text}",
                                t, {**d.out.reply.data, "late": True})
            return
        due = d.now >= slot - rules.call_ahead_ms
        t = self._issue_ticket(d, s, Category.NORMAL, printer, source, booking=b.code,
                               tier=TIER_BOOKED if due else TIER_NORMAL,
                               extra={} if due else {"slot_ms": slot})
        d.put_booking(b.with_(status=BookingStatus.CHECKED_IN, ticket_id=t.id, checked_in_ms=d.now))
        d.emit("booking.checked_in", booking=b.code, service=s.id, slot_start=b.slot_start,
               ticket_id=t.id, ticket=t.label, early_s=max(0, (slot - d.now) // 1000),
               late_s=max(0, (d.now - slot) // 1000), source=source)
        d.out.reply = Reply(f"CHECKIN {b.code} slot {b.slot_start}: {d.out.reply.text}", t,
                            {**d.out.reply.data, "slot_start": b.slot_start})

