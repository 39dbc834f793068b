"""Events: what the engine says happened, and the stored envelope the outbox keeps.

Event types (data keys in brackets) — docs/events.md is the reference for central:
  ticket.issued     [ticket_id, ticket, service, category, booked, visit, day, number,
                     ahead, wait_min, printer]
  ticket.called     [ticket_id, ticket, service, window, calls]       (first call)
  ticket.recalled   [ticket_id, ticket, service, window, calls]
  ticket.serving    [ticket_id, ticket, service, window, wait_s]
  ticket.done       [ticket_id, ticket, service, window, service_s, visit_s]
  ticket.no_show    [ticket_id, ticket, service, window, calls, auto]
  ticket.transferred[ticket_id, ticket, service, to_service, window]
  ticket.parked     [ticket_id, ticket, service, window]
  ticket.unparked   [ticket_id, ticket, service]
  ticket.voided     [ticket_id, ticket, service, reason]
  ticket.redated    [ticket_id, ticket, service, day, previous, reason]  (issued before NTP
                     set the clock, carried to the real day: docs/queue.md, "Time")
  ticket.printed    [ticket_id, ticket, printer]
  ticket.print_failed [ticket_id, ticket, printer, detail]
  window.opened / window.closed / window.paused / window.resumed   [window]
  rating.recorded   [window, ticket_id, ticket, visit, service, score]
  alarm.raised / alarm.cleared  [alarm, severity, message, ...]
  booking.checked_in [booking, service, slot_start, ticket_id, ticket, early_s, late_s, source]
  booking.late      [booking, service, slot_start, ticket_id, ticket, late_s]
  booking.expired   [booking, service, day, slot_start]
  bookings.loaded   [version, received, changed, unchanged, kept_checked_in, rejected, source]
  bookings.rejected [version, items]
  (ticket.issued also carries `booking`; ticket.voided carries `booking` when the voided
  ticket was that booking's check-in, now open again; ticket.no_show carries `reason`;
  SLA alarms carry kind, ticket_id, ticket, service, visit, limit_min)
  day.started       [day, previous]
  clock.jump        [wall_step_ms, synced]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """An event as the engine produces it, before the store gives it a sequence number."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredEvent:
    """An event as kept in the outbox: numbered by the per-device sequence `seq`.

    `ts_ms` is the wall clock (UTC ms) at the time, `mono_ms` the monotonic clock of boot
    `boot`; `clock_synced` says if the wall clock was NTP-synced then. Order is by seq only.
    """

    seq: int
    id: str
    type: str
    ts_ms: int
    mono_ms: int
    boot: str
    clock_synced: bool
    data: dict[str, Any]

    def envelope(self, site: str, device: str, *, hist: bool = False) -> dict[str, Any]:
        """The wire form (docs/protocol.md): v, id, site, device, seq, boot, type, ts, ..."""
        return {"v": 1, "id": self.id, "site": site, "device": device, "seq": self.seq,
                "boot": self.boot, "type": self.type, "ts": self.ts_ms, "mono_ms": self.mono_ms,
                "clock_synced": self.clock_synced, "hist": hist, "data": self.data}

    def data_json(self) -> str:
        return json.dumps(self.data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
