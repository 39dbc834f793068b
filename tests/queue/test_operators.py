"""The engine's rules for operators at windows (engine/operators.py), on the real controller
and SQLite file: one operator per window, refused commands change nothing, the restart
keeps who works where, the day's end and closing the window sign out."""

from __future__ import annotations

import json

import pytest

from edge.errors import CommandError
from edge.queue import commands as c


def events(h, type_: str) -> list[dict]:
    rows = h.store.conn.execute("SELECT data FROM outbox WHERE type = ? ORDER BY seq",
                                (type_,)).fetchall()
    return [json.loads(r[0]) for r in rows]


def at(h, window: int) -> str | None:
    return h.engine.state.windows[window].operator


def test_a_window_has_at_most_one_operator(harness) -> None:
    harness.call(c.SignIn(1, operator="aigerim"))
    with pytest.raises(CommandError) as e:
        harness.call(c.SignIn(1, operator="bolat"))
    assert e.value.code == "window_taken" and at(harness, 1) == "aigerim"
    harness.call(c.SignIn(1, operator="aigerim"))          # again: nothing new
    assert len(events(harness, "operator.signed_in")) == 1


def test_signing_in_elsewhere_moves_the_operator(harness) -> None:
    harness.call(c.SignIn(1, operator="aigerim"))
    harness.call(c.SignIn(2, operator="aigerim"))
    assert at(harness, 1) is None and at(harness, 2) == "aigerim"
    assert events(harness, "operator.signed_out") == [
        {"operator": "aigerim", "window": 1, "reason": "moved"}]


def test_a_command_naming_another_operator_is_refused_and_changes_nothing(harness) -> None:
    harness.call(c.IssueTicket("docs"))
    harness.call(c.SignIn(1, operator="aigerim"))
    before = len(events(harness, "ticket.called"))
    for who in ("bolat", "aigerim"):
        with pytest.raises(CommandError) as e:
            harness.call(c.CallNext(2 if who == "aigerim" else 1, operator=who))
        assert e.value.code == "not_signed_in"
    assert len(events(harness, "ticket.called")) == before
    assert harness.engine.state.windows[1].ticket_id is None


def test_the_keypad_names_the_operator_signed_in_and_the_restart_keeps_them(harness) -> None:
    harness.call(c.IssueTicket("docs"))
    harness.call(c.SignIn(1, operator="aigerim"))
    harness.restart()
    assert at(harness, 1) == "aigerim"
    harness.call(c.CallNext(1))
    harness.call(c.Finish(1))
    assert events(harness, "ticket.called")[-1]["operator"] == "aigerim"
    assert events(harness, "ticket.done")[-1]["operator"] == "aigerim"
    harness.call(c.Rate(1, 5))
    assert events(harness, "rating.recorded")[-1]["operator"] == "aigerim"


def test_closing_the_window_and_the_days_end_sign_out(harness, clock) -> None:
    harness.call(c.SignIn(1, operator="aigerim"))
    harness.call(c.SignIn(2, operator="bolat"))
    harness.call(c.CloseWindow(1, operator="aigerim"))
    assert at(harness, 1) is None
    clock.advance(24 * 3600)
    harness.call(c.Tick())
    assert at(harness, 2) is None
    assert [(e["operator"], e["reason"]) for e in events(harness, "operator.signed_out")] == [
        ("aigerim", "window_closed"), ("bolat", "day_end")]


def test_the_desk_shows_the_visitor_lines_and_figures(harness) -> None:
    for service in ("docs", "docs", "realty"):
        harness.call(c.IssueTicket(service))
    harness.call(c.SignIn(1, operator="aigerim"))
    harness.call(c.CallNext(1))
    harness.call(c.StartService(1))
    harness.call(c.Transfer(1, "realty", note="ИИН 900101300123"))
    harness.call(c.CallNext(1))
    harness.call(c.Park(1))
    harness.call(c.CallNext(1))
    desk = harness.call(c.DeskView(1)).reply.data
    cur = desk["current"]
    # The transferred visitor comes first in their new line, with both stages and the note.
    assert desk["operator"] == "aigerim" and cur["ticket"] == "A-001"
    assert [s["service"] for s in cur["stages"]] == ["docs", "realty"]
    assert "900101300123" not in cur["note"] and cur["note"].startswith("ИИН ")
    assert desk["parked"] == ["A-002"] and desk["lines"]["realty"] == ["B-001"]
    harness.call(c.Finish(1))
    assert harness.call(c.DeskView(1)).reply.data["figures"]["served"] == 1
