"""Check-in at the kiosk: every case of the issue as a table, plus loading and versions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edge.queue import commands as c
from edge.queue.bookings import BookingStatus, holds_iin, iin_valid, parse_booking
from edge.queue.lines import TIER_BOOKED, TIER_NORMAL, TIER_TRANSFER
from edge.queue.model import TicketState
from edge.queue.policies import Refusal, kiosk_text

from .conftest import TODAY, TOMORROW, YESTERDAY, booking, make_iin

IIN = make_iin("90010130012")

# name, booking fields (slot 10:00 today unless changed), check-in time, [bookings] overrides,
# expected: "booked" (booked ticket), "walk_in" (ordinary ticket) or a refusal code.
CASES: list[tuple[str, dict[str, Any], str, dict[str, Any], str]] = [
    ("on time, a little early", {}, "09:50", {}, "booked"),
    ("on time, at the slot", {}, "10:00", {}, "booked"),
    ("on time, within the late margin", {}, "10:14", {}, "booked"),
    ("first minute of the early margin", {}, "09:30", {}, "booked"),
    ("too early", {}, "09:29", {}, "too_early"),
    ("late: walk-in ticket", {}, "10:16", {}, "walk_in"),
    ("late: refused by config", {}, "10:16", {"late_action": "refuse"}, "too_late"),
    ("cancelled", {"status": "cancelled"}, "09:55", {}, "booking_cancelled"),
    ("re-booked", {"status": "rebooked", "rebooked_to": "NEW-1"}, "09:55", {}, "booking_rebooked"),
    ("expired by central", {"status": "expired", "date": YESTERDAY}, "09:55", {}, "wrong_day"),
    ("tomorrow", {"date": TOMORROW}, "09:55", {}, "wrong_day"),
    ("yesterday", {"date": YESTERDAY}, "09:55", {}, "wrong_day"),
    ("another center", {"site": "other-site-01"}, "09:55", {}, "other_center"),
    ("this center named", {"site": "demo-ast-01"}, "09:55", {}, "booked"),
]


@pytest.mark.parametrize("name, fields, at, cfg, expected", CASES, ids=[c[0] for c in CASES])
def test_check_in_by_code(make_center, name, fields, at, cfg, expected) -> None:
    center = make_center(bookings=cfg)
    b = booking("AB-100", **fields)
    center.call(c.LoadBookings((b,), 1))
    center.at(at)
    if expected in ("booked", "walk_in"):
        t = center.call(c.CheckIn("ab-100")).reply.ticket
        assert t is not None and t.service == "docs"
        assert t.booked is (expected == "booked")
        stored = center.engine.state.bookings["AB-100"]
        assert stored.status is (BookingStatus.CHECKED_IN if expected == "booked"
                                 else BookingStatus.EXPIRED)
        return
    err = center.refused(c.CheckIn("AB-100"))
    assert err.code == expected, err
    assert center.engine.state.bookings["AB-100"].status is not BookingStatus.CHECKED_IN


def test_too_early_names_the_slot_for_the_kiosk(make_center) -> None:
    center = make_center()
    center.call(c.LoadBookings((booking("AB-1", "10:00"),), 1))
    err = center.refused(c.CheckIn("AB-1"))
    assert isinstance(err, Refusal) and err.params == {"slot": "10:00", "from_time": "09:30"}
    assert "10:00" in str(err) and "09:30" in str(err)
    assert kiosk_text(err.code, "ru", err.params) == "Ваша запись на 10:00. Регистрация с 09:30."
    assert "10:00" in kiosk_text(err.code, "kk", err.params)


def test_second_check_in_is_refused_with_the_ticket(make_center) -> None:
    center = make_center()
    center.call(c.LoadBookings((booking("AB-1", "09:15"),), 1))
    label = center.label(c.CheckIn("AB-1"))
    err = center.refused(c.CheckIn("AB-1"))
    assert err.code == "already_checked_in" and label in str(err)
    assert center.types().count("booking.checked_in") == 1


def test_a_voided_booked_ticket_frees_the_booking_for_a_new_scan(make_center) -> None:
    """Risk: the kiosk's print failed, the worker voided the ticket, and the booking kept
    the dead ticket: every re-scan was refused already_checked_in."""
    center = make_center()
    center.call(c.LoadBookings((booking("AB-1", "09:15"),), 1))
    first = center.call(c.CheckIn("AB-1", printer="kiosk")).reply.ticket
    center.call(c.TicketPrinted(first.id, ok=False, detail="paper out"))
    voided = center.call(c.VoidTicket(first.id, reason="not printed within 90 s: paper out"))
    assert voided.events[-1].data["booking"] == "AB-1"
    b = center.engine.state.bookings["AB-1"]
    assert (b.status, b.ticket_id, b.checked_in_ms) == (BookingStatus.ACTIVE, None, None)
    center.tick(60)
    again = center.call(c.CheckIn("AB-1", printer="kiosk")).reply.ticket
    assert again.booked and again.id != first.id
    center.restart()                               # what was committed, not just memory
    b = center.engine.state.bookings["AB-1"]
    assert (b.status, b.ticket_id) == (BookingStatus.CHECKED_IN, again.id)
    err = center.refused(c.CheckIn("AB-1"))
    assert err.code == "already_checked_in" and again.label in str(err)


def test_late_visitor_gets_one_walk_in_ticket_however_often_they_scan(make_center) -> None:
    """Risk: a late check-in recorded no ticket, so every scan printed another walk-in."""
    center = make_center()
    center.call(c.LoadBookings((booking("AB-1", "08:30"), booking("AB-2", "08:30")), 1))
    late = center.call(c.CheckIn("AB-1", printer="kiosk")).reply.ticket
    assert late is not None and not late.booked
    b = center.engine.state.bookings["AB-1"]
    assert (b.status, b.ticket_id) == (BookingStatus.EXPIRED, late.id)
    for _ in range(2):
        err = center.refused(c.CheckIn("AB-1", printer="kiosk"))
        assert err.code == "already_checked_in" and late.label in str(err)
    center.restart()
    assert center.refused(c.CheckIn("AB-1")).code == "already_checked_in"
    assert center.engine.snapshot().waiting["docs"] == 1      # one ticket, still waiting
    assert center.engine.ticket(late.id).state is TicketState.WAITING
    # Expired by the timer before the scan: the same, one ticket.
    center.tick(60)
    assert center.engine.state.bookings["AB-2"].status is BookingStatus.EXPIRED
    second = center.label(c.CheckIn("AB-2"))
    assert center.refused(c.CheckIn("AB-2")).code == "already_checked_in"
    # A newer version from central does not forget the ticket either.
    reply = center.call(c.LoadBookings((booking("AB-2", "08:30", version=2),), 2)).reply
    assert reply.data["kept_checked_in"] == 1
    assert center.refused(c.CheckIn("AB-2")).code == "already_checked_in"
    # The late ticket could not print and was voided: the visitor may scan again.
    center.call(c.VoidTicket(late.id, reason="not printed within 90 s: paper out"))
    assert center.label(c.CheckIn("AB-1")) not in (late.label, second)


def test_unknown_code(make_center) -> None:
    center = make_center()
    assert center.refused(c.CheckIn("NOPE-1")).code == "unknown_booking"


def test_rebooked_visitor_checks_in_with_the_new_code(make_center) -> None:
    center = make_center()
    center.call(c.LoadBookings((booking("OLD-1", "09:00", status="rebooked", rebooked_to="NEW-1"),
                                booking("NEW-1", "09:20")), 1))
    err = center.refused(c.CheckIn("OLD-1"))
    assert err.code == "booking_rebooked" and "NEW-1" in str(err)
    assert center.call(c.CheckIn("NEW-1")).reply.ticket.booked


IIN_CASES = [
    ("valid IIN with a booking", IIN, "booked"),
    ("bad check digit", IIN[:11] + str((int(IIN[11]) + 1) % 10), "bad_iin"),
    ("11 digits", IIN[:11], "bad_iin"),
    ("letters", "90010130012X", "bad_iin"),
    ("valid IIN, no booking", make_iin("85020245001"), "unknown_booking"),
]


@pytest.mark.parametrize("name, iin, expected", IIN_CASES, ids=[x[0] for x in IIN_CASES])
def test_check_in_by_iin(make_center, name, iin, expected) -> None:
    center = make_center()
    center.call(c.LoadBookings((booking("AB-1", "09:10", iin=IIN),), 1))
    if expected == "booked":
        t = center.call(c.CheckInIin(iin)).reply.ticket
        assert t.booked and t.booking == "AB-1"
        return
    err = center.refused(c.CheckInIin(iin))
    assert err.code == expected
    assert iin not in str(err)  # the message never repeats the number


def test_iin_with_two_bookings_today_checks_in_the_earlier_first(make_center) -> None:
    center = make_center()
    center.call(c.LoadBookings((booking("R-1", "09:20", service="realty", iin=IIN),
                                booking("D-1", "09:10", iin=IIN),
                                booking("T-1", "09:00", day=TOMORROW, iin=IIN)), 1))
    first = center.call(c.CheckInIin(IIN)).reply.ticket
    second = center.call(c.CheckInIin(IIN)).reply.ticket
    assert (first.booking, second.booking) == ("D-1", "R-1")
    # Both of today's are used: the next answer is about them, not tomorrow's.
    assert center.refused(c.CheckInIin(IIN)).code == "already_checked_in"


def test_iin_check_in_without_a_secret_is_refused_clearly(make_center) -> None:
    center = make_center(edit=lambda d: d["bookings"].pop("iin_secret_file"))
    assert center.engine.policies.iin_key is None
    err = center.refused(c.CheckInIin(IIN))
    assert err.code == "iin_not_configured" and "iin_secret_file" in str(err)
    # A booking that carries a clear IIN cannot be kept without the secret: rejected.
    reply = center.call(c.LoadBookings((booking("AB-1", iin=IIN), booking("AB-2")), 1)).reply
    assert reply.data["changed"] == 1 and reply.data["rejected"] == 1
    assert IIN not in str(reply.data)


@pytest.mark.parametrize("iin, ok", [
    (make_iin("90010130012"), True), ("000000000000", True), ("123456789012", False),
    ("12345678901", False), ("1234567890123", False), ("", False), ("９００１０１３００１２３", False),
])
def test_iin_check_digit(iin: str, ok: bool) -> None:
    assert iin_valid(iin) is ok


@pytest.mark.parametrize("text, held", [
    (IIN, True), (f"Q-{IIN}", True), (f"ЦОН {IIN}", True), (f"{IIN}-2", True),
    ("".join(chr(0xFF10 + int(d)) for d in IIN), True),        # full-width digits
    (IIN[:11] + str((int(IIN[11]) + 1) % 10), False),           # check digit wrong
    (IIN + "7", False), ("7" + IIN, False),                      # 13 digits: not an IIN
    (f"{IIN[:6]}-{IIN[6:]}", False), ("KZ-20261123-0042", False), ("AB-100", False),
    ("", False), (None, False), (int(IIN), False),
])
def test_what_holds_an_iin(text: object, held: bool) -> None:
    """A run of exactly 12 digits with a valid check digit; the table is the rule the docs
    give central's operators (docs/bookings.md), false positives included."""
    assert holds_iin(text) is held


def test_an_iin_hmac_is_not_taken_for_an_iin() -> None:
    """Risk: a keyed hash is hex, and about one in six holds 12 digits in a row (one in
    eleven of those with a valid check digit): checking it would refuse good bookings."""
    digest = IIN + "ab" * 26
    b = parse_booking(booking("AB-1", iin_hmac=digest), None)
    assert b.iin_hmac == digest


def test_check_digit_second_pass() -> None:
    # 11 digits whose first weighted sum is 10 mod 11 use the second weights.
    import itertools
    from edge.queue.bookings import IIN_WEIGHTS_1
    for tail in itertools.count():
        first11 = f"{800101300000 + tail:012d}"[:11]
        if sum(w * int(d) for w, d in zip(IIN_WEIGHTS_1, first11)) % 11 == 10:
            break
    try:
        iin = make_iin(first11)
    except ValueError:
        return
    assert iin_valid(iin)


# -- loading ----------------------------------------------------------------------------
def test_newer_version_replaces_older_and_older_is_ignored(make_center) -> None:
    center = make_center()
    center.call(c.LoadBookings((booking("AB-1", "10:00", version=1),), 1))
    center.call(c.LoadBookings((booking("AB-1", "11:00", version=2),), 2))
    reply = center.call(c.LoadBookings((booking("AB-1", "09:00", version=1),), 3)).reply
    assert reply.data["unchanged"] == 1
    assert center.engine.state.bookings["AB-1"].slot_start == "11:00"
    center.at("10:00")
    assert center.refused(c.CheckIn("AB-1")).code == "too_early"


def test_stale_batch_version_is_ignored(make_center) -> None:
    center = make_center()
    center.call(c.LoadBookings((booking("AB-1"),), 5))
    reply = center.call(c.LoadBookings((booking("AB-2"),), 5)).reply
    assert reply.data.get("stale_batch") and "AB-2" not in center.engine.state.bookings


def test_cancellation_after_check_in_keeps_the_visitor(make_center) -> None:
    center = make_center()
    center.call(c.LoadBookings((booking("AB-1", "09:10"),), 1))
    center.call(c.CheckIn("AB-1"))
    reply = center.call(c.LoadBookings((booking("AB-1", "09:10", status="cancelled",
                                                version=2),), 2)).reply
    assert reply.data["kept_checked_in"] == 1
    assert center.engine.state.bookings["AB-1"].status is BookingStatus.CHECKED_IN


def test_bad_rows_are_rejected_with_reasons_and_good_ones_load(make_center) -> None:
    center = make_center()
    rows = (booking("AB-1"), booking("AB-2", service="nope"), {"code": "AB-3"},
            booking("AB-4", slot="25:00"), booking("AB-5", iin="123456789012"), "garbage")
    a = center.call(c.LoadBookings(rows, 1))
    items = {i["index"]: i["reason"] for i in a.reply.data["rejected_items"]}
    assert sorted(items) == [1, 2, 3, 4, 5]
    assert "service" in items[1] and "slot_start" in items[3] and "iin" in items[4]
    assert "123456789012" not in str(a.reply.data)
    assert set(center.engine.state.bookings) == {"AB-1"}
    assert "bookings.rejected" in [e.type for e in a.events]


def test_an_iin_in_the_wrong_field_never_reaches_the_rejected_event(make_center) -> None:
    """Risk: a column shifted at central put an IIN into `service` or `code`; the rejection
    reason and the bookings.rejected event then carried it in clear to the outbox."""
    center = make_center()
    typo = IIN[:11] + str((int(IIN[11]) + 1) % 10)      # not valid, still someone's IIN
    rows = (booking("AB-1", service=IIN), booking(IIN, service="nope"),
            booking("AB-2", service=typo))
    a = center.call(c.LoadBookings(rows, 1))
    assert len(a.reply.data["rejected_items"]) == 3
    assert IIN not in str(a.reply.data) and IIN not in a.reply.text
    assert typo not in str(a.reply.data)
    [ev] = [e for e in a.events if e.type == "bookings.rejected"]
    assert IIN not in json.dumps(ev.data) and typo not in json.dumps(ev.data)
    assert ev.data["items"][0]["reason"].startswith("service: holds an IIN")
    assert "(not shown: it holds many digits)" in ev.data["items"][2]["reason"]
    assert [i["code"] for i in ev.data["items"]] == ["AB-1", None, "AB-2"]
    a = center.call(c.LoadBookings((booking("KZ-20261123-0042", service="nope"),), 2))
    assert a.reply.data["rejected_items"][0]["code"] == "KZ-20261123-0042"   # a code, kept


def test_bookings_survive_a_restart(make_center) -> None:
    center = make_center()
    center.call(c.LoadBookings((booking("AB-1", "09:10", iin=IIN), booking("AB-2", "11:00")), 7))
    center.call(c.CheckIn("AB-1"))
    center.restart()
    st = center.engine.state
    assert st.bookings_version == 7
    assert st.bookings["AB-1"].status is BookingStatus.CHECKED_IN
    assert center.refused(c.CheckInIin(IIN)).code == "already_checked_in"
    center.at("10:40")
    assert center.call(c.CheckIn("AB-2")).reply.ticket.booked


# -- service modes ------------------------------------------------------------------------
def test_booking_only_service_refuses_walk_ins_and_says_how_to_book(make_center) -> None:
    center = make_center(policies={"services": {"docs": {"mode": "booking_only"}}})
    err = center.refused(c.IssueTicket("docs"))
    assert err.code == "booking_only" and "1414" in str(err)
    for lang in ("kk", "ru", "en"):
        assert "1414" in kiosk_text(err.code, lang, err.params)
    assert center.label(c.IssueTicket("realty")) == "B-001"
    center.call(c.LoadBookings((booking("AB-1", "09:10"),), 1))
    assert center.call(c.CheckIn("AB-1")).reply.ticket.booked


def test_late_visitor_of_a_booking_only_service_is_refused(make_center) -> None:
    """Risk: a booked visitor who came late was told the service is for booked visitors
    only; they are booked: the kiosk must say they are late, with the slot."""
    center = make_center(policies={"services": {"docs": {"mode": "booking_only"}}})
    center.call(c.LoadBookings((booking("AB-1", "08:00"),), 1))
    err = center.refused(c.CheckIn("AB-1"))
    assert err.code == "too_late" and err.params["slot"] == "08:00"
    assert "08:00" in kiosk_text(err.code, "ru", err.params)
    assert center.engine.state.bookings["AB-1"].ticket_id is None


def test_walk_in_only_service_still_honours_a_booking(make_center) -> None:
    center = make_center(policies={"services": {"docs": {"mode": "walk_in_only"}}})
    center.call(c.LoadBookings((booking("AB-1", "09:10"),), 1))
    assert center.call(c.CheckIn("AB-1")).reply.ticket.booked
    assert center.label(c.IssueTicket("docs")).startswith("A-")


def test_early_booked_visitor_waits_as_a_walk_in_until_the_slot(make_center) -> None:
    center = make_center()
    center.call(c.LoadBookings((booking("AB-1", "09:30"),), 1))
    t = center.call(c.CheckIn("AB-1")).reply.ticket
    assert t.tier == TIER_NORMAL and t.extra["slot_ms"]
    center.at("09:30")
    center.tick()
    t = center.engine.ticket(t.id)
    assert t.tier == TIER_BOOKED and "slot_ms" not in t.extra


@pytest.mark.parametrize("aside", ["park", "transfer"])
def test_early_booked_visitor_called_before_the_slot_is_not_promoted_later(make_center,
                                                                           aside: str) -> None:
    """Risk: a visitor called before the slot kept it; when it came, the promotion moved
    them ahead of walk-ins after an unpark, or out of the transfer tier after a transfer."""
    center = make_center()
    center.call(c.LoadBookings((booking("AB-1", "09:20"),), 1))
    early = center.label(c.CheckIn("AB-1"))              # 20 min early: a walk-in for now
    assert center.label(c.CallNext(1)) == early
    if aside == "park":
        center.call(c.Park(1))
        walk_ins = [center.label(c.IssueTicket("docs")) for _ in range(3)]
        center.at("09:30")
        center.call(c.Unpark(early))
        center.tick()
        # Unparked: the back of the line, as in the core.
        assert [t.label for t in center.engine.waiting_line("docs")] == walk_ins + [early]
    else:
        other = center.label(c.IssueTicket("docs"))
        assert center.label(c.CallNext(4)) == other
        center.call(c.Transfer(1, "realty"))
        center.call(c.Transfer(4, "realty"))
        center.at("09:21")
        center.tick()
        # Both transfers, in the order they came: the slot does not demote the first.
        line = center.engine.waiting_line("realty")
        assert [(t.label, t.tier) for t in line] == [(early, TIER_TRANSFER), (other, TIER_TRANSFER)]
    assert all("slot_ms" not in t.extra for t in center.engine.state.tickets.values())


def test_check_in_events_carry_the_booking_not_the_iin(make_center) -> None:
    center = make_center()
    center.call(c.LoadBookings((booking("AB-1", "09:10", iin=IIN),), 1))
    a = center.call(c.CheckInIin(IIN))
    types = [e.type for e in a.events]
    assert types == ["ticket.issued", "booking.checked_in"]
    issued = a.events[0].data
    assert issued["booked"] is True and issued["booking"] == "AB-1"
    assert a.events[1].data["booking"] == "AB-1" and a.events[1].data["early_s"] == 600
    assert IIN not in repr(c.CheckInIin(IIN))
    assert TODAY in issued["day"]


def test_a_booked_visitor_who_missed_the_call_is_told_how_to_come_back(make_center) -> None:
    """Risk: the booked visitor missed the call and scans the booking again; the answer
    only says "already checked in (ticket A-001)", so the operator gives a walk-in ticket
    (a second ticket for one visitor, counted twice against the daily cap) instead of
    taking the missed one back."""
    center = make_center()
    center.call(c.LoadBookings((booking("AB-1", "09:15"),), 1))
    label = center.label(c.CheckIn("AB-1"))
    center.call(c.CallNext(1))
    center.call(c.NoShow(1))
    err = center.refused(c.CheckIn("AB-1"))
    assert err.code == "already_checked_in" and err.params == {"ticket": label}
    assert str(err) == (f"booking AB-1 is already checked in (ticket {label}, a no-show at "
                        f"09:00: return {label} puts it back in line)")
    center.call(c.ReturnTicket(label))
    assert str(center.refused(c.CheckIn("AB-1"))) == \
        f"booking AB-1 is already checked in (ticket {label})"
