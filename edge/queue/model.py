"""Domain model of the queue: services, windows, visitor categories and tickets."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar


class Category(str, enum.Enum):
    """Visitor categories. Every category but NORMAL is a benefit category."""

    NORMAL = "normal"
    PENSIONER = "pensioner"
    DISABILITY = "disability"
    LARGE_FAMILY = "large_family"

    @property
    def is_benefit(self) -> bool:
        return self is not Category.NORMAL


class TicketState(str, enum.Enum):
    WAITING = "waiting"
    CALLED = "called"          # called to a window; recalls keep it here with recalls += 1
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    TRANSFERRED = "transferred"  # only for the event log: a transferred ticket waits again
    PARKED = "parked"
    VOIDED = "voided"          # its paper never came out and it was withdrawn

    @property
    def is_final(self) -> bool:
        return self in (TicketState.DONE, TicketState.NO_SHOW, TicketState.VOIDED)

    @property
    def at_window(self) -> bool:
        return self in (TicketState.CALLED, TicketState.SERVING)


class WindowState(str, enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    PAUSED = "paused"


_T = TypeVar("_T")


def _copy_with(obj: _T, names: frozenset[str], changes: dict[str, Any]) -> _T:
    """dataclasses.replace() for the two types changed on every command, ~5x faster.

    replace() re-runs __init__ through getattr on every field; a frozen dataclass without
    __post_init__ is just its __dict__, so a copy of that dict with the changes is the
    same object. Unknown names still fail, as they do with replace().
    """
    unknown = changes.keys() - names
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field(s) {', '.join(sorted(unknown))}")
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    new.__dict__.update(changes)
    return new


class PrintState(str, enum.Enum):
    NONE = "none"        # no paper for this ticket (console, booking shown on a screen)
    PENDING = "pending"  # must be printed; re-sent after a restart or printer recovery
    PRINTED = "printed"
    FAILED = "failed"    # waiting for the printer to come back, or to be voided


@dataclass(frozen=True)
class Service:
    id: str
    names: dict[str, str]
    prefix: str
    range_start: int = 1
    range_end: int = 999
    avg_minutes: float = 10.0

    def name(self, lang: str) -> str:
        return self.names.get(lang) or self.names.get("ru") or self.names.get("kk") or self.id

    def label(self, number: int) -> str:
        width = len(str(self.range_end))
        return f"{self.prefix}-{number:0{max(3, width)}d}"


@dataclass(frozen=True)
class Window:
    """A service window (counter) as configured, plus its runtime state."""

    number: int
    label: str
    weights: dict[str, int]          # service id -> 2 first, 1 normal, 0 only if nothing else
    benefit: bool = False            # benefit visitors go first here, across its services
    state: WindowState = WindowState.CLOSED
    ticket_id: int | None = None     # the ticket called to or served at this window
    last_done_ticket_id: int | None = None  # for ratings: the visit just finished here
    last_done_mono_ms: int | None = None
    operator: str | None = None      # the operator signed in here (at most one; operators.py)

    def with_(self, **changes: Any) -> "Window":
        return _copy_with(self, _WINDOW_FIELDS, changes)


@dataclass(frozen=True)
class Ticket:
    """One paper ticket through its life; a transfer keeps the ticket (and its number)."""

    id: int
    day: str                  # business day, ISO date in the center's time zone
    service: str
    number: int
    label: str                # "A-001"
    category: Category
    state: TicketState
    visit: str                # visit id, spans transfers
    arrival: int              # place in line: grows with every issue/transfer/unpark, never time
    tier: int = 0             # 0 normal line; lower is served first (see engine.line_key)
    window: int | None = None
    recalls: int = 0
    issued_ms: int = 0        # effective wall time (see engine) of each step
    queued_ms: int = 0        # when it (re)entered the waiting line
    called_ms: int | None = None
    serving_ms: int | None = None
    finished_ms: int | None = None
    origin_service: str | None = None   # the service it was first issued for
    booking: str | None = None          # booking code when booked (issue 5)
    print_state: PrintState = PrintState.NONE
    printer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The visitor page's secret (the QR on the paper): made outside the engine at issue,
    # kept across transfers; None for a ticket issued without one (an engine-only run).
    token: str | None = field(default=None, repr=False)

    def with_(self, **changes: Any) -> "Ticket":
        return _copy_with(self, _TICKET_FIELDS, changes)

    @property
    def booked(self) -> bool:
        return self.booking is not None

    @property
    def unprinted(self) -> bool:
        """Paper owed and never printed: the visitor holds nothing, so the ticket waits out
        of the line (never called) until it prints or is voided (docs/queue.md, "No ghost
        tickets"). A reprint owed is not this: the visitor holds the first paper."""
        return self.print_state in (PrintState.PENDING, PrintState.FAILED) \
            and not self.extra.get("printed")


_WINDOW_FIELDS = frozenset(f.name for f in fields(Window))
_TICKET_FIELDS = frozenset(f.name for f in fields(Ticket))
