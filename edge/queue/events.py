"""Events: what the engine says happened, and the stored envelope the outbox keeps.

Every event type and its data keys are listed in docs/events.md, the reference central
reads; a new `emit(...)` goes there too (the doc was checked against the code by running
every event through the real controller).
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
