"""An immutable view of the queue for readers outside the loop (hall screen, status, LEDs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ServiceView:
    id: str
    names: dict[str, str]
    prefix: str
    waiting: int
    avg_minutes: float


@dataclass(frozen=True)
class WindowView:
    number: int
    label: str
    state: str                 # closed / open / paused
    ticket: str | None         # label of the ticket called to or served here
    ticket_state: str | None   # called / serving
    service: str | None
    services: dict[str, int]
    benefit: bool
    operator: str | None = None    # the operator signed in here


@dataclass(frozen=True)
class CallView:
    ticket: str
    window: int
    service: str
    at_ms: int                 # effective wall time of the call (UTC ms)
    calls: int                 # 1 for the first call, 2+ for recalls


@dataclass(frozen=True)
class UnprintedView:
    """A waiting ticket whose paper is still owed: not called until printed or voided."""

    ticket: str
    service: str
    printer: str | None
    print_state: str           # pending (being printed) / failed (the printer failed)
    issued_ms: int


@dataclass(frozen=True)
class QueueSnapshot:
    day: str
    services: tuple[ServiceView, ...] = ()
    windows: tuple[WindowView, ...] = ()
    recent_calls: tuple[CallView, ...] = ()     # newest first
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    waiting_total: int = 0
    serving_total: int = 0
    now_ms: int = 0
    unprinted: tuple[UnprintedView, ...] = ()   # the oldest few, oldest first
    unprinted_total: int = 0

    @property
    def waiting(self) -> dict[str, int]:
        return {s.id: s.waiting for s in self.services}

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form for the status socket, the hall page and health snapshots."""
        return {
            "day": self.day, "now_ms": self.now_ms, "waiting_total": self.waiting_total,
            "serving_total": self.serving_total,
            "services": [s.__dict__ for s in self.services],
            "windows": [w.__dict__ for w in self.windows],
            "recent_calls": [c.__dict__ for c in self.recent_calls],
            "alarms": self.alarms, "devices": self.devices,
            "unprinted": [u.__dict__ for u in self.unprinted],
            "unprinted_total": self.unprinted_total,
        }
