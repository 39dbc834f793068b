"""Central's per-ticket projection and the page's reads, on both store back-ends, fed by a
simulated edge through the real ledger (store_batch)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from edge.central.ticket_page.reads import rate, ticket_state
from edge.queue.tokens import new_token
from tests.central.ticket_page.simulated import SimEdge, ms_at

DAY = date(2026, 12, 7)


def test_the_page_follows_its_ticket_from_issue_to_rating(store) -> None:
    """Risk: the visitor waits by a page that shows an old state, or someone else's."""
    edge = SimEdge(store)
    first = edge.issue(ms_at(DAY, 9), ahead=0, wait_min=0)
    mine = edge.issue(ms_at(DAY, 9, 1), ahead=1, wait_min=8)
    view = ticket_state(store, mine["token"], DAY)
    assert view is not None
    assert (view["ticket"], view["service"], view["state"]) == ("A-002", "docs", "waiting")
    assert (view["ahead"], view["wait_min"], view["window"]) == (1, 8, None)
    assert view["issued"] == "09:01"
    edge.step("ticket.called", first, ms_at(DAY, 9, 5), window=3)
    assert ticket_state(store, mine["token"], DAY)["ahead"] == 0
    edge.step("ticket.called", mine, ms_at(DAY, 9, 12), window=4, calls=1, wait_s=660)
    view = ticket_state(store, mine["token"], DAY)
    assert (view["state"], view["window"], view["called"]) == ("called", 4, "09:12")
    edge.step("ticket.serving", mine, ms_at(DAY, 9, 13), window=4)
    assert ticket_state(store, mine["token"], DAY)["state"] == "serving"
    assert rate(store, mine["token"], 5, DAY, 1) == "not_now"
    edge.step("ticket.done", mine, ms_at(DAY, 9, 25), window=4, service_s=720)
    view = ticket_state(store, mine["token"], DAY)
    assert (view["state"], view["ended"], view["can_rate"]) == ("done", "09:25", True)
    # Once per ticket: a second post changes nothing.
    assert rate(store, mine["token"], 4, DAY, 2) == "ok"
    assert rate(store, mine["token"], 1, DAY, 3) == "already"
    view = ticket_state(store, mine["token"], DAY)
    assert (view["rated"], view["can_rate"]) == (4, False)
    with store._read() as tx:
        assert tx.rows("SELECT n, total FROM daily WHERE type='rating.page'") == [(1, 4)]
    with pytest.raises(ValueError, match="1 to 5"):
        rate(store, mine["token"], 9, DAY, 4)
    # The view holds nothing but this ticket's own facts.
    assert set(view) == {"known", "ticket", "service", "state", "window", "ahead", "wait_min",
                         "issued", "called", "ended", "rated", "can_rate"}


def test_forged_old_and_doubled_tokens_answer_nothing_alike(store) -> None:
    edge = SimEdge(store)
    today = edge.issue(ms_at(DAY, 10))
    old = edge.issue(ms_at(DAY - timedelta(days=1), 17))
    twin = new_token()
    edge.issue(ms_at(DAY, 10, 1), token=twin)
    edge.issue(ms_at(DAY, 10, 2), token=twin)     # a broken edge: intake goes on
    edge.issue(ms_at(DAY, 10, 3), token="not a token")
    assert ticket_state(store, today["token"], DAY) is not None
    for token in (new_token(), old["token"], twin, "not a token", today["token"][:-1]):
        assert ticket_state(store, token, DAY) is None, token
        assert rate(store, token, 5, DAY, 1) == "unknown"
    # The day after, today's paper opens nothing either.
    assert ticket_state(store, today["token"], DAY + timedelta(days=1)) is None


def test_events_that_come_out_of_order_end_in_the_newest_state(store) -> None:
    """A batch that came early (another central instance, a resend): the page still shows
    the ticket's newest state, and what only the issue knew (its token) is filled in."""
    edge = SimEdge(store)
    ts = ms_at(DAY, 11)
    issued = edge.envelope("ticket.issued", ts, ticket_id=1, ticket="A-001", service="docs",
                           category="normal", day=DAY.isoformat(), ahead=2, wait_min=16,
                           token=(token := new_token()))
    called = edge.envelope("ticket.called", ts + 60_000, ticket_id=1, ticket="A-001",
                           service="docs", window=2)
    recalled = edge.envelope("ticket.recalled", ts + 90_000, ticket_id=1, ticket="A-001",
                             service="docs", window=2, calls=2)
    edge.send(recalled)
    edge.send(issued, called)
    view = ticket_state(store, token, DAY)
    assert view is not None and (view["state"], view["window"]) == ("called", 2)
    assert view["issued"] == "11:00"


def test_a_transfer_moves_the_page_to_the_new_line(store) -> None:
    edge = SimEdge(store)
    other = edge.issue(ms_at(DAY, 9), service="realty")
    mine = edge.issue(ms_at(DAY, 9, 1), service="docs")
    edge.step("ticket.called", mine, ms_at(DAY, 9, 2), window=1)
    edge.step("ticket.transferred", mine, ms_at(DAY, 9, 8), to_service="realty", window=1)
    view = ticket_state(store, mine["token"], DAY)
    assert (view["service"], view["state"], view["ahead"], view["window"]) == \
        ("realty", "waiting", 1, None)
    edge.step("ticket.called", other, ms_at(DAY, 9, 9), service="realty", window=2)
    assert ticket_state(store, mine["token"], DAY)["ahead"] == 0


def test_benefit_visitors_who_came_later_count_ahead_of_a_normal_one(store) -> None:
    edge = SimEdge(store)
    mine = edge.issue(ms_at(DAY, 9), ahead=0, wait_min=0)
    edge.issue(ms_at(DAY, 9, 3), category="pensioner")
    assert ticket_state(store, mine["token"], DAY)["ahead"] == 1
    # ahead was 0 at issue: the wait comes from today's service times.
    done = edge.issue(ms_at(DAY, 8))
    edge.step("ticket.done", done, ms_at(DAY, 8, 30), window=1, service_s=600)
    assert ticket_state(store, mine["token"], DAY)["wait_min"] == 10


def test_upkeep_forgets_the_pages_of_past_days(store) -> None:
    edge = SimEdge(store)
    edge.issue(ms_at(DAY - timedelta(days=5), 9))
    kept = edge.issue(ms_at(DAY, 9))
    store.maintain(None, today=DAY)
    with store._read() as tx:
        assert [r[0] for r in tx.rows("SELECT token FROM ticket_pages")] == [kept["token"]]
