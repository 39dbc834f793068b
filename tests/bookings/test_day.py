"""A whole simulated working day on the manual clock: hours, break, cap, recalls, no-show
timer, SLA alarms, bookings, capacity stop, closing, and the next morning."""

from __future__ import annotations

import math

from edge.queue import commands as c
from edge.queue.bookings import BookingStatus

from .conftest import TODAY, booking

POLICIES = {
    "recall_limit": 3,
    "recall_min_interval_s": 15,
    "no_show_after_s": 120,
    "hours": {day: {"open": "09:00", "close": "18:00", "breaks": ["13:00-14:00"]}
              for day in ("mon", "tue", "wed", "thu", "fri")},
    "closed_dates": ["2026-11-25"],
    "services": {
        "docs": {"max_wait_min": 30, "max_service_min": 20, "visit_sla_min": 60},
        "realty": {"daily_cap": 3},
    },
}


def alarms(center) -> set[str]:
    return set(center.controller.snapshot.alarms)


def test_a_whole_day(make_center) -> None:
    center = make_center(policies=POLICIES)
    center.call(c.LoadBookings((booking("BK-1", "10:00"), booking("BK-2", "17:40"),
                                booking("BK-3", "11:00")), 1))

    # 09:00 — open. The realty cap is 3 tickets a day.
    assert [center.label(c.IssueTicket("realty")) for _ in range(3)] == ["B-001", "B-002", "B-003"]
    err = center.refused(c.IssueTicket("realty"))
    assert err.code == "daily_cap" and "3" in str(err)

    # Recalls: not twice within 15 s; the 4th call is an automatic no-show.
    a1 = center.label(c.IssueTicket("docs"))
    assert center.call(c.CallNext(1)).reply.ticket.label == a1
    assert center.refused(c.Recall(1)).code == "recall_too_soon"
    for _ in range(2):
        center.tick(15)
        assert center.call(c.Recall(1)).reply.text.startswith("CALL")
    center.tick(15)
    reply = center.call(c.Recall(1))
    assert reply.reply.text.startswith("NOSHOW")
    no_show = [e for e in reply.events if e.type == "ticket.no_show"][0].data
    assert no_show["auto"] and no_show["reason"] == "recall_limit" and no_show["calls"] == 3

    # No-show timeout: a called visitor who does not come within 120 s.
    b1 = center.call(c.CallNext(2)).reply.ticket.label
    assert b1 == "B-001"
    assert "ticket.no_show" not in [e.type for e in center.tick(119).events]
    ev = [e for e in center.tick(2).events if e.type == "ticket.no_show"]
    assert ev and ev[0].data["reason"] == "timeout" and ev[0].data["ticket"] == b1

    # SLA: max wait (30 min) on a docs ticket; cleared when it is called.
    a2 = center.call(c.IssueTicket("docs")).reply.ticket
    center.tick(29 * 60)
    assert f"sla.wait:{a2.id}" not in alarms(center)
    raised = center.tick(61 + 60).events  # now 09:33 or so: over 30 min
    assert f"sla.wait:{a2.id}" in alarms(center)
    assert any(e.type == "alarm.raised" and e.data["kind"] == "max_wait" for e in raised)
    # The booked visitor BK-1 (10:00) may check in from 09:30 and is not due yet: the call
    # takes the waiting walk-in (B-002/B-003 are realty; window 1 prefers docs).
    assert center.call(c.CallNext(1)).reply.ticket.label == a2.label
    assert f"sla.wait:{a2.id}" not in alarms(center)
    center.call(c.StartService(1))
    center.tick(21 * 60)                                       # 09:55, 21 min at window 1
    assert f"sla.service:{a2.id}" in alarms(center)
    # BK-1 checks in at 09:55, before its slot; walk-ins arriving later wait behind it
    # once the slot comes.
    bk1 = center.call(c.CheckIn("BK-1")).reply.ticket
    walk = center.call(c.IssueTicket("docs")).reply.ticket
    center.at("10:00")
    center.tick()
    done = center.call(c.Finish(1))
    assert f"sla.service:{a2.id}" not in alarms(center)
    assert any(e.type == "alarm.cleared" for e in done.events)
    assert center.call(c.CallNext(1)).reply.ticket.label == bk1.label   # booked first
    center.call(c.Finish(1))
    assert center.call(c.CallNext(1)).reply.ticket.label == walk.label

    # Visit SLA (60 min) spans a transfer: docs -> realty, still open after an hour.
    center.call(c.StartService(1))
    center.tick(5 * 60)
    center.call(c.Transfer(1, "realty"))
    center.at("11:01")
    center.tick()
    assert f"sla.visit:{walk.visit}" in alarms(center)
    # Realty: B-002, B-003 waited long but realty has no wait SLA; the transfer goes first.
    assert center.call(c.CallNext(2)).reply.ticket.label == walk.label
    center.call(c.Finish(2))
    assert f"sla.visit:{walk.visit}" not in alarms(center)

    # BK-3 (11:00) never came: expired after its late margin, holds no capacity any more.
    center.at("11:16")
    expired = center.tick().events
    assert [e.data["booking"] for e in expired if e.type == "booking.expired"] == ["BK-3"]
    assert center.engine.state.bookings["BK-3"].status is BookingStatus.EXPIRED

    # Lunch break: tickets are still issued (served after the break).
    center.at("13:30")
    assert center.label(c.IssueTicket("benefits")).startswith("C-")

    # Clear the hall before the evening.
    center.at("16:00")
    for w in (1, 2, 3, 4):
        while True:
            try:
                center.call(c.CallNext(w))
            except Exception:
                break
        try:
            center.call(c.Finish(w))
        except Exception:
            pass
    assert center.controller.snapshot.waiting_total == 0

    # Capacity stop at 17:30: one window left for docs, 30 working minutes, BK-2 (17:40)
    # not arrived yet holds one place.
    center.at("17:30")
    center.call(c.CloseWindow(2))
    center.call(c.CloseWindow(4))
    avg = center.engine.avg_minutes("docs")
    expected = math.floor(30 / avg) - 1
    issued = 0
    while True:
        try:
            center.call(c.IssueTicket("docs"))
        except Exception as e:
            err = e
            break
        issued += 1
    assert issued == expected
    assert err.code == "capacity_full" and "booked" in str(err)
    # The booked visitor still gets in after the stop.
    center.at("17:35")
    assert center.call(c.CheckIn("BK-2")).reply.ticket.booked

    # 18:00: closed; the refusal says when the center opens again.
    center.at("18:00")
    err = center.refused(c.IssueTicket("docs"))
    assert err.code == "closed" and err.params["opens"] == "24.11 09:00"

    # Next morning: the day rolls, everyone left is closed out, alarms are cleared.
    center.at("09:00", day="2026-11-24")
    rolled = [e.type for e in center.tick().events]
    assert "day.started" in rolled
    assert center.controller.snapshot.waiting_total == 0
    assert not [a for a in alarms(center) if a.startswith("sla.")]
    assert center.label(c.IssueTicket("docs")) == "A-001"
    # Wednesday is a holiday.
    center.at("10:00", day="2026-11-25")
    err = center.refused(c.IssueTicket("docs"))
    assert err.code == "closed" and err.params["opens"] == "26.11 09:00"
    assert TODAY < center.engine.state.day


def test_done_after_a_timeout_no_show_says_start_was_not_pressed(make_center) -> None:
    """Risk: with no_show_after_s the visit of an operator who never presses start ends as
    a no-show, and `done` answered only "window 1 has no ticket called or in service"."""
    center = make_center(policies={"no_show_after_s": 120})
    first = center.label(c.IssueTicket("docs"))
    assert center.label(c.CallNext(1)) == first
    center.clock.advance(300)                        # served 5 min without `start`
    # `done` before any tick: the timer closes the ticket in the same decision.
    err = center.refused(c.Finish(1))
    assert err.code == "no_ticket"
    assert f"{first} was closed as a no-show 120 s after its call" in str(err)
    assert "start was not pressed" in str(err)
    center.tick()                                    # committed by the tick: the same answer
    assert "start was not pressed" in str(center.refused(c.Finish(1)))
    # With start pressed the timer does not apply, and a plain empty window says so.
    second = center.label(c.IssueTicket("docs"))
    center.call(c.CallNext(1))
    center.call(c.StartService(1))
    center.tick(300)
    assert center.call(c.Finish(1)).reply.text == f"DONE {second}"
    err = center.refused(c.Finish(1))
    assert err.code == "no_ticket" and "no-show" not in str(err)
