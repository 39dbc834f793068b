"""Property tests: the queue's invariants hold over random command sequences."""

from __future__ import annotations

import tempfile
from collections import Counter as Tally
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.clock import ManualClock
from edge.errors import CommandError
from edge.queue import commands as c
from edge.queue.engine import Policies, QueueEngine
from edge.queue.model import Category, TicketState
from edge.queue.store import QueueStore

from .conftest import small_center

MONDAY_9AM_MS = 1_795_406_400_000

windows = st.sampled_from([1, 2, 3])
services = st.sampled_from(["docs", "realty", "tiny"])
commands = st.one_of(
    st.builds(c.IssueTicket, services, st.sampled_from(list(Category))),
    st.builds(c.CallNext, windows), st.builds(c.Recall, windows), st.builds(c.NoShow, windows),
    st.builds(c.StartService, windows), st.builds(c.Finish, windows),
    st.builds(c.Transfer, windows, services), st.builds(c.Park, windows),
    st.builds(c.PauseWindow, windows), st.builds(c.ResumeWindow, windows),
    st.builds(c.CloseWindow, windows), st.builds(c.OpenWindow, windows),
    st.builds(c.Unpark, st.sampled_from(["A-001", "A-002", "B-001", "C-001"])),
    st.builds(c.Rate, windows, st.integers(1, 5)),
)
steps = st.lists(st.tuples(commands, st.integers(0, 600)), max_size=60)


def check_invariants(engine: QueueEngine) -> None:
    tickets = engine.state.tickets
    held = [w.ticket_id for w in engine.state.windows.values() if w.ticket_id is not None]
    assert len(held) == len(set(held)), "a ticket is held by two windows"
    for w in engine.state.windows.values():
        if w.ticket_id is not None:
            t = tickets[w.ticket_id]
            assert t.state.at_window and t.window == w.number
    at_windows = [t.id for t in tickets.values() if t.state.at_window]
    assert sorted(at_windows) == sorted(held), "a called ticket has no window"
    # A transferred ticket keeps the number of the service that issued it (B-001 served
    # in docs beside A-001): numbers are unique per issuing service.
    live = Tally((t.day, t.origin_service or t.service, t.number) for t in tickets.values()
                 if not t.state.is_final)
    assert all(n == 1 for n in live.values()), "a number is used twice among live tickets"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_invariants_hold_for_any_command_sequence(seq: list[tuple[c.Command, int]]) -> None:
    clock = ManualClock(MONDAY_9AM_MS)
    services_, windows_ = small_center()
    with tempfile.TemporaryDirectory() as tmp:
        store = QueueStore(Path(tmp) / "q.db")
        engine = QueueEngine(services_, windows_, "Asia/Almaty", Policies(), store.load())
        issued: list[tuple[str, str, int]] = []
        for command, pause in seq:
            clock.advance(pause)
            try:
                out = engine.decide(command, clock.read())
            except CommandError:
                continue
            store.commit(out, clock.read())
            engine.apply(out)
            issued += [(e.data["day"], e.data["service"], e.data["number"])
                       for e in out.events if e.type == "ticket.issued"]
            check_invariants(engine)
        # Numbers are unique per service per day while the range has not wrapped.
        per_service = Tally((d, s) for d, s, _ in issued)
        for key, n in per_service.items():
            numbers = [num for d, s, num in issued if (d, s) == key]
            if n <= (3 if key[1] == "tiny" else 999):
                assert len(numbers) == len(set(numbers))
        # End the day: every ticket of it ends in exactly one final state.
        clock.advance(20 * 3600)
        out = engine.decide(c.Tick(), clock.read())
        store.commit(out, clock.read())
        engine.apply(out)
        day_tickets = list(store.tickets())
        assert all(t.state in (TicketState.DONE, TicketState.NO_SHOW, TicketState.VOIDED)
                   for t in day_tickets)
        seqs = [e.seq for e in store.outbox()]
        assert seqs == list(range(1, len(seqs) + 1))
        # Every ticket's life is in the outbox: one issue event and one final event each.
        finals = Tally(e.data["ticket_id"] for e in store.outbox()
                       if e.type in ("ticket.done", "ticket.no_show", "ticket.voided"))
        assert all(finals[t.id] == 1 for t in day_tickets)
        store.close()
