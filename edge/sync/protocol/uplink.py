"""What the edge sends central: event batches, its birth and will (state), its health."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from edge.sync.protocol.wire import DB_ID, IDENT, Version, Wire


class EventEnvelope(Wire):
    """One outbox event on the wire. Order is by `seq` only, never by `ts`."""

    v: Version = Field(description="protocol version")
    id: str = Field(min_length=1, max_length=64, description="unique event id (UUID)")
    site: str = Field(pattern=IDENT, description="site id")
    device: str = Field(pattern=IDENT, description="device id within the site")
    seq: int = Field(ge=1, description="per-device sequence number: 1, 2, 3... never reused")
    boot: str = Field(max_length=64, description="boot id of the device when it happened")
    type: str = Field(min_length=1, max_length=64, description="event type, e.g. ticket.issued")
    ts: int = Field(description="wall clock, UTC milliseconds; may jump if clock_synced is false")
    mono_ms: int = Field(description="monotonic milliseconds since `boot`")
    clock_synced: bool = Field(description="was the wall clock NTP-synced when it happened")
    hist: bool = Field(description="true when sent late from the backlog (stored before the "
                                   "current connection came up)")
    data: dict[str, Any] = Field(description="type-specific data, see docs/events.md")


class EventBatch(Wire):
    """`.../evt`, QoS 1: consecutive events of one device, oldest first."""

    v: Version = Field(description="protocol version")
    site: str = Field(pattern=IDENT)
    device: str = Field(pattern=IDENT)
    session: int = Field(ge=1, description="the edge's connection session (see state)")
    floor: int = Field(ge=0, description="the edge holds nothing at or below this seq any more "
                                         "(acked earlier, or dropped at the outbox cap)")
    db: str | None = Field(default=None, pattern=DB_ID,
                          description="id of the edge's database (a uuid made once); a new "
                                      "one means the database was replaced and seq "
                                      "and session start again at 1")
    prev_db: str | None = Field(default=None, pattern=DB_ID,
                                description="set when this database is an SD card that came "
                                            "from another machine (moved or copied): the "
                                            "`db` it had there. Its events up to `fork_seq` "
                                            "may also arrive under `prev_db` (the other "
                                            "box), with the same `id`s")
    fork_seq: int | None = Field(default=None, ge=0,
                                 description="with `prev_db`: the newest seq the card held "
                                             "when it came to this machine")
    events: list[EventEnvelope] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _consecutive(self) -> "EventBatch":
        for prev, ev in zip(self.events, self.events[1:]):
            if ev.seq != prev.seq + 1:
                raise ValueError(f"events: seq {ev.seq} follows {prev.seq}; a batch holds "
                                 "consecutive seqs")
        for ev in self.events:
            if ev.site != self.site or ev.device != self.device:
                raise ValueError(f"events: seq {ev.seq} names {ev.site}/{ev.device}, not the "
                                 f"batch's {self.site}/{self.device}")
        return self


class EdgeState(Wire):
    """`.../state`, retained, QoS 1: birth (online true) and last will (online false)."""

    v: Version = Field(default=1)
    online: bool
    session: int = Field(ge=1, description="grows by one on every connect; a will with a "
                                           "lower session than the last birth is stale")
    ts: int | None = Field(default=None, description="wall clock at birth, UTC ms")
    boot: str | None = None
    last_seq: int | None = Field(default=None, ge=0, description="newest seq in the outbox")
    acked_seq: int | None = Field(default=None, ge=0, description="newest seq acked by central")
    software: str | None = None
    db: str | None = Field(default=None, pattern=DB_ID,
                          description="id of the edge's database (a uuid made once); a new "
                                      "one means the database was replaced and seq "
                                      "and session start again at 1")


class HealthSummary(Wire):
    waiting: int = Field(ge=0, description="visitors waiting now")
    serving: int = Field(ge=0, description="windows with a visitor called or being served")
    alarms: list[str] = Field(description="active alarm names")


class Health(Wire):
    """`.../health`, retained, QoS 1: a periodic snapshot for the situational center."""

    v: Version = Field(default=1)
    site: str = Field(pattern=IDENT)
    device: str = Field(pattern=IDENT)
    session: int = Field(ge=1)
    ts: int
    summary: HealthSummary
    queue: dict[str, Any] = Field(description="the queue snapshot (day, services, windows, "
                                              "alarms, devices)")
    components: dict[str, Any] = Field(description="health() of every running component")
    sync: dict[str, Any] = Field(description="the link's own counters")
