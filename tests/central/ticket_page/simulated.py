"""A simulated edge for the ticket page's tests: ticket events as an edge sends them,
stored through central's real ledger (store_batch), on either back-end."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from edge.queue.tokens import new_token
from edge.sync.protocol import EventBatch, EventEnvelope

ZONE = ZoneInfo("Asia/Almaty")


def ms_at(day: date, hh: int, mm: int = 0) -> int:
    return int(datetime.combine(day, time(hh, mm), ZONE).timestamp() * 1000)


class SimEdge:
    """One device of one site: numbers tickets and events, sends each as a batch."""

    def __init__(self, store: Any, site: str = "ast-01", device: str = "pi") -> None:
        self.store = store
        self.site = site
        self.device = device
        self.db = str(uuid.uuid4())
        self.seq = 0
        self.next_id = 1
        self.held: list[EventEnvelope] = []

    def envelope(self, type_: str, ts: int, **data: Any) -> EventEnvelope:
        self.seq += 1
        return EventEnvelope(v=1, id=str(uuid.uuid4()), site=self.site, device=self.device,
                             seq=self.seq, boot="b1", type=type_, ts=ts, mono_ms=self.seq,
                             clock_synced=True, hist=False, data=data)

    def send(self, *events: EventEnvelope) -> Any:
        batch = EventBatch(v=1, site=self.site, device=self.device, session=1, floor=0,
                           db=self.db, events=list(events))
        return self.store.store_batch(batch)

    def emit(self, type_: str, ts: int, **data: Any) -> Any:
        return self.send(self.envelope(type_, ts, **data))

    def issue(self, ts: int, service: str = "docs", *, token: str | None = "new",
              category: str = "normal", ahead: int = 0, wait_min: int = 0,
              day: str | None = None) -> dict[str, Any]:
        tid = self.next_id
        self.next_id += 1
        data: dict[str, Any] = {
            "ticket_id": tid, "ticket": f"A-{tid:03d}", "service": service,
            "category": category, "booked": False, "booking": None, "visit": f"v/{tid}",
            "day": day or datetime.fromtimestamp(ts / 1000, ZONE).date().isoformat(),
            "number": tid, "ahead": ahead, "wait_min": wait_min, "printer": None,
            "issued_at": "x"}
        if token is not None:
            data["token"] = new_token() if token == "new" else token
        self.emit("ticket.issued", ts, **data)
        return data

    def step(self, type_: str, ticket: dict[str, Any], ts: int, **data: Any) -> Any:
        return self.emit(type_, ts, ticket_id=ticket["ticket_id"], ticket=ticket["ticket"],
                         service=data.pop("service", ticket["service"]), **data)
