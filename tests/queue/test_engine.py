"""Engine rules: numbering, who is called next, the ticket's life, windows, time."""

from __future__ import annotations

import math

import pytest

from edge.clock import ManualClock
from edge.config import parse_config
from edge.queue import commands as c
from edge.config.domain import reconfigure
from edge.queue.engine import QueueEngine
from edge.queue.model import Category, Service, TicketState, WindowState
from edge.queue.policies import Policies, ServiceRules

from .conftest import PureEngine, small_center

HOUR = 3600


def test_numbers_are_prefixed_zero_padded_and_per_service(pure: PureEngine) -> None:
    assert pure.label(c.IssueTicket("docs")) == "A-001"
    assert pure.label(c.IssueTicket("docs")) == "A-002"
    assert pure.label(c.IssueTicket("realty")) == "B-001"


def test_numbers_wrap_at_range_end_skipping_tickets_still_active(pure: PureEngine) -> None:
    labels = [pure.label(c.IssueTicket("tiny")) for _ in range(3)]
    assert labels == ["C-001", "C-002", "C-003"]
    # All three still waiting: the range is exhausted, refused with a reason.
    err = pure.refused(c.IssueTicket("tiny"))
    assert err.code == "numbers_exhausted"
    pure.do(c.CallNext(3))  # window 3 serves tiny: C-001 leaves the line
    pure.do(c.Finish(3))
    assert pure.label(c.IssueTicket("tiny")) == "C-001"  # wrapped to the start


def test_numbers_restart_at_local_midnight_not_utc(pure: PureEngine, clock: ManualClock) -> None:
    pure.label(c.IssueTicket("docs"))
    # Asia/Almaty is UTC+5: UTC midnight is 05:00 local, no new day there.
    clock.advance(14 * HOUR + 59 * 60)          # 23:59 local
    assert pure.label(c.IssueTicket("docs")) == "A-002"
    clock.advance(2 * 60)                      # 00:01 local, the next day
    assert pure.label(c.IssueTicket("docs")) == "A-001"
    assert "day.started" in pure.types()


def test_the_engine_decides_no_command_on_a_day_not_rolled_yet(pure: PureEngine,
                                                               clock: ManualClock) -> None:
    pure.do(c.IssueTicket("docs"))
    clock.advance(24 * HOUR)
    assert pure.engine.day_ends(clock.read())
    # Decided together with the roll, CallNext would see yesterday's line: refused.
    assert pure.refused(c.CallNext(1)).code == "day_not_started"
    pure.do(c.Tick())
    assert not pure.engine.day_ends(clock.read())
    assert pure.refused(c.CallNext(1)).code == "queue_empty"


def test_day_change_ends_every_open_ticket_in_one_final_state(pure: PureEngine, clock: ManualClock) -> None:
    pure.do(c.IssueTicket("docs"))
    pure.do(c.IssueTicket("docs"))
    pure.do(c.IssueTicket("realty"))
    pure.do(c.CallNext(1))
    pure.do(c.StartService(1))
    clock.advance(16 * HOUR)
    pure.do(c.Tick())
    states = sorted(t.state.value for t in pure.engine.state.tickets.values())
    assert states == []  # yesterday's tickets are finished and dropped from memory
    assert pure.types().count("ticket.no_show") == 2
    assert pure.types().count("ticket.done") == 1


def test_call_next_prefers_weight_then_priority_then_arrival(pure: PureEngine) -> None:
    pure.do(c.IssueTicket("realty"))                       # B-001
    pure.do(c.IssueTicket("docs"))
    pure.do(c.IssueTicket("docs", Category.PENSIONER))     # A-002, benefit
    # Window 1: docs weight 2 beats realty weight 1; the pensioner goes first among docs.
    assert pure.label(c.CallNext(1)) == "A-002"
    assert pure.label(c.CallNext(1)) == "A-001"
    assert pure.label(c.CallNext(1)) == "B-001"


def test_weight_zero_serves_only_when_nothing_else_waits(pure: PureEngine) -> None:
    pure.do(c.IssueTicket("docs"))
    pure.do(c.IssueTicket("realty"))
    assert pure.label(c.CallNext(2)) == "B-001"   # realty weight 2
    assert pure.label(c.CallNext(2)) == "A-001"   # docs weight 0, nothing else left


def test_benefit_window_takes_benefit_visitors_first_across_services(pure: PureEngine) -> None:
    pure.do(c.IssueTicket("docs"))
    pure.do(c.IssueTicket("realty", Category.DISABILITY))
    assert pure.label(c.CallNext(3)) == "B-001"
    # A normal window with docs weight 2 would have taken A-001 first.
    assert pure.label(c.CallNext(3)) == "A-001"


def test_empty_queue_is_refused_and_changes_nothing(pure: PureEngine) -> None:
    err = pure.refused(c.CallNext(1))
    assert err.code == "queue_empty"
    assert pure.events == []


def test_transfer_keeps_the_number_and_goes_right_after_those_in_service(pure: PureEngine) -> None:
    pure.do(c.IssueTicket("realty"))   # B-001 waiting
    pure.do(c.IssueTicket("realty"))   # B-002 waiting
    pure.do(c.IssueTicket("docs"))
    assert pure.label(c.CallNext(1)) == "A-001"
    moved = pure.do(c.Transfer(1, "realty")).reply.ticket
    assert moved is not None and moved.label == "A-001" and moved.service == "realty"
    assert pure.label(c.CallNext(2)) == "A-001"  # before B-001 and B-002
    assert pure.label(c.CallNext(2)) == "B-001"


def test_transfer_to_the_same_service_goes_to_the_back(pure: PureEngine) -> None:
    pure.do(c.IssueTicket("docs"))
    pure.do(c.IssueTicket("docs"))
    pure.do(c.CallNext(1))
    pure.do(c.Transfer(1, "docs"))
    assert [t.label for t in pure.engine.waiting_line("docs")] == ["A-002", "A-001"]


def test_park_and_unpark_returns_to_the_back(pure: PureEngine) -> None:
    for _ in range(3):
        pure.do(c.IssueTicket("docs"))
    pure.do(c.CallNext(1))
    pure.do(c.Park(1))
    assert pure.engine.state.windows[1].ticket_id is None
    pure.do(c.Unpark("A-001"))
    assert [t.label for t in pure.engine.waiting_line("docs")] == ["A-002", "A-003", "A-001"]


def test_recall_limit_makes_a_no_show(pure: PureEngine) -> None:
    pure.do(c.IssueTicket("docs"))
    pure.do(c.CallNext(1))
    pure.do(c.Recall(1))   # second call
    pure.do(c.Recall(1))   # third call
    out = pure.do(c.Recall(1))  # would be the fourth: no-show
    assert out.reply.ticket is not None and "NOSHOW" in out.reply.text
    assert pure.engine.state.tickets[1].state is TicketState.NO_SHOW
    noshow = [e for e in pure.events if e.type == "ticket.no_show"][0]
    assert noshow.data["auto"] is True and noshow.data["calls"] == 3


def test_call_next_while_holding_a_visitor_finishes_that_visit(pure: PureEngine) -> None:
    pure.do(c.IssueTicket("docs"))
    pure.do(c.IssueTicket("docs"))
    pure.do(c.CallNext(1))
    pure.do(c.CallNext(1))
    t1 = pure.engine.state.tickets[1]
    assert t1.state is TicketState.DONE
    done = [e for e in pure.events if e.type == "ticket.done"][0]
    assert done.data["implicit"] is True


def test_start_is_optional_and_service_time_counts_from_start(pure: PureEngine, clock: ManualClock) -> None:
    pure.do(c.IssueTicket("docs"))
    pure.do(c.CallNext(1))
    clock.advance(60)
    pure.do(c.StartService(1))
    clock.advance(300)
    pure.do(c.Finish(1))
    done = [e for e in pure.events if e.type == "ticket.done"][0]
    assert done.data["service_s"] == 300
    assert done.data["visit_s"] == 360


def test_recall_noshow_and_start_after_start_say_who_is_in_service(pure: PureEngine) -> None:
    """Risk: "window 1 has no ticket called" while the operator sees A-001 at the window."""
    pure.do(c.IssueTicket("docs"))
    pure.do(c.CallNext(1))
    pure.do(c.StartService(1))
    for command, action in ((c.Recall(1), "recall"), (c.NoShow(1), "no-show")):
        err = pure.refused(command)
        assert err.code == "in_service"
        assert str(err) == f"A-001 is in service at window 1; {action} works only before start"
    err = pure.refused(c.StartService(1))
    assert err.code == "in_service" and "A-001" in str(err) and "already" in str(err)
    assert pure.refused(c.Recall(3)).code == "no_ticket"       # nobody at window 3


def test_paused_and_closed_windows_do_not_call(pure: PureEngine) -> None:
    pure.do(c.IssueTicket("docs"))
    pure.do(c.PauseWindow(1))
    assert pure.refused(c.CallNext(1)).code == "window_not_open"
    pure.do(c.ResumeWindow(1))
    pure.do(c.CallNext(1))
    assert pure.refused(c.CloseWindow(1)).code == "window_busy"
    pure.do(c.Finish(1))
    pure.do(c.CloseWindow(1))
    assert pure.refused(c.CallNext(1)).code == "window_not_open"
    assert pure.refused(c.CallNext(9)).code == "unknown_window"


def test_call_a_specific_ticket(pure: PureEngine) -> None:
    for _ in range(3):
        pure.do(c.IssueTicket("docs"))
    assert pure.label(c.CallTicket(1, "a-003")) == "A-003"
    assert pure.refused(c.CallTicket(2, "A-003")).code == "not_waiting"
    assert pure.refused(c.CallTicket(2, "Z-999")).code == "unknown_ticket"


def test_rating_once_per_visit_within_the_window(pure: PureEngine, clock: ManualClock) -> None:
    pure.do(c.IssueTicket("docs"))
    assert pure.refused(c.Rate(1, 5)).code == "rating_ignored"
    pure.do(c.CallNext(1))
    pure.do(c.Finish(1))
    pure.do(c.Rate(1, 4))
    assert pure.refused(c.Rate(1, 5)).code == "rating_ignored"
    rating = [e for e in pure.events if e.type == "rating.recorded"][0]
    assert rating.data["window"] == 1 and rating.data["score"] == 4 and rating.data["visit"]
    pure.do(c.IssueTicket("docs"))
    pure.do(c.CallNext(1))
    pure.do(c.Finish(1))
    clock.advance(121)
    assert pure.refused(c.Rate(1, 3)).code == "rating_ignored"
    assert pure.refused(c.Rate(1, 6)).code == "bad_rating"


def test_printer_down_refuses_tickets_and_raises_then_clears_an_alarm(pure: PureEngine) -> None:
    pure.do(c.DeviceStatus("printer:kiosk", ok=False, detail="paper out", blocks_issue=True))
    err = pure.refused(c.IssueTicket("docs", printer="kiosk"))
    assert err.code == "printer_down" and "paper out" in str(err)
    assert pure.label(c.IssueTicket("docs")) == "A-001"  # a ticket with no paper still works
    pure.do(c.DeviceStatus("printer:kiosk", ok=True, blocks_issue=True))
    assert pure.label(c.IssueTicket("docs", printer="kiosk")) == "A-002"
    assert pure.types().count("alarm.raised") == 1
    assert pure.types().count("alarm.cleared") == 1


def test_a_raised_alarm_whose_severity_changes_is_raised_again(pure: PureEngine) -> None:
    """sync.outbox goes from warning (80 %) to critical (the cap): the new level reaches
    the snapshot and central; the same level again records nothing."""
    def outbox(severity: str) -> None:
        pure.do(c.RecordEvent("alarm.raised", {"alarm": "sync.outbox", "severity": severity,
                                               "message": f"outbox {severity}"}))

    outbox("warning")
    since = pure.engine.snapshot().alarms["sync.outbox"]["since_ms"]
    outbox("warning")
    assert pure.types().count("alarm.raised") == 1
    outbox("critical")
    raised = [e.data for e in pure.events if e.type == "alarm.raised"]
    assert [r["severity"] for r in raised] == ["warning", "critical"]
    assert raised[1]["previous_severity"] == "warning" and raised[1]["since_ms"] == since
    assert pure.engine.snapshot().alarms["sync.outbox"]["severity"] == "critical"
    outbox("critical")
    assert pure.types().count("alarm.raised") == 2


def test_print_jobs_and_void(pure: PureEngine) -> None:
    pure.do(c.IssueTicket("docs", printer="kiosk"))
    pure.do(c.IssueTicket("docs", printer="kiosk"))
    pure.do(c.TicketPrinted(1, ok=True))
    jobs = pure.do(c.PrintJobs("kiosk")).reply.data["jobs"]
    assert [j["ticket"] for j in jobs] == ["A-002"]
    assert "reprint" not in jobs[0]
    pure.do(c.TicketPrinted(2, ok=False, detail="cover open"))
    pure.do(c.VoidTicket(2, "printer never came back"))
    assert pure.engine.state.tickets[2].state is TicketState.VOIDED
    assert pure.do(c.PrintJobs("kiosk")).reply.data["jobs"] == []
    # A reprint of a ticket printed once is marked so: a worker started after a restart
    # must not take it for a new ticket that never printed (and void it).
    pure.do(c.Reprint("A-001"))
    [job] = pure.do(c.PrintJobs("kiosk")).reply.data["jobs"]
    assert job["ticket"] == "A-001" and job["reprint"] is True


def test_unknown_service_and_category_are_refused(pure: PureEngine) -> None:
    assert pure.refused(c.IssueTicket("nope")).code == "unknown_service"
    with pytest.raises(ValueError):
        c.IssueTicket("docs", Category("vip"))


def test_wait_estimate_counts_people_ahead_over_open_windows(pure: PureEngine) -> None:
    for _ in range(4):
        pure.do(c.IssueTicket("docs"))
    out = pure.do(c.IssueTicket("docs"))
    issued = out.events[-1].data
    # 4 ahead x 10 min over the 2 open windows that serve docs with weight > 0
    assert issued["ahead"] == 4 and issued["wait_min"] == 20


def test_snapshot_follows_every_change_though_unchanged_views_are_reused(
        pure: PureEngine, demo_config) -> None:
    before = pure.engine.snapshot()
    pure.do(c.IssueTicket("docs"))
    after_issue = pure.engine.snapshot()
    assert after_issue.waiting["docs"] == before.waiting["docs"] + 1
    # Windows did not change: the same view objects are handed out again.
    assert all(a is b for a, b in zip(after_issue.windows, before.windows))
    pure.do(c.CallNext(1))
    called = pure.engine.snapshot()
    w1 = next(w for w in called.windows if w.number == 1)
    assert (w1.ticket, w1.ticket_state) == ("A-001", "called")
    pure.do(c.StartService(1))
    w1 = next(w for w in pure.engine.snapshot().windows if w.number == 1)
    assert (w1.ticket, w1.ticket_state) == ("A-001", "serving")
    # A reconfigure renames a service: the snapshot shows the new name at once.
    data = demo_config.model_dump(mode="python")
    for s in data["services"]:
        s["names"]["en"] = f"Renamed {s['id']}"
    pure.do(reconfigure(parse_config(data, "renamed")))
    names = {s.id: s.names.get("en") for s in pure.engine.snapshot().services}
    assert names and all(n == f"Renamed {sid}" for sid, n in names.items())


def test_a_label_typed_loosely_finds_the_ticket(pure: PureEngine) -> None:
    """An operator types "a17" or "A-17" for the A-017 on the board."""
    for _ in range(17):
        pure.do(c.IssueTicket("docs"))
    assert pure.label(c.CallTicket(1, "a17")) == "A-017"
    pure.do(c.Park(1))
    assert pure.label(c.Unpark(" A 017 ")) == "A-017"
    assert pure.label(c.CallTicket(1, "A-17")) == "A-017"
    err = pure.refused(c.CallTicket(1, "A-18"))
    assert err.code == "unknown_ticket" and "A-18" in str(err)
    assert pure.refused(c.CallTicket(1, "17")).code == "unknown_ticket"   # no prefix: ambiguous


def test_voided_tickets_do_not_use_up_the_daily_cap(clock: ManualClock) -> None:
    """Risk: the kiosk printer jams, its tickets are voided (nobody holds them), and the
    service refuses real visitors "today's limit reached" before serving its cap."""
    services, windows = small_center()
    pure = PureEngine(QueueEngine(services, windows, "Asia/Almaty",
                                  Policies(services={"docs": ServiceRules(daily_cap=2)})), clock)
    pure.do(c.IssueTicket("docs", printer="kiosk"))
    pure.do(c.TicketPrinted(1, ok=False, detail="paper jam"))
    pure.do(c.VoidTicket(1, "not printed within 90 s: paper jam"))
    assert pure.label(c.IssueTicket("docs")) == "A-002"
    assert pure.label(c.IssueTicket("docs")) == "A-003"
    err = pure.refused(c.IssueTicket("docs"))
    assert err.code == "daily_cap" and "2" in str(err)


def test_a_transfer_to_a_service_no_window_serves_is_refused(clock: ManualClock) -> None:
    """Risk: the operator sends the visitor to a service no window serves; the visitor
    waits all day for a call that cannot come and is closed as a no-show at midnight."""
    services, windows = small_center()
    services.append(Service("archive", {"ru": "Архив"}, "D"))
    pure = PureEngine(QueueEngine(services, windows, "Asia/Almaty", Policies()), clock)
    pure.do(c.IssueTicket("docs"))
    pure.do(c.CallNext(1))
    err = pure.refused(c.Transfer(1, "archive"))
    assert err.code == "no_window" and "archive" in str(err)
    assert pure.engine.state.windows[1].ticket_id == 1        # still at the window: nothing lost
    # Windows that serve it but are closed now may open later: allowed, and the operator
    # is told nobody serves it at the moment.
    pure.do(c.CloseWindow(2))
    pure.do(c.CloseWindow(3))
    pure.do(c.PauseWindow(1))
    out = pure.do(c.Transfer(1, "realty"))
    assert out.reply.text == "TRANSFER A-001 -> realty (no window open for realty now)"


def test_a_window_removed_from_the_config_finishes_its_visitor_and_calls_no_one(
        pure: PureEngine, demo_config) -> None:
    """Risk: window 4 is removed by a reload while serving A-001; it is kept so its visitor
    is not lost, but after "done" it goes on calling visitors (and counting in the wait
    estimate) until the service restarts."""
    from edge.config.domain import domain_from_config
    services, windows, policies = domain_from_config(demo_config, read_secret=False)
    pure = PureEngine(QueueEngine(services, windows, "Asia/Almaty", policies), pure.clock)
    gone = windows[-1]
    sid = next(s for s, wt in gone.weights.items() if wt >= 1)
    if pure.engine.state.windows[gone.number].state is not WindowState.OPEN:
        pure.do(c.OpenWindow(gone.number))
    first = pure.label(c.IssueTicket(sid))
    pure.label(c.IssueTicket(sid))
    assert pure.label(c.CallTicket(gone.number, first)) == first
    data = demo_config.model_dump(mode="python")
    data["windows"] = [w for w in data["windows"] if w["number"] != gone.number]
    pure.do(reconfigure(parse_config(data, "without the last window")))
    # The hall screen and status show it while its visitor is there ...
    assert gone.number in [w.number for w in pure.engine.snapshot().windows]
    # Its visitor is finished as usual ...
    assert pure.do(c.Finish(gone.number)).reply.text == f"DONE {first}"
    # ... and then it leaves the screens (it was listed, empty, until a restart).
    assert gone.number not in [w.number for w in pure.engine.snapshot().windows]
    # ... and then it takes no one: not "next", not a ticket by label, not re-opened.
    for command in (c.CallNext(gone.number), c.CallTicket(gone.number, "A-002"),
                    c.OpenWindow(gone.number), c.PauseWindow(gone.number)):
        err = pure.refused(command)
        assert err.code == "window_removed" and str(gone.number) in str(err)
    assert pure.do(c.CloseWindow(gone.number)).reply.text == f"WINDOW {gone.number} closed"
    # Nor does it count among the windows of the wait estimate.
    kept = [w for w in pure.engine.state.windows.values() if w.number != gone.number
            and w.weights.get(sid, 0) >= 1 and w.state is not WindowState.CLOSED]
    for _ in range(6):
        pure.do(c.IssueTicket(sid))
    issued = pure.do(c.IssueTicket(sid)).events[-1].data
    avg = next(s.avg_minutes for s in services if s.id == sid)
    assert kept and issued["ahead"] == 7
    assert issued["wait_min"] == math.ceil(7 * avg / len(kept))
