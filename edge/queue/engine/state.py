"""What the engine holds and what one decide() returns: the state, the outcome, the reply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge.queue.bookings import Booking
from edge.queue.events import Event
from edge.queue.model import Service, Ticket, Window
from edge.queue.policies import Policies
from edge.queue.timebase import TimeBase


@dataclass(frozen=True)
class Reply:
    """What the submitter is told: a line for people, the ticket concerned, extra data."""

    text: str = ""
    ticket: Ticket | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Counter:
    day: str
    last: int


@dataclass(frozen=True)
class NewConfig:
    """A reloaded configuration, decided but not in effect until apply()."""

    services: dict[str, Service]
    windows: dict[int, Window]     # configured windows merged with their runtime state
    policies: "Policies"
    configured: frozenset[int] = frozenset()   # window numbers in the new config


@dataclass
class Outcome:
    """Everything one command changes; written in one transaction, then applied."""

    reply: Reply
    now_ms: int
    events: list[Event] = field(default_factory=list)
    tickets: dict[int, Ticket] = field(default_factory=dict)
    windows: dict[int, Window] = field(default_factory=dict)
    counters: dict[str, Counter] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    bookings: dict[str, Booking] = field(default_factory=dict)
    config: NewConfig | None = None   # a Reconfigure: swapped in by apply(), after the commit
    # Tickets whose `day` changed (the store's upsert leaves `day` alone: see
    # edge/storage/store.py).
    redated: set[int] = field(default_factory=set)

    @property
    def is_empty(self) -> bool:
        return not (self.events or self.tickets or self.windows or self.counters or self.bookings
                    or self.meta)


@dataclass
class EngineState:
    """Everything the engine knows; loaded from the store at start."""

    day: str = ""
    next_ticket_id: int = 1
    next_arrival: int = 1
    time: TimeBase | None = None
    tickets: dict[int, Ticket] = field(default_factory=dict)
    windows: dict[int, Window] = field(default_factory=dict)
    counters: dict[str, Counter] = field(default_factory=dict)
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    bookings: dict[str, Booking] = field(default_factory=dict)
    bookings_version: int = 0
