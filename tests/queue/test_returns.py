"""A no-show who comes back: back to the end of the line, or called by number after a delay."""

from __future__ import annotations

import io

import pytest

from edge.clock import ManualClock
from edge.config import parse_config
from edge.config.domain import reconfigure
from edge.drivers.console import HELP, ConsoleDriver
from edge.drivers.serial_inputs.keypad import parse_line
from edge.errors import CommandError, ConfigError
from edge.queue import commands as c
from edge.queue.engine import QueueEngine
from edge.queue.model import PrintState, Service, TicketState
from edge.queue.policies import Policies, ServiceRules

from .conftest import PureEngine, small_center

MIN = 60


def center(clock: ManualClock, **policies) -> PureEngine:
    services, windows = small_center()
    services.append(Service("archive", {"ru": "Архив"}, "D"))   # no window serves it
    return PureEngine(QueueEngine(services, windows, "Asia/Almaty",
                                  Policies(**{"recall_limit": 3, **policies})), clock)


def missed(pure: PureEngine, window: int = 1, n: int = 3) -> None:
    """n docs tickets; A-001 is called to `window` and marked a no-show by the operator."""
    for _ in range(n):
        pure.do(c.IssueTicket("docs"))
    assert pure.label(c.CallTicket(window, "A-001")) == "A-001"
    pure.do(c.NoShow(window))


def of(pure: PureEngine, type_: str) -> list[dict]:
    return [e.data for e in pure.events if e.type == type_]


def refused_both_ways(pure: PureEngine, label: str, code: str, text: str,
                      window: int = 1) -> None:
    """Both ways back (a call by number, `return`) are refused with `code` and `text`."""
    for command in (c.CallTicket(window, label), c.ReturnTicket(label)):
        err = pure.refused(command)
        assert err.code == code
        assert str(err) == text


def test_the_default_lets_a_no_show_come_back_after_five_minutes(clock: ManualClock) -> None:
    """Risk: the engine's and the config's defaults disagree: a center without the key gets
    a behaviour its docs do not describe."""
    assert Policies().no_show_return_min == 5
    from edge.config.policies import PoliciesConfig
    assert PoliciesConfig().no_show_return_min == 5


def test_a_no_show_who_comes_back_goes_to_the_end_of_the_line(clock: ManualClock) -> None:
    """Risk: the visitor who was at the copier for two minutes must take a new ticket and
    wait from the start, or (the other way wrong) goes ahead of everyone who waited."""
    pure = center(clock)
    missed(pure)
    clock.advance(2 * MIN)
    out = pure.do(c.ReturnTicket("a1"))
    assert out.reply.text == "RETURNED A-001 to docs ahead=2"
    assert [t.label for t in pure.engine.waiting_line("docs")] == ["A-002", "A-003", "A-001"]
    [ev] = out.events
    assert ev.type == "ticket.returned"
    assert ev.data == {"ticket_id": 1, "ticket": "A-001", "service": "docs",
                       "visit": "2026-11-23/1", "window": None, "after_s": 120, "returns": 1}
    t = pure.engine.ticket(1)
    assert t is not None and t.state is TicketState.WAITING and t.window is None
    assert t.recalls == 0 and t.finished_ms is None and t.called_ms is None
    assert pure.engine.snapshot().waiting["docs"] == 3
    # Called in its turn by "next", as a fresh call (calls = 1, wait counted from the return).
    assert [pure.label(c.CallNext(1)) for _ in range(3)] == ["A-002", "A-003", "A-001"]
    assert of(pure, "ticket.called")[-1]["calls"] == 1


def test_a_no_show_is_called_by_number_only_minutes_after_it_was_missed(
        clock: ManualClock) -> None:
    """Risk: "no-show" and an immediate call by number become a way around the line (ZMS
    lets an operator re-call a missed visitor only after 5 minutes)."""
    pure = center(clock)
    missed(pure)                                   # the no-show at 09:00
    pure.do(c.CallNext(1))                         # A-002 is at window 1
    clock.advance(2 * MIN)
    before = len(pure.events)
    err = pure.refused(c.CallTicket(1, "A-001"))
    assert err.code == "return_too_soon"
    assert str(err) == ("A-001 was a no-show 2 min ago; it can be called by number from 09:05 "
                        "(policies.no_show_return_min = 5), or go back to the end of the line "
                        "now: return A-001")
    assert pure.engine.ticket(1).state is TicketState.NO_SHOW   # nothing changed
    assert pure.engine.state.windows[1].ticket_id == 2 and len(pure.events) == before
    clock.advance(3 * MIN)
    out = pure.do(c.CallTicket(1, "A-001"))
    assert out.reply.text == "CALL A-001 -> 1 (back 5 min after its no-show)"
    # The visitor at the window is finished first, then the missed one comes back.
    assert [e.type for e in out.events] == ["ticket.done", "ticket.returned", "ticket.called"]
    returned, called = out.events[1].data, out.events[2].data
    assert returned["window"] == 1 and returned["after_s"] == 300 and returned["returns"] == 1
    assert called["calls"] == 1 and called["wait_s"] == 0
    assert pure.engine.ticket(1).state is TicketState.CALLED
    assert pure.engine.state.windows[1].ticket_id == 1
    recent = pure.engine.snapshot().recent_calls[0]
    assert (recent.ticket, recent.window, recent.calls) == ("A-001", 1, 1)
    assert [t.label for t in pure.engine.waiting_line("docs")] == ["A-003"]


def test_a_returned_ticket_is_called_in_its_turn_not_by_number_before_the_delay(
        clock: ManualClock) -> None:
    """Risk: `return A-001` then `call 1 A-001` skips the line at once, and the delay that
    keeps the no-show button from being a way around the line means nothing."""
    pure = center(clock)
    missed(pure)
    clock.advance(MIN)
    pure.do(c.ReturnTicket("A-001"))
    err = pure.refused(c.CallTicket(2, "A-001"))
    assert err.code == "return_too_soon"
    assert str(err) == ("A-001 came back from a no-show 1 min ago and waits at the end of the "
                        "line: it is called in its turn, or by number from 09:05 "
                        "(policies.no_show_return_min = 5)")
    clock.advance(4 * MIN)
    out = pure.do(c.CallTicket(2, "A-001"))
    assert [e.type for e in out.events] == ["ticket.called"]   # it came back once, not twice


def test_finished_tickets_stay_final(clock: ManualClock) -> None:
    """Risk: a served visitor's or a voided ticket's number is called again (a second
    visit on one ticket, or a ticket nobody holds)."""
    pure = center(clock)
    pure.do(c.IssueTicket("docs", printer="kiosk"))
    pure.do(c.VoidTicket(1, "not printed within 90 s: paper out"))
    pure.do(c.IssueTicket("docs"))
    pure.do(c.CallNext(1))
    pure.do(c.Finish(1))
    clock.advance(10 * MIN)
    before = len(pure.events)
    for label, state in (("A-001", "voided"), ("A-002", "done")):
        refused_both_ways(pure, label, "ticket_final",
                          f"{label} is {state}: it cannot be called or returned again; "
                          "the visitor takes a new ticket")
    assert len(pure.events) == before


def test_a_ticket_that_is_not_a_no_show_is_not_returned(clock: ManualClock) -> None:
    """Risk: `return` on a waiting, called or parked ticket moves it to the back of the line."""
    pure = center(clock)
    for _ in range(3):
        pure.do(c.IssueTicket("docs"))
    pure.do(c.CallNext(1))
    pure.do(c.CallNext(2))
    pure.do(c.Park(2))
    assert str(pure.refused(c.ReturnTicket("A-001"))) == \
        "A-001 is called, not a no-show; return works only for a no-show"
    err = pure.refused(c.ReturnTicket("A-002"))
    assert err.code == "not_no_show" and str(err) == \
        "A-002 is parked, not a no-show; unpark A-002 puts it back in line"
    assert pure.refused(c.ReturnTicket("A-003")).code == "not_no_show"


def test_returns_are_off_when_the_policy_is_zero(clock: ManualClock) -> None:
    """Risk: a center whose central treats ticket.no_show as final cannot keep it so."""
    pure = center(clock, no_show_return_min=0)
    missed(pure)
    clock.advance(30 * MIN)
    refused_both_ways(pure, "A-001", "return_off",
                      "A-001 was a no-show at 09:00; no-shows are final at this center "
                      "(policies.no_show_return_min = 0): the visitor takes a new ticket",
                      window=2)
    assert "ticket.returned" not in pure.types()


def test_a_no_show_of_an_earlier_day_cannot_come_back(clock: ManualClock) -> None:
    """Risk: yesterday's no-show (or its number, issued again today) is called back."""
    pure = center(clock)
    missed(pure)
    clock.advance(16 * 3600)                       # 01:00 the next day
    pure.do(c.Tick())
    refused_both_ways(pure, "A-001", "unknown_ticket",
                      "no ticket A-001 today; check the number (a ticket of an earlier "
                      "day is closed: the visitor takes a new one)")


def test_a_no_show_is_not_called_to_a_window_that_is_not_open(clock: ManualClock) -> None:
    """Risk: the missed visitor is called to a paused or closed window: nobody is there."""
    pure = center(clock)
    missed(pure)
    clock.advance(10 * MIN)
    pure.do(c.PauseWindow(2))
    err = pure.refused(c.CallTicket(2, "A-001"))
    assert err.code == "window_not_open" and str(err) == "window 2 is paused; resume it first"
    pure.do(c.CloseWindow(2))
    assert str(pure.refused(c.CallTicket(2, "A-001"))) == "window 2 is closed; open it first"
    assert pure.engine.ticket(1).state is TicketState.NO_SHOW


def test_a_no_show_of_a_service_no_window_serves_does_not_go_back_to_its_line(
        clock: ManualClock) -> None:
    """Risk: the returned visitor waits all day for a call that cannot come."""
    pure = center(clock)
    pure.do(c.IssueTicket("archive"))
    pure.do(c.CallTicket(1, "D-001"))              # called by number to window 1
    pure.do(c.NoShow(1))
    err = pure.refused(c.ReturnTicket("D-001"))
    assert err.code == "no_window"
    assert str(err) == ("no window serves archive, so D-001 cannot wait in its line; call it "
                        "by number to a window instead")
    clock.advance(5 * MIN)
    assert pure.label(c.CallTicket(1, "D-001")) == "D-001"     # the way that works


def test_a_return_while_no_window_of_the_line_is_open_says_so(clock: ManualClock) -> None:
    """Risk: the operator sends the visitor back to a line no open window calls, unaware."""
    pure = center(clock)
    missed(pure, window=2, n=1)
    for window in (1, 3):
        pure.do(c.PauseWindow(window))
    pure.do(c.CloseWindow(2))
    assert pure.do(c.ReturnTicket("A-001")).reply.text == \
        "RETURNED A-001 to docs ahead=0 (no window open for docs now)"


def test_a_no_show_of_a_service_removed_from_the_config_stays_final(
        clock: ManualClock, demo_config) -> None:
    """Risk: a reload removed the service (allowed: it had no live ticket); calling its
    no-show back would put a ticket of an unknown service at a window."""
    from edge.config.domain import domain_from_config
    services, windows, policies = domain_from_config(demo_config, read_secret=False)
    pure = PureEngine(QueueEngine(services, windows, "Asia/Almaty", policies), clock)
    pure.do(c.IssueTicket("realty"))
    pure.do(c.CallTicket(2, "B-001"))
    pure.do(c.NoShow(2))
    data = demo_config.model_dump(mode="python")
    data["services"] = [x for x in data["services"] if x["id"] != "realty"]
    for w in data["windows"]:
        w["services"].pop("realty", None)
    data["policies"]["services"].pop("realty", None)
    pure.do(reconfigure(parse_config(data, "without realty")))
    clock.advance(10 * MIN)
    refused_both_ways(pure, "B-001", "unknown_service",
                      "B-001 was for service realty, which is no longer configured: the "
                      "visitor takes a new ticket")


def test_a_returned_visitor_counts_once_in_caps_estimates_and_finals(clock: ManualClock) -> None:
    """Risk: the come-back is counted as a second ticket (the daily cap refuses it or is
    used up, two service-time samples, two visits) or is missing from the line's count."""
    pure = center(clock, services={"docs": ServiceRules(daily_cap=2)})
    missed(pure, n=2)
    assert pure.refused(c.IssueTicket("docs")).code == "daily_cap"
    clock.advance(MIN)
    pure.do(c.ReturnTicket("A-001"))               # not a new ticket: the cap does not refuse it
    assert pure.refused(c.IssueTicket("docs")).code == "daily_cap"
    assert pure.engine.snapshot().waiting["docs"] == 2
    issued = pure.do(c.IssueTicket("realty")).events[-1].data
    assert issued["ahead"] == 0                    # other lines are not touched
    for _ in range(2):
        pure.do(c.CallNext(1))
        clock.advance(5 * MIN)
        pure.do(c.Finish(1))
    assert pure.engine._times.count("docs") == 2   # one sample per ticket served
    assert [e["ticket"] for e in of(pure, "ticket.done")] == ["A-002", "A-001"]
    assert [e["ticket"] for e in of(pure, "ticket.no_show")] == ["A-001"]
    # A ticket's outcome is its last final event: A-001 was served.
    a1 = [e.type for e in pure.events if e.data.get("ticket_id") == 1]
    assert a1 == ["ticket.issued", "ticket.called", "ticket.no_show", "ticket.returned",
                  "ticket.called", "ticket.done"]


def test_a_return_starts_a_fresh_wait_for_the_sla_alarm(clock: ManualClock) -> None:
    """Risk: the returned ticket raises "waited over 30 min" at once, counting the time
    before its first call, or keeps an alarm of the visit it is no longer waiting in."""
    pure = center(clock, services={"docs": ServiceRules(max_wait_min=30)})
    pure.do(c.IssueTicket("docs"))
    clock.advance(31 * MIN)
    pure.do(c.Tick())
    assert "sla.wait:1" in pure.engine.snapshot().alarms
    pure.do(c.CallNext(1))
    pure.do(c.NoShow(1))
    assert "sla.wait:1" not in pure.engine.snapshot().alarms
    pure.do(c.ReturnTicket("A-001"))
    clock.advance(29 * MIN)
    pure.do(c.Tick())
    assert "sla.wait:1" not in pure.engine.snapshot().alarms
    clock.advance(2 * MIN)
    pure.do(c.Tick())
    assert "sla.wait:1" in pure.engine.snapshot().alarms


def test_a_timed_out_no_show_that_came_back_is_not_reported_as_timed_out_again(
        clock: ManualClock) -> None:
    """Risk: the old no-show reason stays on the ticket: after the operator's own no-show,
    `done` says "closed as a no-show because start was not pressed"."""
    pure = center(clock, no_show_after_s=60)
    pure.do(c.IssueTicket("docs"))
    pure.do(c.CallNext(1))
    clock.advance(61)
    pure.do(c.Tick())
    assert of(pure, "ticket.no_show")[-1]["reason"] == "timeout"
    pure.do(c.ReturnTicket("A-001"))
    assert "no_show" not in pure.engine.ticket(1).extra
    pure.do(c.CallNext(1))
    pure.do(c.NoShow(1))
    err = pure.refused(c.Finish(1))
    assert str(err) == "window 1 has no ticket called or in service"


def test_a_returned_ticket_owes_no_paper(clock: ManualClock) -> None:
    """Risk: a ticket whose reprint failed is printed (or voided as overdue) at the kiosk
    while its visitor stands at the window. (A ticket never printed is never called: see
    test_ghost_tickets.py.)"""
    pure = center(clock)
    pure.do(c.IssueTicket("docs", printer="kiosk"))
    pure.do(c.TicketPrinted(1, ok=True))
    pure.do(c.Reprint("A-001"))
    pure.do(c.TicketPrinted(1, ok=False, detail="cover open"))
    pure.do(c.CallNext(1))
    pure.do(c.NoShow(1))
    pure.do(c.ReturnTicket("A-001"))
    assert pure.engine.ticket(1).print_state is PrintState.NONE
    assert pure.do(c.PrintJobs("kiosk")).reply.data["jobs"] == []


def test_a_returned_ticket_still_open_at_the_day_end_is_closed_again(clock: ManualClock) -> None:
    """Risk: a ticket back in line is left open overnight, or its number stays in use."""
    pure = center(clock)
    missed(pure, n=1)
    pure.do(c.ReturnTicket("A-001"))
    clock.advance(16 * 3600)
    pure.do(c.Tick())
    finals = [(e.type, e.data.get("reason")) for e in pure.events
              if e.data.get("ticket_id") == 1 and e.type == "ticket.no_show"]
    assert finals == [("ticket.no_show", None), ("ticket.no_show", "day_closed")]
    assert pure.engine.state.tickets == {}
    assert pure.label(c.IssueTicket("docs")) == "A-001"


def test_a_returned_ticket_holds_its_number_again(clock: ManualClock) -> None:
    """Risk: the number of a no-show is free (final) and, once it comes back, is issued to
    a newcomer too: two C-001 in the hall."""
    pure = center(clock)
    pure.do(c.IssueTicket("tiny"))                 # range 1-3
    pure.do(c.CallTicket(3, "C-001"))
    pure.do(c.NoShow(3))
    pure.do(c.IssueTicket("tiny"))
    pure.do(c.IssueTicket("tiny"))
    pure.do(c.ReturnTicket("C-001"))
    assert pure.refused(c.IssueTicket("tiny")).code == "numbers_exhausted"


def test_a_second_miss_can_come_back_again(clock: ManualClock) -> None:
    """Risk: the count of returns is lost, or the second no-show is final for no reason."""
    pure = center(clock)
    missed(pure)
    pure.do(c.ReturnTicket("A-001"))
    pure.do(c.CallTicket(1, "A-002"))
    pure.do(c.Finish(1))
    pure.do(c.CallNext(1))
    pure.do(c.CallNext(1))                         # A-001 again
    pure.do(c.NoShow(1))
    out = pure.do(c.ReturnTicket("A-001"))
    assert out.events[0].data["returns"] == 2


def test_a_return_survives_a_restart(harness) -> None:
    """Risk: after a power cut the returned ticket is lost from the line, sits in another
    place, its number is issued twice, or its delay starts again."""
    clock = harness.clock
    for _ in range(3):
        harness.call(c.IssueTicket("docs"))
    harness.call(c.CallNext(1))
    harness.call(c.NoShow(1))                      # A-001 missed at 09:00
    harness.call(c.IssueTicket("realty"))          # B-001
    harness.call(c.CallNext(2))                    # realty first at window 2: B-001
    harness.call(c.NoShow(2))                      # B-001 missed at 09:00
    clock.advance(MIN)
    harness.call(c.ReturnTicket("A-001"))
    line = [t.label for t in harness.engine.waiting_line("docs")]
    assert line == ["A-002", "A-003", "A-001"]
    harness.restart()
    assert [t.label for t in harness.engine.waiting_line("docs")] == line
    assert harness.controller.snapshot.waiting["docs"] == 3
    # The delay is counted from the saved no-show, not from the restart.
    with pytest.raises(CommandError) as e:
        harness.call(c.CallTicket(1, "A-001"))
    assert e.value.code == "return_too_soon"
    clock.advance(4 * MIN)
    assert harness.call(c.CallTicket(2, "B-001")).reply.text.startswith("CALL B-001 -> 2")
    # Numbering and the line go on in order after the restart.
    assert harness.call(c.IssueTicket("docs")).reply.ticket.label == "A-004"
    harness.restart()
    assert [harness.call(c.CallNext(1)).reply.ticket.label for _ in range(3)] == \
        ["A-002", "A-003", "A-001"]
    types = [e.type for e in harness.store.outbox()]
    assert types.count("ticket.returned") == 2


def test_the_console_returns_and_calls_a_no_show(harness) -> None:
    """Risk: the operator cannot reach the feature, or a refusal is not one clear line."""
    out = io.StringIO()
    console = ConsoleDriver(harness.controller, io.StringIO(), out, lambda: None)
    for line in ("ticket docs", "ticket docs", "call 1", "noshow 1", "call 1 A-001",
                 "return a1", "return A-001", "return A-009"):
        assert console.handle_line(line)
    answers = out.getvalue().splitlines()
    assert answers[4].startswith("ERROR A-001 was a no-show under a minute ago; it can be "
                                 "called by number from 09:05")
    assert answers[5:] == [
        "RETURNED A-001 to docs ahead=1",
        "ERROR A-001 is waiting, not a no-show; return works only for a no-show",
        "ERROR no ticket A-009 today; check the number (a ticket of an earlier day is closed: "
        "the visitor takes a new one)",
    ]
    assert "return TICKET" in HELP


@pytest.mark.parametrize("line, expected", [
    ("3 call A-017", c.CallTicket(window=3, label="A-017", source="k")),
    ("3 next a17", c.CallTicket(window=3, label="a17", source="k")),
    ("3 call", c.CallNext(window=3, source="k")),
    ("3 return A-017", c.ReturnTicket(label="A-017", source="k")),
])
def test_a_keypad_line_calls_or_returns_a_ticket_by_number(line, expected) -> None:
    """Risk: "3 call A-017" on a text keypad calls the next visitor instead of A-017 (the
    number was ignored), so a returning visitor cannot be called from a keypad."""
    assert parse_line(line, window=None, source="k").command == expected


def test_a_keypad_return_needs_the_ticket() -> None:
    """Risk: "3 return" without a number is taken for some other ticket or action."""
    parsed = parse_line("3 return", window=None, source="k")
    assert parsed.command is None and "return needs a ticket number" in parsed.error


@pytest.mark.parametrize("value, expected", [
    (-1, "policies.no_show_return_min"), (121, "policies.no_show_return_min"),
])
def test_the_return_delay_is_validated(demo_config, value, expected) -> None:
    """Risk: a typo (500 minutes, a negative number) silently changes what operators can do."""
    data = demo_config.model_dump(mode="python")
    data["policies"]["no_show_return_min"] = value
    with pytest.raises(ConfigError) as e:
        parse_config(data, "test")
    assert any(expected in p for p in e.value.problems), e.value.problems


def test_the_config_key_reaches_the_engine(demo_config) -> None:
    """Risk: `no_show_return_min = 0` in the file (or central's cfg) does not reach the
    engine, and no-shows come back at a center that asked for them to stay final."""
    from edge.config.domain import policies_from_config
    data = demo_config.model_dump(mode="python")
    data["policies"]["no_show_return_min"] = 0
    assert policies_from_config(parse_config(data, "t"), read_secret=False).no_show_return_min == 0


def test_a_printer_never_voids_a_ticket_whose_paper_is_no_longer_owed(clock: ManualClock) -> None:
    """Risk: the printer's thread still holds the job of a ticket that was issued while it
    failed, called, missed and sent back; when the job's deadline passes it voids the
    ticket of a visitor who is standing in line (or holds the paper of a later print)."""
    pure = center(clock)
    pure.do(c.IssueTicket("docs", printer="kiosk"))   # printed, then a copy is owed
    pure.do(c.TicketPrinted(1, ok=True))
    pure.do(c.Reprint("A-001"))
    pure.do(c.TicketPrinted(1, ok=False, detail="paper out"))
    pure.do(c.IssueTicket("docs"))
    pure.do(c.CallTicket(1, "A-001"))
    pure.do(c.NoShow(1))
    pure.do(c.ReturnTicket("A-001"))
    assert pure.engine.state.tickets[1].print_state is PrintState.NONE
    err = pure.refused(c.VoidTicket(1, "not printed within 90 s: paper out"))
    assert err.code == "not_owed" and str(err) == \
        "A-001 is not owed paper (print state none): not voided"
    assert pure.engine.state.tickets[1].state is TicketState.WAITING
    # Paper that came out once is never voided either, even if a reprint is owed.
    pure.do(c.IssueTicket("docs", printer="kiosk"))
    pure.do(c.TicketPrinted(3, ok=True))
    pure.do(c.Reprint("A-003"))
    assert pure.refused(c.VoidTicket(3, "cannot print: cover open")).code == "not_owed"
    # What the printer owes and never printed is still voided (the visitor has nothing).
    pure.do(c.IssueTicket("docs", printer="kiosk"))
    pure.do(c.VoidTicket(4, "not printed within 90 s: paper out"))
    assert pure.engine.state.tickets[4].state is TicketState.VOIDED


def test_a_morning_no_show_under_the_stale_clock_still_comes_back_after_ntp(
        tmp_path, demo_config, clock: ManualClock) -> None:
    """Risk: a Pi without a battery clock boots at 09:00 with yesterday's 19:00 and no
    network. A-001 is missed at 09:02 and A-002 at 09:40 (sent back to the line at once).
    NTP's step at 09:41 starts the new day and moves the morning's open tickets to it,
    but not the no-show: A-001's visitor, back at 09:45, is refused as "a ticket of an
    earlier day" and must start again. And A-002's no-show time was not moved with its
    other times: it was taken for 14 hours old and called by number at once."""
    from edge.queue.model import TicketState
    from tests.conftest import Harness

    h = Harness(demo_config, tmp_path / "kezek.db", clock, tick_interval_s=3600)
    try:
        clock.advance(10 * 3600)                      # Monday 19:00: the Pi is switched off
        h.call(c.Tick())
        saved = h.reboot_without_rtc()                # Tuesday 09:00, clock says Mon 19:00
        for _ in range(3):
            h.call(c.IssueTicket("docs"))
        h.call(c.CallNext(1))
        clock.advance(2 * MIN)
        h.call(c.NoShow(1))                           # missed at 09:02 (the clock: 19:02)
        h.call(c.CallNext(1))
        clock.advance(38 * MIN)
        h.call(c.NoShow(1))                           # missed at 09:40
        h.call(c.ReturnTicket("A-002"))
        clock.advance(MIN)
        clock.wall_ms = saved + 14 * 3600 * 1000 + 41 * MIN * 1000   # NTP: Tuesday 09:41
        clock.synced = True
        h.call(c.Tick())
        redated = [e.data["ticket"] for e in h.store.outbox() if e.type == "ticket.redated"]
        assert redated == ["A-001", "A-002", "A-003"]
        # A-002 was missed a minute ago, not 14 hours ago: by number only from 09:45.
        with pytest.raises(CommandError) as e:
            h.call(c.CallTicket(2, "A-002"))
        assert e.value.code == "return_too_soon" and "from 09:45" in str(e.value)
        clock.advance(4 * MIN)                        # 09:45: A-001's visitor is back
        out = h.call(c.ReturnTicket("A-001"))
        assert out.reply.text == "RETURNED A-001 to docs ahead=2"
        [returned] = [e for e in out.events if e.type == "ticket.returned"]
        assert returned.data["after_s"] == 43 * MIN   # since 09:02, on the real clock
        h.restart()
        tickets = {t.label: t for t in h.store.tickets(day="2026-11-24")}
        assert set(tickets) == {"A-001", "A-002", "A-003"}
        assert tickets["A-001"].state is TicketState.WAITING
        assert [t.label for t in h.engine.waiting_line("docs")] == ["A-003", "A-002", "A-001"]
        # Numbering goes on after the morning's tickets.
        assert h.call(c.IssueTicket("docs")).reply.ticket.label == "A-004"
    finally:
        h.close()


def test_where_no_shows_are_final_the_mornings_no_show_closes_with_yesterday(
        clock: ManualClock) -> None:
    """Risk: a center that keeps no-shows final (a central not ready for tickets that go
    on after their final event) gets a ticket.redated after a ticket.no_show."""
    pure = center(clock, no_show_return_min=0)
    clock.reboot("boot-2", wall_ms=clock.wall_ms + 60_000, synced=False)
    missed(pure, n=2)                              # under the stale clock
    clock.jump_wall(24 * 3600)                     # NTP steps to the real morning
    clock.synced = True
    pure.do(c.Tick())
    assert [e.data["ticket"] for e in pure.events if e.type == "ticket.redated"] == ["A-002"]


def test_central_keeps_no_shows_final_by_sending_the_sites_whole_policies(
        harness, tmp_path) -> None:
    """Risk: central's team follows docs/protocol.md and sends `"policies":
    {"no_show_return_min": 0}` alone. A cfg section replaces the site's section whole, so
    that also reset the site's hours, daily caps, booking-only services and recall limit
    to the defaults. The docs must say to send the whole [policies] with the key."""
    from edge.sync.downlink import Downlink
    from edge.sync.outbox import OutboxDb
    from edge.sync.protocol import CfgMessage

    site = harness.config.model_dump(mode="json")
    site["policies"].update(recall_limit=2, no_show_after_s=180)
    site["policies"]["services"]["realty"].update(mode="booking_only", daily_cap=60)
    site_config = parse_config(site, "site")
    db = OutboxDb(harness.db_path)
    try:
        downlink = Downlink(db, harness.controller, lambda: site_config, harness.clock,
                            emit=lambda *a: None, resend=lambda seq: 0, max_bytes=1 << 20)

        def merged(policies: dict) -> Policies:
            from edge.config.domain import policies_from_config
            msg = CfgMessage.model_validate({"v": 1, "version": 1,
                                             "config": {"policies": policies}})
            return policies_from_config(downlink.merge(msg), read_secret=False)

        alone = merged({"no_show_return_min": 0})
        assert alone.no_show_return_min == 0
        assert (alone.recall_limit, alone.no_show_after_s, alone.services) == (3, None, {})
        whole = merged({**site["policies"], "no_show_return_min": 0})
        assert whole.no_show_return_min == 0
        assert (whole.recall_limit, whole.no_show_after_s) == (2, 180)
        assert whole.rules("realty") == ServiceRules(mode="booking_only", daily_cap=60)
    finally:
        db.close()


def test_a_no_show_keeps_its_number_from_newcomers_while_others_are_free(
        tmp_path, clock: ManualClock) -> None:
    """Risk: a no-show's number is free, so once the service's numbers wrap (999 a day at
    a big center; here a range of 3) a newcomer gets C-001 while other numbers are free.
    C-001's visitor comes back: `return C-001` finds the newcomer ("waiting, not a
    no-show") and `call 1 C-001` calls the newcomer out of turn."""
    from tests.conftest import Harness, demo_config_dict

    data = demo_config_dict()
    next(s for s in data["services"] if s["id"] == "docs")["range"] = [1, 3]
    h = Harness(parse_config(data, "small range"), tmp_path / "kezek.db", clock,
                tick_interval_s=3600)
    try:
        def issue() -> str:
            return h.call(c.IssueTicket("docs")).reply.ticket.label

        assert [issue() for _ in range(3)] == ["A-001", "A-002", "A-003"]
        h.call(c.CallNext(1))
        h.call(c.NoShow(1))                       # A-001 missed
        h.call(c.CallNext(1))
        h.call(c.Finish(1))                       # A-002 served: 2 is free
        h.restart()                               # what is held is what was committed
        assert issue() == "A-002"                 # not a second A-001
        out = h.call(c.ReturnTicket("A-001"))
        assert out.reply.text == "RETURNED A-001 to docs ahead=2"
        # With every other number in use, a no-show's number is issued rather than none:
        # that visitor can no longer come back (the hall must not show two A-003).
        h.call(c.CallNext(1))
        h.call(c.NoShow(1))
        assert issue() == "A-003"
        err = pytest.raises(CommandError, h.call, c.ReturnTicket("A-003")).value
        assert err.code == "not_no_show"
        assert h.call(c.IssueTicket("realty")).reply.ticket.label == "B-001"
        assert pytest.raises(CommandError, h.call, c.IssueTicket("docs")).value.code == \
            "numbers_exhausted"
    finally:
        h.close()


def test_unpark_of_a_no_show_names_return(harness) -> None:
    """Risk: the operator takes the missed visitor back with `unpark` (the way for a parked
    one) and reads only "A-001 is no_show, not parked": no word of how to go on."""
    out = io.StringIO()
    console = ConsoleDriver(harness.controller, io.StringIO(), out, lambda: None)
    for line in ("ticket docs", "call 1", "noshow 1", "unpark A-001", "return A-001",
                 "unpark A-001"):
        assert console.handle_line(line)
    assert out.getvalue().splitlines()[3:] == [
        "ERROR A-001 is a no-show, not parked; return A-001 puts it back in line",
        "RETURNED A-001 to docs ahead=0",
        "ERROR A-001 is waiting, not parked",
    ]
