"""Issuing and numbering: a walk-in ticket, the day's refusals, numbers, waits, ahead."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from edge.errors import CommandError
from edge.queue import commands as c
from edge.queue import estimates
from edge.queue.bookings import BookingStatus
from edge.queue.engine.draft import (Draft, EngineData, Handler, find_service, ticket_view,
                                     unsynced_mark, waiting_ahead)
from edge.queue.engine.state import Counter, Reply
from edge.queue.lines import TIER_BENEFIT, TIER_NORMAL
from edge.queue.model import Category, PrintState, Service, Ticket, TicketState, WindowState
from edge.queue.policies import Policies, Refusal, capacity_left
from edge.queue.timebase import local_time


def issue(d: Draft, cmd: c.IssueTicket) -> None:
    e = d.e
    s = find_service(e, cmd.service)
    category = Category(cmd.category)
    walk_in_allowed(d, s, category)
    issue_ticket(d, s, category, cmd.printer, cmd.source, token=cmd.token)


def issue_ticket(d: Draft, s: Service, category: Category, printer: str | None,
                 source: str, booking: str | None = None, tier: int | None = None,
                 extra: dict[str, Any] | None = None, waits_from: int | None = None,
                 token: str | None = None) -> Ticket:
    """A new waiting ticket. `waits_from`: the moment its wait starts when that is later
    than now (a booked visitor early for the slot waits from the slot: checkin.check_in).
    `token`: the visitor page's secret, made by whoever submitted the command."""
    e = d.e
    if printer is not None:
        dev = d.devices.get(f"printer:{printer}")
        if dev is not None and not dev.get("ok", True):
            detail = dev.get("detail") or "offline"
            raise CommandError("printer_down",
                               f"printer {printer} cannot print ({detail}); no ticket issued")
    number = next_number(d, s)
    tid = d.next_ticket_id
    d.next_ticket_id += 1
    if tier is None:
        tier = TIER_BENEFIT if category.is_benefit else TIER_NORMAL
    t = Ticket(id=tid, day=d.day, service=s.id, number=number, label=s.label(number),
               category=category, state=TicketState.WAITING, visit=f"{d.day}/{tid}",
               arrival=d.arrival(), tier=tier, issued_ms=d.now,
               queued_ms=max(d.now, waits_from or d.now),
               origin_service=s.id, booking=booking,
               print_state=PrintState.PENDING if printer else PrintState.NONE,
               printer=printer, extra=unsynced_mark(extra or {}, d.reading), token=token)
    d.put(t)
    d.out.counters[s.id] = Counter(d.day, number)
    ahead = waiting_ahead(e, s.id, tier)
    wait = wait_minutes(e, s.id, ahead, d.now)
    if t.queued_ms > d.now:
        # Called from the slot on, not before: the estimate says at least that long.
        wait = max(wait, math.ceil((t.queued_ms - d.now) / 60_000))
    data = issue_data(e, t, ahead, wait)
    d.emit("ticket.issued", **data, source=source)
    d.out.reply = Reply(f"TICKET {t.label} {s.id} ahead={ahead} wait={wait}min", t, data)
    return t


def walk_in_allowed(d: Draft, s: Service, category: Category = Category.NORMAL) -> None:
    """Refuse a walk-in ticket the day's policies do not allow (a Refusal says why)."""
    e = d.e
    pol = e.policies
    rules = pol.rules(s.id)
    if pol.mode_of(s.id) == "booking_only" and category.value not in pol.walk_in_categories:
        center = pol.mode == "booking_only" and rules.mode != "booking_only"
        raise Refusal("booking_only", f"{'this center' if center else f'service {s.id}'} "
                      "serves booked visitors only; book on egov.kz, in the eGov mobile "
                      "app, with the eGov Telegram bot or by phone 1414", service=s.id,
                      scope="center" if center else "service")
    now = local_time(d.now, e.tz)
    if not pol.schedule.is_open(now):
        nxt = pol.schedule.next_opening(now)
        raise Refusal("closed", "the center is closed now; it opens "
                      f"{nxt.strftime('%a %d.%m %H:%M') if nxt else 'not within two weeks'}",
                      opens=nxt.strftime("%d.%m %H:%M") if nxt else "")
    if rules.daily_cap is not None:
        # A voided ticket never reached a visitor (its paper did not come out).
        issued = sum(1 for t in e.state.tickets.values()
                     if t.day == d.day and t.origin_service == s.id
                     and t.state is not TicketState.VOIDED)
        if issued >= rules.daily_cap:
            raise Refusal("daily_cap", f"service {s.id} has issued its {rules.daily_cap} "
                          "tickets for today", service=s.id, cap=rules.daily_cap,
                          **next_day(pol, now))
    left = pol.schedule.minutes_left(now) if pol.capacity_stop else None
    if left is not None:
        waiting = sum(n for (sid, _), n in e._tier_counts.items() if sid == s.id)
        pending = booked_pending(d, s.id)
        unsold = unsold_places(d, s.id, now)
        room = capacity_left(left, capacity_windows(e, s.id), avg_minutes(e, s.id),
                             waiting, pending + unsold)
        if room < 1:
            kept = f" and {unsold} places of later slots kept for bookings" if unsold else ""
            raise Refusal("capacity_full", f"no more tickets for {s.id} today: {left:.0f} "
                          f"working minutes are left for {waiting} waiting and {pending} "
                          f"booked visitors{kept}", service=s.id, waiting=waiting,
                          booked=pending, **next_day(pol, now))


def next_day(pol: Policies, now: dt.datetime) -> dict[str, str]:
    """{"opens": "24.11 09:00"}: when the center opens on a later day (the calendar's
    closed and shortened days included), for a "no more tickets today" answer."""
    if pol.schedule.hours is None and not pol.schedule.dated:
        return {}
    midnight = dt.datetime(now.year, now.month, now.day, tzinfo=now.tzinfo)
    at = pol.schedule.next_opening(midnight + dt.timedelta(days=1, microseconds=-1))
    return {"opens": at.strftime("%d.%m %H:%M")} if at is not None else {}


def unsold_places(d: Draft, service: str, now: dt.datetime) -> int:
    """Places of today's later slots not booked yet, for a service with a slot quota: the
    portal may still sell them, so walk-ins do not take them (docs/bookings.md)."""
    e = d.e
    pol = e.policies
    quota = pol.rules(service).slot_quota
    if quota is None:
        return 0
    minute = now.hour * 60 + now.minute + now.second / 60
    unsold = 0
    for start in pol.schedule.slot_starts(now.date(), pol.slot_ms // 60_000):
        if start > minute:
            held = e._slot_holds.get((d.day, service, f"{start // 60:02d}:{start % 60:02d}"), 0)
            unsold += max(0, quota - held)
    return unsold


def booked_pending(d: Draft, service: str) -> int:
    """Active bookings of today for `service` not checked in yet (they hold capacity)."""
    e = d.e
    n = 0
    for code in e._open_bookings:
        b = d.booking(code)
        if b is not None and b.status is BookingStatus.ACTIVE and b.day == d.day \
                and b.service == service:
            n += 1
    return n


def next_number(d: Draft, s: Service) -> int:
    e = d.e
    counter = d.out.counters.get(s.id) or e.state.counters.get(s.id)
    # A transferred ticket keeps its number (A-005 served in realty): numbers in use are
    # counted by the service that issued them.
    active = e._numbers.get((d.day, s.id), set())
    # A no-show's number stays its own while another is free: once the numbers wrap,
    # its visitor could not come back (`return A-001` would find the newcomer's A-001).
    missed = e._missed.get((d.day, s.id), {})
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


def capacity_windows(e: EngineData, service: str) -> int:
    configured = e.windows_in_config
    return estimates.line_windows((w.state is WindowState.CLOSED, w.weights.get(service, 0))
                                  for w in e.state.windows.values()
                                  if w.number in configured)


def ahead_of(e: EngineData, t: Ticket) -> int:
    """Waiting tickets called before `t` as things stand (for paper printed after the
    issue). Walks the live tickets: print jobs and reprints only, never the hot path."""
    n = sum(k for (sid, tier), k in e._tier_counts.items()
            if sid == t.service and tier < t.tier)
    for tid in e._live:
        o = e.state.tickets.get(tid)
        if o is not None and o.state is TicketState.WAITING and o.service == t.service \
                and o.tier == t.tier and o.arrival < t.arrival:
            n += 1
    return n


def avg_minutes(e: EngineData, service: str) -> float:
    """Minutes per visitor of `service`: rolling average of real service times."""
    s = e.services.get(service)
    return e._times.avg_minutes(service, s.avg_minutes if s else 10.0)


def wait_minutes(e: EngineData, service: str, ahead: int, now_ms: int) -> int:
    """Minutes a newcomer with `ahead` people ahead waits from `now_ms`, on the clock."""
    # The windows that will serve the line: a window paused for a break comes back
    # (all of them paused at lunch is not "one window"), a closed one does not.
    work = estimates.work_minutes(ahead, avg_minutes(e, service),
                                  capacity_windows(e, service))
    schedule = e.policies.schedule
    if schedule.hours is None:
        return math.ceil(work)
    # The day's breaks and the time before opening add to the wait: no one is served then.
    return math.ceil(round(schedule.wall_minutes(local_time(now_ms, e.tz), work), 6))


def issue_data(e: EngineData, t: Ticket, ahead: int, wait_min: int) -> dict[str, Any]:
    return {**ticket_view(t), "category": t.category.value, "booked": t.booked,
            "visit": t.visit, "day": t.day, "number": t.number, "ahead": ahead,
            "wait_min": wait_min, "printer": t.printer, "booking": t.booking,
            "issued_at": local_time(t.issued_ms, e.tz).strftime("%Y-%m-%dT%H:%M:%S"),
            **({"token": t.token} if t.token else {})}


HANDLERS: dict[type[c.Command], Handler] = {c.IssueTicket: issue}
