"""The wait a visitor reads on the ticket: windows on a break, the day's breaks, reprints."""

from __future__ import annotations

from edge.clock import ManualClock
from edge.queue import commands as c
from edge.queue.engine import QueueEngine
from edge.queue.model import Category
from edge.queue.policies import Policies, Schedule

from .conftest import PureEngine, small_center

MIN = 60
# 09:00-18:00 with lunch 13:00-14:00 on weekdays; the clock starts Monday 09:00.
WEEKDAYS = {d: ((9 * 60, 13 * 60), (14 * 60, 18 * 60)) for d in ("mon", "tue", "wed", "thu", "fri")}


def center(clock: ManualClock, **policies) -> PureEngine:
    services, windows = small_center()
    return PureEngine(QueueEngine(services, windows, "Asia/Almaty", Policies(**policies)), clock)


def issued(pure: PureEngine, command: c.Command) -> dict:
    out = pure.do(command)
    return [e.data for e in out.events if e.type == "ticket.issued"][0]


def test_windows_on_a_break_still_count_for_the_estimate(pure: PureEngine) -> None:
    """Risk: every docs window paused for lunch, and the newcomer reads a wait as if one
    window served the whole line (three times too long with three windows)."""
    for _ in range(4):
        pure.do(c.IssueTicket("docs"))
    for n in (1, 2, 3):
        pure.do(c.PauseWindow(n))
    data = issued(pure, c.IssueTicket("docs"))
    # Windows 1 and 3 serve docs (weight >= 1): 4 ahead x 10 min over 2 windows.
    assert data["ahead"] == 4 and data["wait_min"] == 20
    # A window closed for the day no longer counts (while another one works).
    pure.do(c.CloseWindow(3))
    assert issued(pure, c.IssueTicket("docs"))["wait_min"] == 50      # 5 ahead, 1 window


def test_before_any_window_opens_the_estimate_counts_those_that_will(pure: PureEngine) -> None:
    for n in (1, 2, 3):
        pure.do(c.CloseWindow(n))
    for _ in range(4):
        pure.do(c.IssueTicket("docs"))
    assert issued(pure, c.IssueTicket("docs"))["wait_min"] == 20


def test_a_ticket_taken_during_the_lunch_break_counts_the_break(clock: ManualClock) -> None:
    """Risk: at 13:05, lunch until 14:00, the first ticket says "wait ~0 min" and the
    visitor stands at the window for an hour."""
    pure = center(clock, schedule=Schedule(WEEKDAYS))
    clock.advance(4 * 3600 + 5 * MIN)                                   # 13:05
    assert issued(pure, c.IssueTicket("docs"))["wait_min"] == 55
    # 2 ahead x 10 min over 2 windows: 10 working minutes, after the break.
    assert issued(pure, c.IssueTicket("docs"))["wait_min"] == 55 + 5
    assert issued(pure, c.IssueTicket("docs"))["wait_min"] == 55 + 10


def test_work_that_runs_into_the_break_continues_after_it(clock: ManualClock) -> None:
    pure = center(clock, schedule=Schedule(WEEKDAYS))
    for _ in range(4):
        pure.do(c.IssueTicket("docs"))
    clock.advance(3 * 3600 + 50 * MIN)                                  # 12:50
    # 4 ahead x 10 min / 2 windows = 20 working minutes: 10 before lunch, 10 after it.
    assert issued(pure, c.IssueTicket("docs"))["wait_min"] == 80
    clock.advance(20 * MIN)                                             # 13:10
    # Still no time left between now and the break's end, and none is worked in it.
    assert issued(pure, c.IssueTicket("docs"))["wait_min"] == 50 + 25


def test_schedule_wall_minutes_skips_breaks_and_the_time_before_opening() -> None:
    import datetime as dt
    import zoneinfo
    sched = Schedule(WEEKDAYS)
    tz = zoneinfo.ZoneInfo("Asia/Almaty")
    monday = dt.datetime(2026, 11, 23, tzinfo=tz)
    at = lambda h, m, s=0: monday.replace(hour=h, minute=m, second=s)  # noqa: E731
    assert sched.wall_minutes(at(10, 0), 0) == 0
    assert sched.wall_minutes(at(10, 0, 20), 20) == 20       # inside a span: exactly the work
    assert sched.wall_minutes(at(8, 30), 0) == 30            # before opening
    assert sched.wall_minutes(at(8, 30), 15) == 45
    assert sched.wall_minutes(at(12, 50), 20) == 80          # across the break
    assert sched.wall_minutes(at(13, 30), 5) == 35           # in the break
    assert sched.wall_minutes(at(17, 50), 30) == 30          # past closing: as it comes
    assert Schedule(None).wall_minutes(at(13, 30), 7.5) == 7.5   # open at all hours
    sunday = monday + dt.timedelta(days=6)
    assert sched.wall_minutes(sunday.replace(hour=11), 12) == 12  # a closed day: no guess


def test_a_ticket_printed_late_counts_only_those_really_ahead(pure: PureEngine) -> None:
    """Risk: A-003 jams in the printer; printed after the fix it says "ahead of you: 5"
    (the two behind it counted too) and twice the wait."""
    for _ in range(6):
        pure.do(c.IssueTicket("docs", printer="kiosk"))
    for tid in (1, 2, 4, 5, 6):
        pure.do(c.TicketPrinted(tid, ok=True))
    pure.do(c.TicketPrinted(3, ok=False, detail="paper jam"))
    [job] = pure.do(c.PrintJobs("kiosk")).reply.data["jobs"]
    # are ahead; 2 x 10 min over the 2 docs windows.
    assert (job["ticket"], job["ahead"], job["wait_min"]) == ("A-003", 2, 10)
    # A pensioner who came later is ahead of A-003 now: the reprint says so.
    pure.do(c.IssueTicket("docs", category=Category.PENSIONER))
    out = pure.do(c.Reprint("A-003"))
    reprint = [e.data for e in out.events if e.type == "ticket.reprint"][0]
    assert (reprint["ahead"], reprint["wait_min"]) == (3, 15)
    pure.do(c.CallNext(1))                                  # the pensioner
    pure.do(c.CallNext(3))
    [job] = pure.do(c.PrintJobs("kiosk")).reply.data["jobs"]
    assert (job["ticket"], job["ahead"]) == ("A-003", 1)


def done_event(applied_events: list) -> dict:
    return [e.data for e in applied_events if e.type == "ticket.done"][0]


def test_a_break_with_the_visitor_still_at_the_window_is_not_service_time(
        clock: ManualClock) -> None:
    """Risk: the operator pauses for lunch with a visitor at the window (or presses "done"
    only after it): an 8-minute visit counts 68 minutes, central reads a slow operator,
    and the service's average, and every ticket's printed wait, jump for the afternoon."""
    pure = center(clock)
    for _ in range(3):
        pure.do(c.IssueTicket("docs"))
    pure.do(c.CallNext(1))
    pure.do(c.StartService(1))
    clock.advance(5 * MIN)
    pure.do(c.PauseWindow(1))                  # lunch, the visitor still at the window
    clock.advance(60 * MIN)
    pure.do(c.ResumeWindow(1))
    clock.advance(3 * MIN)
    done = done_event(pure.do(c.Finish(1)).events)
    assert done["service_s"] == 8 * MIN and done["paused_s"] == 60 * MIN
    assert pure.engine.avg_minutes("docs") == (8 + 10 * 3) / 4      # the prior counts 3x
    # "done" pressed while still paused: the break ends with the visit.
    pure.do(c.CallNext(1))
    clock.advance(7 * MIN)
    pure.do(c.PauseWindow(1))
    clock.advance(30 * MIN)
    done = done_event(pure.do(c.Finish(1)).events)
    assert done["service_s"] == 7 * MIN and done["paused_s"] == 30 * MIN
    # A visit without a break says nothing about breaks.
    pure.do(c.ResumeWindow(1))
    pure.do(c.CallNext(1))
    clock.advance(9 * MIN)
    done = done_event(pure.do(c.Finish(1)).events)
    assert done["service_s"] == 9 * MIN and "paused_s" not in done


def test_a_break_before_start_or_at_an_earlier_window_is_not_subtracted(
        clock: ManualClock) -> None:
    """Risk: the break is taken off the wrong visit: one before `start` (service time counts
    from start), or one at the window the visitor was transferred away from."""
    pure = center(clock)
    pure.do(c.IssueTicket("docs"))
    pure.do(c.CallNext(1))
    pure.do(c.PauseWindow(1))
    clock.advance(20 * MIN)
    pure.do(c.ResumeWindow(1))
    pure.do(c.StartService(1))
    clock.advance(6 * MIN)
    assert done_event(pure.do(c.Finish(1)).events)["service_s"] == 6 * MIN
    pure.do(c.IssueTicket("docs"))
    pure.do(c.CallNext(1))
    pure.do(c.PauseWindow(1))
    clock.advance(15 * MIN)
    pure.do(c.Transfer(1, "realty"))           # sent on from a paused window
    pure.do(c.CallNext(2))
    clock.advance(4 * MIN)
    done = done_event(pure.do(c.Finish(2)).events)
    assert done["service_s"] == 4 * MIN and "paused_s" not in done


def test_a_break_survives_a_restart(harness, clock: ManualClock) -> None:
    """Risk: a power cut during lunch forgets when the break began, and the whole hour
    counts as service time after all."""
    harness.call(c.IssueTicket("docs"))
    harness.call(c.CallNext(1))
    clock.advance(2 * MIN)
    harness.call(c.PauseWindow(1))
    clock.advance(45 * MIN)
    harness.restart()
    harness.call(c.ResumeWindow(1))
    clock.advance(3 * MIN)
    done = done_event(harness.call(c.Finish(1)).events)
    assert done["service_s"] == 5 * MIN and done["paused_s"] == 45 * MIN


def test_a_break_under_the_stale_clock_keeps_its_length_when_ntp_starts_the_day(
        clock: ManualClock) -> None:
    """Risk: the Pi boots at 09:00 with yesterday's 19:00; a window pauses at 09:05 with a
    visitor at it, and NTP's step (which starts the real day and moves the visit's times
    onto the real clock) did not move the break's start: the 5-minute break counted 14
    hours, the visit 0 s of service, and the service's average fell."""
    pure = center(clock)
    clock.advance(10 * 3600)
    pure.do(c.Tick())                              # Monday 19:00: the Pi is switched off
    clock.reboot("boot-2", synced=False)           # Tuesday 09:00; its clock says Mon 19:00
    pure.do(c.IssueTicket("docs"))
    pure.do(c.CallNext(1))
    pure.do(c.StartService(1))
    clock.advance(5 * MIN)
    pure.do(c.PauseWindow(1))
    clock.advance(MIN)
    clock.jump_wall(14 * 3600)                     # NTP: the real morning
    clock.synced = True
    pure.do(c.Tick())
    assert "ticket.redated" in pure.types()
    clock.advance(4 * MIN)
    pure.do(c.ResumeWindow(1))
    clock.advance(2 * MIN)
    done = done_event(pure.do(c.Finish(1)).events)
    assert done["service_s"] == 7 * MIN and done["paused_s"] == 5 * MIN
