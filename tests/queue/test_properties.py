"""Property tests: the queue's invariants hold over random command sequences.

The sequences include no-shows coming back (`call WINDOW TICKET`, `return TICKET`): a
final ticket turning live again is where the engine's indexes could drift from its tickets.
"""

from __future__ import annotations

import tempfile
from collections import Counter as Tally
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.clock import ManualClock
from edge.errors import CommandError
from edge.queue import commands as c
from edge.queue.engine import QueueEngine
from edge.queue.lines import key_of
from edge.queue.model import Category, TicketState
from edge.queue.policies import Policies
from edge.storage.store import QueueStore

from .conftest import small_center

MONDAY_9AM_MS = 1_795_406_400_000

windows = st.sampled_from([1, 2, 3])
services = st.sampled_from(["docs", "realty", "tiny"])
labels = st.sampled_from(["A-001", "A-002", "B-001", "C-001"])


@dataclass(frozen=True)
class Missed:
    """The visitor called to `window` does not come (NoShow there); if nobody is called
    there, the one called to the lowest-numbered window that has one; if nobody is called
    anywhere, `window` calls the next visitor first."""

    window: int


@dataclass(frozen=True)
class BackFromNoShow:
    """The visitor of the latest no-show comes back: called to `window`, or (None) back to
    the line. Fixed labels alone almost never name a no-show, so the test resolves it."""

    window: int | None


def resolve(command: object, engine: QueueEngine) -> list[c.Command]:
    """The engine commands for one step (a Missed / BackFromNoShow step is resolved against
    the engine's state: none when there is nothing to do)."""
    tickets = engine.state.tickets
    if isinstance(command, Missed):
        called = sorted(n for n, w in engine.state.windows.items() if w.ticket_id is not None
                        and tickets[w.ticket_id].state is TicketState.CALLED)
        if not called:
            return [c.CallNext(command.window), c.NoShow(command.window)]
        return [c.NoShow(command.window if command.window in called else called[0])]
    if isinstance(command, BackFromNoShow):
        missed = [t for t in tickets.values()
                  if t.state is TicketState.NO_SHOW and t.day == engine.state.day]
        if not missed:
            return []
        label = max(missed, key=lambda t: t.finished_ms or 0).label
        return [c.ReturnTicket(label) if command.window is None else
                c.CallTicket(command.window, label)]
    assert isinstance(command, c.Command)
    return [command]


window_state = st.one_of(st.builds(c.PauseWindow, windows), st.builds(c.ResumeWindow, windows),
                         st.builds(c.CloseWindow, windows), st.builds(c.OpenWindow, windows))
# (weight, strategy): one_of alone picks its branches evenly, and a sequence would then be
# mostly refusals (an empty queue, nobody at the window, every window closed). Weighted,
# most sequences have visitors called, missed and back.
WEIGHTED = [
    (4, st.builds(c.IssueTicket, services, st.sampled_from(list(Category)))),
    (4, st.builds(c.CallNext, windows)), (1, st.builds(c.NoShow, windows)),
    (3, st.builds(Missed, windows)), (4, st.builds(BackFromNoShow, st.none() | windows)),
    (2, st.builds(c.Recall, windows)), (1, st.builds(c.StartService, windows)),
    (1, st.builds(c.Finish, windows)), (1, st.builds(c.Transfer, windows, services)),
    (1, st.builds(c.Park, windows)), (1, window_state),
    (1, st.builds(c.Unpark, labels)), (1, st.builds(c.CallTicket, windows, labels)),
    (1, st.builds(c.ReturnTicket, labels)), (1, st.builds(c.Rate, windows, st.integers(1, 5))),
]
commands = st.sampled_from([s for n, s in WEIGHTED for _ in range(n)]).flatmap(lambda s: s)
steps = st.lists(st.tuples(commands, st.integers(0, 600)), min_size=10, max_size=80)


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
    check_indexes(engine)


def check_indexes(engine: QueueEngine) -> None:
    """The indexes apply() keeps are what a rebuild from the tickets would give."""
    tickets = engine.state.tickets.values()
    live = [t for t in tickets if not t.state.is_final]
    assert engine._live == {t.id for t in live}, "_live"
    numbers: dict[tuple[str, str], set[int]] = {}
    for t in live:
        numbers.setdefault((t.day, t.origin_service or t.service), set()).add(t.number)
    assert {k: v for k, v in engine._numbers.items() if v} == numbers, "_numbers"
    # The numbers no-shows keep from newcomers while they may come back (returns are on).
    missed: dict[tuple[str, str], Tally] = {}
    for t in tickets:
        if t.state is TicketState.NO_SHOW:
            missed.setdefault((t.day, t.origin_service or t.service), Tally())[t.number] += 1
    assert {k: v for k, v in engine._missed.items() if v} == \
        {k: dict(v) for k, v in missed.items()}, "_missed"
    waiting = [t for t in tickets if t.state is TicketState.WAITING]
    tiers = Tally((t.service, t.tier) for t in waiting)
    assert {k: n for k, n in engine._tier_counts.items() if n} == dict(tiers), "_tier_counts"
    for sid in engine.services:
        assert engine.waiting_line(sid) == sorted((t for t in waiting if t.service == sid),
                                                  key=key_of), f"line {sid}"
    assert engine._early == {t.id for t in live if "slot_ms" in t.extra}, "_early"


def replay(outbox: list) -> dict[int, str]:
    """Each ticket's state as central would rebuild it from the events alone; checks that
    only ticket.returned follows a final event, and only after a no-show."""
    after = {"ticket.issued": "waiting", "ticket.called": "called", "ticket.recalled": "called",
             "ticket.serving": "serving", "ticket.transferred": "waiting",
             "ticket.parked": "parked", "ticket.unparked": "waiting", "ticket.done": "done",
             "ticket.no_show": "no_show", "ticket.voided": "voided"}
    state: dict[int, str] = {}
    for e in outbox:
        tid = e.data.get("ticket_id")
        if e.type == "ticket.returned":
            assert state[tid] == "no_show", f"ticket {tid} returned from {state[tid]}"
            state[tid] = "waiting"   # a `window` means a ticket.called follows at once
        elif e.type in after:
            assert state.get(tid) not in ("done", "no_show", "voided"), \
                f"{e.type} for ticket {tid} after its final event"
            state[tid] = after[e.type]
    return state


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_invariants_hold_for_any_command_sequence(seq: list[tuple[object, int]]) -> None:
    clock = ManualClock(MONDAY_9AM_MS)
    services_, windows_ = small_center()
    with tempfile.TemporaryDirectory() as tmp:
        store = QueueStore(Path(tmp) / "q.db")
        engine = QueueEngine(services_, windows_, "Asia/Almaty", Policies(), store.load())
        issued: list[tuple[str, str, int]] = []
        for command, pause in seq:
            clock.advance(pause)
            for one in resolve(command, engine):
                try:
                    out = engine.decide(one, clock.read())
                except CommandError:
                    continue
                store.commit(out, clock.read())
                engine.apply(out)
                issued += [(e.data["day"], e.data["service"], e.data["number"])
                           for e in out.events if e.type == "ticket.issued"]
                check_invariants(engine)
        # A restart (the store's state in a new engine) gives the same queue.
        again = QueueEngine(services_, windows_, "Asia/Almaty", Policies(), store.load())
        check_indexes(again)
        for sid in engine.services:
            assert again.waiting_line(sid) == engine.waiting_line(sid)
        assert {n: w.ticket_id for n, w in again.state.windows.items()} == \
            {n: w.ticket_id for n, w in engine.state.windows.items()}
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
        # Every ticket's life is in the outbox: one issue event and one final event each,
        # plus one more final event for each time it came back from a no-show.
        outbox = store.outbox()
        finals = Tally(e.data["ticket_id"] for e in outbox
                       if e.type in ("ticket.done", "ticket.no_show", "ticket.voided"))
        returns = Tally(e.data["ticket_id"] for e in outbox if e.type == "ticket.returned")
        assert all(finals[t.id] == 1 + returns[t.id] for t in day_tickets)
        assert replay(outbox) == {t.id: t.state.value for t in day_tickets}
        store.close()
