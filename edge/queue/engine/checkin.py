"""Bookings and check-in (docs/bookings.md): load a batch, check in by code or by IIN."""

from __future__ import annotations

import re
from typing import Any

from edge.errors import CommandError
from edge.queue import commands as c
from edge.queue.bookings import (Booking, BookingRejected, BookingStatus, iin_hmac, iin_valid,
                                 parse_booking, shown)
from edge.queue.engine.draft import Draft, Handler, find_service, open_today
from edge.queue.engine.issuing import issue_ticket, walk_in_allowed
from edge.queue.engine.state import Reply
from edge.queue.lines import TIER_BOOKED, TIER_NORMAL
from edge.queue.model import Category, TicketState
from edge.queue.policies import Refusal
from edge.queue.timebase import local_time


# An IIN is 12 digits: a booking code holding a run of them is not put into an event.
IIN_RUN = re.compile(r"\d{12}")


def load_bookings(d: Draft, cmd: c.LoadBookings) -> None:
    """Add or update bookings; each replaces a stored one only with a higher version.

    A batch is a delta: a booking missing from it is kept (cancellations come as
    status "cancelled"). Bad entries are rejected one by one, with the reason.
    """
    e = d.e
    if cmd.version is not None and cmd.version <= d.bookings_version:
        d.out.reply = Reply(f"BOOKINGS version {cmd.version} ignored: version "
                            f"{d.bookings_version} is loaded", data={"stale_batch": True})
        return
    changed = stale = kept = 0
    rejected: list[dict[str, Any]] = []
    held: dict[tuple[str, str, str], int] = {}   # slot -> places taken, after this batch
    for i, raw in enumerate(cmd.bookings):
        try:
            b = parse_booking(raw, e.policies.iin_key)
            if b.service not in e.services:
                raise BookingRejected(f"service: no service {shown(b.service)} at this "
                                      f"center (services: {', '.join(e.services)})")
        except BookingRejected as err:
            # The code goes into the bookings.rejected event so central can act on it,
            # but not one that may hold an IIN (12 digits: a column shifted at central).
            code = raw.get("code") if isinstance(raw, dict) else None
            keep = isinstance(code, str) and len(code) <= 32 and not IIN_RUN.search(code)
            rejected.append({"index": i, "code": code if keep else None,
                             "reason": str(err)})
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
        slot_change(d, held, old, -1)
        slot_change(d, held, b, 1)
        d.put_booking(b)
        changed += 1
    if cmd.version is not None:
        d.bookings_version = cmd.version
        d.meta_dirty = True
    summary = {"version": cmd.version, "received": len(cmd.bookings), "changed": changed,
               "unchanged": stale, "kept_checked_in": kept, "rejected": len(rejected)}
    d.emit("bookings.loaded", **summary, source=cmd.source)
    over = over_quota(d, held)
    if over:
        # Kept all the same: the visitor holds a confirmation from the portal. Central
        # (and the IT person, in the log of events) learns its quota and ours differ.
        d.emit("bookings.over_quota", version=cmd.version, slots=over[:100])
    if rejected:
        d.emit("bookings.rejected", version=cmd.version, items=rejected[:100])
    d.out.reply = Reply(f"BOOKINGS {changed} changed, {stale} unchanged, {kept} kept "
                        f"(checked in), {len(rejected)} rejected",
                        data={**summary, "rejected_items": rejected})


def slot_change(d: Draft, held: dict[tuple[str, str, str], int], b: Booking | None,
                delta: int) -> None:
    """Count `b` in or out of its slot's places as this batch changes it."""
    if b is None or not b.holds_place:
        return
    k = (b.day, b.service, b.slot_start)
    if k not in held:
        held[k] = d.e._slot_holds.get(k, 0)
    held[k] += delta


def over_quota(d: Draft, held: dict[tuple[str, str, str], int]) -> list[dict[str, Any]]:
    """The slots of today or later this batch left with more bookings than the quota."""
    out = []
    for (day, service, start), n in sorted(held.items()):
        quota = d.e.policies.rules(service).slot_quota
        if quota is not None and n > quota and day >= d.day:
            out.append({"service": service, "day": day, "slot_start": start, "booked": n,
                        "quota": quota})
    return out


def check_in_code(d: Draft, cmd: c.CheckIn) -> None:
    code = cmd.code.strip().upper()
    b = d.booking(code)
    if b is None:
        # An ID card's barcode is the IIN: the refusal is logged and shown in health.
        what = ("this code (12 digits in a row, as in an IIN: not shown)"
                if IIN_RUN.search(code) else f"code {code}")
        raise Refusal("unknown_booking", f"no booking with {what} at this center")
    check_in(d, b, cmd.printer, cmd.source, cmd.token)


def check_in_iin(d: Draft, cmd: c.CheckInIin) -> None:
    e = d.e
    iin = cmd.iin.strip()
    if not iin_valid(iin):
        # Never repeat the number: it may be someone's real IIN with a typo.
        raise Refusal("bad_iin", "not a valid IIN: 12 digits with a correct check digit")
    key = e.policies.iin_key
    if key is None:
        raise CommandError("iin_not_configured", "check-in by IIN needs the site's IIN "
                           "secret: set [bookings] iin_secret_file or $KEZEK_IIN_SECRET")
    h = iin_hmac(key, iin)
    found = [b for b in (d.booking(code) for code in sorted(e._by_iin.get(h, ())))
             if b is not None and b.iin_hmac == h]
    if not found:
        raise Refusal("unknown_booking", "no booking for this IIN at this center")
    order = {BookingStatus.ACTIVE: 0, BookingStatus.EXPIRED: 1, BookingStatus.CHECKED_IN: 2,
             BookingStatus.REBOOKED: 3, BookingStatus.CANCELLED: 4}
    # Today's open booking with the earliest slot; else the nearest other day.
    found.sort(key=lambda b: (b.day != d.day, order[b.status], b.day < d.day,
                              b.day if b.day >= d.day else "~" + b.day, b.slot_start, b.code))
    check_in(d, found[0], cmd.printer, cmd.source, cmd.token)


def check_in(d: Draft, b: Booking, printer: str | None, source: str,
             token: str | None = None) -> None:
    e = d.e
    pol, rules = e.policies, e.policies.bookings
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
                and open_today(e, t):
            at = local_time(t.finished_ms or d.now, e.tz).strftime("%H:%M")
            how = f", a no-show at {at}: return {label} puts it back in line"
        raise Refusal("already_checked_in", f"booking {b.code} is already checked in "
                      f"(ticket {label}{how})", ticket=label)
    shown_day = ".".join(reversed(b.day.split("-")))
    if b.day != d.day:
        raise Refusal("wrong_day", f"booking {b.code} is for {b.day}, today is {d.day}",
                      day=shown_day)
    s = find_service(e, b.service)
    slot = b.slot_ms(e.tz)
    if d.now < slot - rules.early_ms:
        opens = local_time(slot - rules.early_ms, e.tz).strftime("%H:%M")
        raise Refusal("too_early", f"booking {b.code} is at {b.slot_start}; check-in "
                      f"opens at {opens}", slot=b.slot_start, from_time=opens)
    if d.now > slot + rules.late_ms or b.status is BookingStatus.EXPIRED:
        closed = local_time(slot + rules.late_ms, e.tz).strftime("%H:%M")
        # A booking_only service takes no walk-ins: a late visitor must book again,
        # so say "late" with the slot rather than "for booked visitors only".
        if rules.late_action == "refuse" or pol.mode_of(s.id) == "booking_only":
            raise Refusal("too_late", f"booking {b.code} was at {b.slot_start}; check-in "
                          f"closed at {closed}", slot=b.slot_start)
        walk_in_allowed(d, s)
        # An ordinary ticket, not booked; extra names the booking so a void frees it.
        t = issue_ticket(d, s, Category.NORMAL, printer, source,
                         extra={"late_booking": b.code}, token=token)
        d.put_booking(b.with_(status=BookingStatus.EXPIRED, ticket_id=t.id,
                              checked_in_ms=d.now))
        d.emit("booking.late", booking=b.code, service=s.id, slot_start=b.slot_start,
               ticket_id=t.id, ticket=t.label, late_s=max(0, (d.now - slot) // 1000))
        d.out.reply = Reply(f"LATE {b.code} (slot {b.slot_start}): walk-in {d.out.reply.text}",
                            t, {**d.out.reply.data, "late": True})
        return
    due = d.now >= slot - rules.call_ahead_ms
    # Early, the visitor waits from the slot, not from the check-in: the wait alarm
    # (max_wait_min) and the wait reported at the call count from the slot time.
    t = issue_ticket(d, s, Category.NORMAL, printer, source, booking=b.code,
                     tier=TIER_BOOKED if due else TIER_NORMAL,
                     extra={} if due else {"slot_ms": slot}, waits_from=slot, token=token)
    d.put_booking(b.with_(status=BookingStatus.CHECKED_IN, ticket_id=t.id, checked_in_ms=d.now))
    d.emit("booking.checked_in", booking=b.code, service=s.id, slot_start=b.slot_start,
           ticket_id=t.id, ticket=t.label, early_s=max(0, (slot - d.now) // 1000),
           late_s=max(0, (d.now - slot) // 1000), source=source)
    d.out.reply = Reply(f"CHECKIN {b.code} slot {b.slot_start}: {d.out.reply.text}", t,
                        {**d.out.reply.data, "slot_start": b.slot_start})


HANDLERS: dict[type[c.Command], Handler] = {
    c.LoadBookings: load_bookings, c.CheckIn: check_in_code, c.CheckInIin: check_in_iin,
}
