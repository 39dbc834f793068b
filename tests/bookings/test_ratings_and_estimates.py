"""Ratings once per visit within the window; wait estimates from real service times."""

from __future__ import annotations

import io

from edge.drivers.console import ConsoleDriver
from edge.queue import commands as c
from edge.queue.estimates import ServiceTimes, wait_minutes


def test_one_rating_per_visit_within_the_window(make_center) -> None:
    center = make_center()
    t = center.call(c.IssueTicket("docs")).reply.ticket
    center.call(c.CallNext(1))
    center.call(c.Transfer(1, "realty"))      # the visit goes on at another service
    center.call(c.CallNext(2))
    center.call(c.Finish(2))
    a = center.call(c.Rate(2, 5))
    ev = [e for e in a.events if e.type == "rating.recorded"][0].data
    assert ev["window"] == 2 and ev["visit"] == t.visit and ev["score"] == 5
    assert center.refused(c.Rate(2, 1)).code == "rating_ignored"      # repeated
    assert center.refused(c.Rate(1, 4)).code == "rating_ignored"      # not this window's visit
    assert center.types().count("rating.recorded") == 1
    # Later than rating_window_s (120 s): ignored.
    center.call(c.IssueTicket("docs"))
    center.call(c.CallNext(1))
    center.call(c.Finish(1))
    center.tick(121)
    assert center.refused(c.Rate(1, 3)).code == "rating_ignored"
    assert center.types().count("rating.recorded") == 1
    assert center.refused(c.Rate(1, 6)).code == "bad_rating"


def test_rolling_average_blends_configured_and_real_times() -> None:
    times = ServiceTimes(size=3)
    assert times.avg_minutes("docs", 8) == 8
    times.add("docs", 5)                       # a mis-press: not a sample
    assert times.avg_minutes("docs", 8) == 8
    for _ in range(5):
        times.add("docs", 20 * 60)
    # 3 samples of 20 min + the configured 8 min counted 3 times.
    assert times.avg_minutes("docs", 8) == (3 * 20 + 3 * 8) / 6
    assert wait_minutes(0, 14, 2) == 0 and wait_minutes(3, 14, 2) == 21 and wait_minutes(1, 10, 0) == 10


def test_ticket_carries_the_estimate_and_status_shows_it(make_center) -> None:
    center = make_center()
    # docs (8 min configured) is served by windows 1, 2 and 4 (weight >= 1).
    for _ in range(3):
        center.call(c.IssueTicket("docs"))
        center.call(c.CallNext(1))
        center.call(c.StartService(1))
        center.tick(30 * 60)                   # really 30 min each
        center.call(c.Finish(1))
    avg = center.engine.avg_minutes("docs")
    assert avg == (3 * 30 + 3 * 8) / 6
    for _ in range(5):
        center.call(c.IssueTicket("docs"))
    a = center.call(c.IssueTicket("docs"))
    issued = [e for e in a.events if e.type == "ticket.issued"][0].data
    assert issued["ahead"] == 5 and issued["wait_min"] == wait_minutes(5, avg, 3)
    assert "wait=" in a.reply.text
    out = io.StringIO()
    drv = ConsoleDriver(center.controller, io.StringIO(), out, lambda: None)
    drv.handle_line("status")
    line = [x for x in out.getvalue().splitlines() if "service docs" in x][0]
    assert f"6 waiting, wait ~{wait_minutes(6, round(avg, 1), 3)} min" in line


def test_console_checkin_verbs(make_center) -> None:
    center = make_center()
    center.call(c.LoadBookings(({"code": "QR-77", "service": "docs", "date": "2026-11-23",
                                 "slot_start": "09:10"},), 1))
    out = io.StringIO()
    drv = ConsoleDriver(center.controller, io.StringIO(), out, lambda: None)
    drv.handle_line("checkin qr-77")
    drv.handle_line("checkin qr-77")
    drv.handle_line("checkin-iin 123456789012")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("CHECKIN QR-77 slot 09:10: TICKET A-001")
    assert lines[1].startswith("ERROR booking QR-77 is already checked in (ticket A-001)")
    assert lines[2] == "ERROR not a valid IIN: 12 digits with a correct check digit"


def test_console_status_counts_windows_on_a_break_as_the_ticket_does(make_center) -> None:
    """All docs windows paused (lunch): the ticket's estimate counts them (they come back),
    but the console divided by one window and showed three times the wait."""
    center = make_center()
    for _ in range(6):
        center.call(c.IssueTicket("docs"))
    for w in (1, 2, 4):                        # the three windows serving docs
        center.call(c.OpenWindow(w))
        center.call(c.PauseWindow(w))
    avg = center.engine.avg_minutes("docs")
    out = io.StringIO()
    ConsoleDriver(center.controller, io.StringIO(), out, lambda: None).handle_line("status")
    line = [x for x in out.getvalue().splitlines() if "service docs" in x][0]
    assert f"6 waiting, wait ~{wait_minutes(6, round(avg, 1), 3)} min" in line
    assert wait_minutes(6, avg, 3) < wait_minutes(6, avg, 1)   # the check can tell them apart
