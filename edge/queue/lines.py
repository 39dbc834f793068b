"""Waiting lines: per service, a heap of waiting tickets ordered by (tier, arrival).

Entries are removed lazily: an entry is live only while the ticket it names is still
waiting with the same key. Peeking costs O(log n) amortised, so calling the next visitor
does not grow with the number of people waiting.
"""

from __future__ import annotations

import heapq
from typing import Callable

from edge.queue.model import Ticket, TicketState

# Tiers: lower is served first within a service (see docs/queue.md, "Who is called next").
TIER_TRANSFER = 0   # transferred in: right after those already in service
TIER_BOOKED = 1     # checked-in booked visitor whose slot has started (issue 5)
TIER_BENEFIT = 2    # pensioner / disability / large family
TIER_NORMAL = 3


def key_of(t: Ticket) -> tuple[int, int]:
    return (t.tier, t.arrival)


class Line:
    """One service's waiting tickets (or a sub-line of them, e.g. only benefit visitors)."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, int]] = []

    def push(self, t: Ticket) -> None:
        heapq.heappush(self._heap, (t.tier, t.arrival, t.id))

    def head(self, lookup: Callable[[int], Ticket | None]) -> Ticket | None:
        heap = self._heap
        while heap:
            tier, arrival, tid = heap[0]
            t = lookup(tid)
            if t is not None and t.state is TicketState.WAITING and (t.tier, t.arrival) == (tier, arrival):
                return t
            heapq.heappop(heap)
        return None

    def live(self, lookup: Callable[[int], Ticket | None]) -> list[Ticket]:
        """All live tickets in order (for status pages and tests; O(n log n))."""
        out = []
        for tier, arrival, tid in sorted(self._heap):
            t = lookup(tid)
            if t is not None and t.state is TicketState.WAITING and (t.tier, t.arrival) == (tier, arrival):
                out.append(t)
        return out
