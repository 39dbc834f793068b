"""Tickets and windows are immutable values; with_() makes changed copies."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edge.queue.model import Category, Ticket, TicketState, Window, WindowState


def a_ticket() -> Ticket:
    return Ticket(id=1, day="2026-11-23", service="docs", number=1, label="A-001",
                  category=Category.NORMAL, state=TicketState.WAITING, visit="v-1", arrival=1,
                  extra={"slot_ms": 5})


def test_with_is_the_same_as_dataclasses_replace() -> None:
    t = a_ticket()
    changed = t.with_(state=TicketState.CALLED, window=3, recalls=1)
    assert changed == replace(t, state=TicketState.CALLED, window=3, recalls=1)
    assert t.state is TicketState.WAITING and t.window is None  # the original is untouched
    w = Window(number=2, label="2", weights={"docs": 1})
    assert w.with_(state=WindowState.OPEN) == replace(w, state=WindowState.OPEN)


def test_with_refuses_unknown_fields_and_stays_frozen() -> None:
    t = a_ticket()
    with pytest.raises(TypeError, match="no field.*windw"):
        t.with_(windw=3)
    with pytest.raises(AttributeError):
        t.with_(window=3).window = 4  # type: ignore[misc]
