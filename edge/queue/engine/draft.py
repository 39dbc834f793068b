"""The working copy one decide() writes to, the engine's data, and the shared look-ups.

Every handler module imports this one (and the domain modules below it); this module
imports no handler module and not the core, so the engine has no import circle:
core -> handler modules -> draft -> state and the domain.
"""

from __future__ import annotations

import re
import zoneinfo
from collections import deque
from typing import Any, Callable

from edge.clock import ClockReading
from edge.errors import CommandError
from edge.queue.bookings import Booking
from edge.queue.engine.state import EngineState, Outcome, Reply
from edge.queue.estimates import ServiceTimes
from edge.queue.events import Event
from edge.queue.lines import Line
from edge.queue.model import Service, Ticket, TicketState, Window, WindowState
from edge.queue.policies import Policies
from edge.queue.snapshot import CallView, ServiceView, WindowView
from edge.queue.timebase import TimeStep


RECENT_CALLS = 12   # the calls the hall screen and boards list

# A no-show back in its line remembers when it was missed: until policies.no_show_return_min
# has passed since then it is called in its turn only, not by number (see
# calling.call_ticket).
NO_SHOW_MS = "no_show_ms"

# A visit at a window that pauses for a break (lunch with the visitor still at the window,
# or "done" pressed only after it) is not service time: the break is kept on the ticket
# and left out of its service_s and of the service's average (docs/queue.md).
PAUSED_SINCE = "paused_since"   # wall ms the window paused, while it is paused
PAUSED_MS = "paused_ms"         # pauses already over, during this call's visit
NOT_AFTER_A_CALL = ("slot_ms", NO_SHOW_MS, PAUSED_SINCE, PAUSED_MS)
# The keys of `extra` that hold a moment on the effective clock (not a duration, and not a
# booking's slot, which is real time already): day.shifted moves them with the ticket's
# times.
EXTRA_MOMENTS = (NO_SHOW_MS, PAUSED_SINCE)

UNSYNCED_BOOT = "issued_unsynced_boot"


class EngineData:
    """The configuration in effect, the committed state, and the indexes apply() keeps
    so that no per-command rule walks every ticket. QueueEngine (core.py) adds the
    handler registry, decide() and apply(); handlers read this through `Draft.e`."""

    def __init__(self, services: list[Service], windows: list[Window], tz: str,
                 policies: Policies | None = None, state: EngineState | None = None) -> None:
        self.tz = zoneinfo.ZoneInfo(tz)
        self.policies = policies or Policies()
        self.services: dict[str, Service] = {s.id: s for s in services}
        self.state = state or EngineState()
        # A window removed from the config is kept while it holds a visitor (see
        # merge_windows); it finishes that visitor but takes no one new.
        self.windows_in_config: frozenset[int] = frozenset(w.number for w in windows)
        self.state.windows = merge_windows(windows, self.state.windows)
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
        self._unprinted: set[int] = set()        # waiting tickets whose paper is still owed
        # (day, origin service) -> numbers in use
        self._numbers: dict[tuple[str, str], set[int]] = {}
        # (day, origin service) -> number -> how many no-shows that may come back hold it: a
        # newcomer gets such a number only when no other is free (see issuing.next_number).
        self._missed: dict[tuple[str, str], dict[int, int]] = {}
        self._open_bookings: set[str] = set()    # codes of active bookings (timers, capacity)
        self._by_iin: dict[str, set[str]] = {}   # iin_hmac -> booking codes
        # (day, service, slot_start) -> bookings holding a place in that slot (slot quotas:
        # see issuing.booked_reserve, checkin.over_quota).
        self._slot_holds: dict[tuple[str, str, str], int] = {}
        # Timer memo: (generation, next deadline). decide() skips the timer scan while the
        # state is unchanged and no deadline has come; a cache, so decide() stays pure.
        self._gen = 0
        self._day_end: tuple[str, int] = ("", 0)  # (business day, UTC ms its next day starts)
        self._timer_memo: tuple[int, int | None] = (-1, None)


class Draft:
    """A working copy for one decide(): reads fall through to the engine, writes stay here."""

    def __init__(self, engine: EngineData, step: TimeStep, reading: ClockReading) -> None:
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

    def raise_alarm(self, alarm: str, message: str, severity: str = "warning",
                    **extra: Any) -> None:
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


# A command handler: reads through the draft, writes only into it (see core.decide).
Handler = Callable[[Draft, Any], None]


def merge_windows(configured: list[Window], saved: dict[int, Window]) -> dict[int, Window]:
    """Configured windows with the runtime state of `saved` (state, ticket, last visit)."""
    merged: dict[int, Window] = {}
    for w in configured:
        old = saved.get(w.number)
        if old is not None:
            w = w.with_(state=old.state, ticket_id=old.ticket_id,
                        last_done_ticket_id=old.last_done_ticket_id,
                        last_done_mono_ms=old.last_done_mono_ms, operator=old.operator)
        merged[w.number] = w
    # A window removed from the config keeps existing while it holds a ticket.
    for n, old in saved.items():
        if n not in merged and old.ticket_id is not None:
            merged[n] = old
    return merged


def without_slot(extra: dict[str, Any]) -> dict[str, Any]:
    """A ticket's extra without slot_ms (the early booked visitor's pending promotion)."""
    return {k: v for k, v in extra.items() if k != "slot_ms"} if "slot_ms" in extra else extra


def called_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """A called ticket's extra: it has had its turn, so no pending slot promotion, no
    return delay and no earlier visit's breaks are left."""
    if not any(k in extra for k in NOT_AFTER_A_CALL):
        return extra
    return {k: v for k, v in extra.items() if k not in NOT_AFTER_A_CALL}


def paused_ms(extra: dict[str, Any], now: int) -> int:
    """Break time of the visit so far: the pauses over, and the one going on."""
    since = extra.get(PAUSED_SINCE)
    return int(extra.get(PAUSED_MS, 0)) + (max(0, now - int(since)) if since is not None else 0)


def minutes_ago(ms: int) -> str:
    minutes = ms // 60_000
    return f"{minutes} min ago" if minutes else "under a minute ago"


def number_key(t: Ticket) -> tuple[str, str]:
    return (t.day, t.origin_service or t.service)


def label_key(label: str) -> tuple[str, int] | None:
    """("A", 17) for A-017, A17, a-17 or "A 17"; None for anything that is not a label."""
    m = re.fullmatch(r"\s*([^\W\d_]+)\s*-?\s*(\d+)\s*", label.upper())
    return (m[1], int(m[2])) if m else None


def unsynced_mark(extra: dict[str, Any], r: ClockReading) -> dict[str, Any]:
    """A ticket issued before NTP set the clock remembers the boot it was issued in: if the
    clock's step then starts a new day, it is the morning's ticket (see day.roll_day)."""
    return extra if r.synced else {**extra, UNSYNCED_BOOT: r.boot}


def ticket_view(t: Ticket) -> dict[str, Any]:
    return {"ticket_id": t.id, "ticket": t.label, "service": t.service}


def find_service(e: EngineData, sid: str) -> Service:
    s = e.services.get(sid)
    if s is None:
        raise CommandError("unknown_service",
                           f"no service {sid!r} (services: {', '.join(e.services)})")
    return s


def held_at(d: Draft, number: int, action: str = "",
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


def find_today(d: Draft, label: str) -> Ticket:
    e = d.e
    label = label.strip().upper()
    # An operator types "A17", "a-17" or "A 017" for the A-017 on the board.
    key = label_key(label)
    found = [t for t in e.state.tickets.values() if t.day == d.day
             and (t.label == label or (key is not None and label_key(t.label) == key))]
    found = [d.ticket(t.id) or t for t in found]
    live = [t for t in found if not t.state.is_final]
    if live:
        return live[-1]
    if found:
        return found[-1]
    raise CommandError("unknown_ticket", f"no ticket {label} today; check the number (a "
                       "ticket of an earlier day is closed: the visitor takes a new one)")


def in_config(d: Draft, number: int, action: str) -> Window:
    """Window `number`, refused for `action` when a reload removed it from the config."""
    e = d.e
    w = d.window(number)
    if number not in e.windows_in_config:
        held = d.ticket(w.ticket_id) if w.ticket_id is not None else None
        now = f"; finish, transfer or park {held.label} there" \
            if held is not None and held.state.at_window else ""
        raise CommandError("window_removed", f"window {number} is no longer in the "
                           f"configuration: it cannot {action}{now}")
    return w


def release(d: Draft, w: Window, done: Ticket | None = None) -> None:
    if done is not None:
        d.put_window(w.with_(ticket_id=None, last_done_ticket_id=done.id,
                             last_done_mono_ms=d.now))
    else:
        d.put_window(w.with_(ticket_id=None))


def no_show_ticket(d: Draft, w: Window, t: Ticket, auto: bool,
                   reason: str | None = None) -> None:
    # The reason stays on the ticket so a later `done` at the window can say why the
    # visitor is gone (see calling.finish).
    t = t.with_(state=TicketState.NO_SHOW, finished_ms=d.now,
                extra={**t.extra, "no_show": reason} if reason else t.extra)
    d.put(t)
    release(d, w)
    d.emit("ticket.no_show", **ticket_view(t), window=w.number, operator=w.operator,
           calls=t.recalls + 1, auto=auto,
           **({"reason": reason} if reason else {}))


def waiting_ahead(e: EngineData, service: str, tier: int) -> int:
    return sum(n for (s, t), n in e._tier_counts.items() if s == service and t <= tier)


def line_note(e: EngineData, service: str) -> str | None:
    """Before a visitor is put in `service`'s line: None when no window serves it (the
    visitor would wait for a call that cannot come), else the note for the answer ("",
    or that no such window is open now). A walk over the windows: not the hot path."""
    serving = [x for x in e.state.windows.values()
               if service in x.weights and x.number in e.windows_in_config]
    if not serving:
        return None
    return "" if any(x.state is WindowState.OPEN for x in serving) else \
        f" (no window open for {service} now)"


def may_come_back(e: EngineData, t: Ticket) -> bool:
    """A no-show whose visitor may still come back (docs/queue.md, "A no-show who comes
    back"): its day's roll has not closed it, and the center lets no-shows return."""
    return t.state is TicketState.NO_SHOW and e.policies.no_show_return_min > 0


def open_today(e: EngineData, t: Ticket) -> bool:
    """Whether `t` may still change on its business day: it is live, or it is a no-show
    whose visitor may come back. Done and voided tickets, and no-shows where they are
    final, are closed for good."""
    return not t.state.is_final or may_come_back(e, t)
