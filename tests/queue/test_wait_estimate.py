"""The wait a visitor reads on the ticket: windows on a break, the day's breaks, reprints."""

from __future__ import annotations

from edge.clock import ManualClock
from edge.queue import commands as c
from edge.queue.engine import Policies, QueueEngine
from edge.queue.policies import Schedule

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
