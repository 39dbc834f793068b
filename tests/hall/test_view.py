"""The hall page's list rule, table-tested: newest first, each new call kept at least N s."""

from __future__ import annotations

from edge.hall.view import HallView
from edge.queue.snapshot import CallView, QueueSnapshot, ServiceView


def view(rows: int = 3, min_show_s: float = 7.0) -> HallView:
    return HallView(rows=rows, min_show_s=min_show_s, languages=["kk", "ru"],
                    center_names={"kk": "ХҚКО", "ru": "ЦОН"})


def calls(*items: tuple[str, int, int]) -> tuple[CallView, ...]:
    """(ticket, window, calls) newest first, as the engine keeps them."""
    return tuple(CallView(t, w, "docs", 0, n) for t, w, n in items)


def shown(v: HallView, recent, now: float) -> list[tuple[str, bool]]:
    return [(c.ticket, c.fresh) for c in v.calls(recent, now)[0]]


def test_a_new_call_is_fresh_for_min_show_seconds_then_not():
    v = view()
    recent = calls(("A-001", 1, 1))
    assert shown(v, recent, 100.0) == [("A-001", True)]
    assert v.calls(recent, 100.0)[1] == 107.0        # when to redraw
    assert shown(v, recent, 106.9) == [("A-001", True)]
    assert shown(v, recent, 107.0) == [("A-001", False)]
    assert v.calls(recent, 107.0)[1] is None


def test_a_burst_of_calls_keeps_each_listed_at_least_min_show():
    """Risk: with 5 rows and 6 calls in a second, one number flashes by unseen."""
    v = view(rows=2)
    old = calls(("A-001", 1, 1), ("A-002", 2, 1))
    v.baseline(old)
    burst = calls(("B-001", 3, 1), ("B-002", 4, 1), ("B-003", 1, 1)) + old
    assert shown(v, burst, 10.0) == [("B-001", True), ("B-002", True), ("B-003", True)]
    assert shown(v, burst, 17.0) == [("B-001", False), ("B-002", False)]


def test_a_recall_replaces_the_earlier_line_and_is_fresh_again():
    v = view()
    v.baseline(calls(("A-001", 1, 1)))
    recent = calls(("A-001", 1, 2), ("A-002", 2, 1), ("A-001", 1, 1))
    assert shown(v, recent, 50.0) == [("A-001", True), ("A-002", True)]


def test_calls_before_start_are_listed_not_flashed():
    v = view()
    recent = calls(("A-002", 2, 1), ("A-001", 1, 1))
    v.baseline(recent)
    assert shown(v, recent, 0.0) == [("A-002", False), ("A-001", False)]


def test_state_lists_names_in_the_page_languages_and_only_public_fields():
    v = view()
    snap = QueueSnapshot(day="2026-11-23",
                         services=(ServiceView("docs", {"kk": "Құжат", "ru": "Документы",
                                                        "en": "Docs"}, "A", 4, 8.0),),
                         recent_calls=calls(("A-001", 1, 1)), waiting_total=4,
                         alarms={"device:printer": {"message": "out of paper"}})
    state, _ = v.state(snap, 0.0)
    assert state["services"] == [{"id": "docs", "prefix": "A",
                                  "names": {"kk": "Құжат", "ru": "Документы"}, "waiting": 4}]
    assert state["calls"] == [{"ticket": "A-001", "window": 1, "service": "docs",
                               "recall": False, "fresh": True, "newest": True}]
    assert "alarms" not in state and "devices" not in state
    assert state["labels"]["kk"]["window"] == "Терезе"
    assert state["labels"]["ru"]["window"] == "Окно"


def test_a_no_show_called_back_to_the_same_window_is_a_new_call(harness):
    """Risk: the visitor who missed A-001 at window 1 comes back and is called there again
    (by number, or in turn after `return`); the call looks like the old one (same ticket,
    window and first call), so the hall neither highlights it nor frames it as the newest:
    the visitor looking up sees an old line and keeps waiting."""
    from edge.queue import commands as c

    v = view(rows=5)
    clock = harness.clock
    now = 0.0

    def hall() -> list[tuple[str, int, bool]]:
        return [(x.ticket, x.window, x.fresh)
                for x in v.calls(harness.controller.snapshot.recent_calls, now)[0]]

    def later(seconds: float = 60.0) -> None:
        nonlocal now
        now += seconds
        clock.advance(seconds)

    for _ in range(2):
        harness.call(c.IssueTicket("docs"))
    harness.call(c.CallNext(1))
    assert hall() == [("A-001", 1, True)]
    harness.call(c.NoShow(1))
    later(6 * 60)
    harness.call(c.CallTicket(1, "A-001"))          # back by number, at the same window
    assert hall() == [("A-001", 1, True)]
    harness.call(c.NoShow(1))
    later()
    harness.call(c.ReturnTicket("A-001"))           # back at the end of the line
    harness.call(c.CallNext(1))
    assert hall() == [("A-002", 1, True), ("A-001", 1, False)]
    later()
    harness.call(c.CallNext(1))                     # A-001, in its turn, at window 1 again
    assert hall() == [("A-001", 1, True), ("A-002", 1, False)]
    # After a restart the page lists the same calls, none of them as new.
    harness.restart()
    v = view(rows=5)
    v.baseline(harness.controller.snapshot.recent_calls)
    assert hall() == [("A-001", 1, False), ("A-002", 1, False)]


def test_a_visitors_refusal_is_a_banner_for_its_time_then_gone():
    from edge.kiosk.notices import Notice
    v = view()
    snap = QueueSnapshot(day="2026-11-23")
    notice = Notice(7, "refused", "paper_out", {"kk": "Қағаз бітті.", "ru": "Нет бумаги.",
                                                "en": "No paper."},
                    {}, "kiosk", "gpio:17", at=100.0, show_s=10.0)
    state, next_change = v.state(snap, 101.0, notice)
    assert state["notice"] == {"seq": 7, "kind": "refused", "code": "paper_out",
                               "texts": {"kk": "Қағаз бітті.", "ru": "Нет бумаги."}}
    assert next_change == 110.0, "the page is redrawn when the banner ends"
    state, next_change = v.state(snap, 110.0, notice)
    assert state["notice"] is None and next_change is None
    entry = Notice(8, "entry", "iin_entry", {"ru": "ИИН: ***---"}, {}, "kiosk", "numpad",
                   at=100.0, show_s=10.0)
    assert v.state(snap, 101.0, entry)[0]["notice"] is None, "typed IINs stay off the hall"
