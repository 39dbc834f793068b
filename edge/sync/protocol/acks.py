"""What central answers on the link: acks of stored events, and its own online state."""

from __future__ import annotations

from pydantic import Field

from edge.sync.protocol.wire import DB_ID, Version, Wire


class Ack(Wire):
    """`.../evt/ack`, central -> edge, QoS 1, not retained: sent after central's commit."""

    v: Version = Field(default=1, description="protocol version")
    acked_seq: int = Field(ge=0, description="central has stored every event 1..acked_seq")
    resend_from: int | None = Field(default=None, ge=1,
                                    description="central saw a gap: please resend from here")
    db: str | None = Field(default=None, pattern=DB_ID,
                          description="the `db` of the stream this ack is for (the batch's "
                                      "`db`); an edge with another database ignores it. "
                                      "Absent from an older central: the edge then takes it")


class CentralState(Wire):
    """`qms/v1/central/state`, retained, QoS 1: edges send their backlog only while online."""

    v: Version = Field(default=1)
    online: bool
    session: int = Field(ge=1)
    instance: str | None = Field(default=None, max_length=128,
                                 description="which central instance wrote it")
    ts: int | None = None
