"""The edge <-> central wire contract (docs/protocol.md): topics and message models.

These pydantic models are the single source of the JSON Schemas in docs/schemas/
(`kezek central schemas` regenerates them). Unknown extra fields are ignored so that
v1 can grow by adding optional fields; a breaking change bumps `v` and the topic root.
Types are taken as they are (pydantic's strict mode): "2" is not 2 and true is not 1,
in every message either side reads. The one conversion: a whole number written as a
float (5.0) is that number (see decode()).

The models live one module per direction (uplink.py: edge -> central, acks.py: central's
answers, downlink.py: cfg, bookings, commands), the topics in topics.py and the byte
handling in codec.py; callers import every name from here.
"""

from __future__ import annotations

from typing import Any

from edge.sync.protocol.acks import Ack, CentralState
from edge.sync.protocol.codec import PayloadError, decode, dumps, parse, problem_kind
from edge.sync.protocol.downlink import (AnnounceArgs, AnnounceCmd, BookingsMessage, CentralSections,
                                         CfgMessage, CloseWindowCmd, CmdMessage, Command, Downlink,
                                         NoArgs, OpenWindowCmd, PauseWindowCmd, ReloadConfigCmd,
                                         ReprintArgs, ReprintCmd, ResendArgs, ResendCmd,
                                         ResumeWindowCmd, WindowArgs)
from edge.sync.protocol.topics import (CENTRAL_STATE_TOPIC, PROTOCOL_VERSION, ROOT, Topics, device_root,
                                       parse_topic)
from edge.sync.protocol.uplink import EdgeState, EventBatch, EventEnvelope, Health, HealthSummary
from edge.sync.protocol.wire import IDENT, Version, Wire
# explain and problem are imported from here by the link, downlink and central.
from edge.sync.reasons import explain, key_path, problem

# Name -> model, for docs/schemas/<name>.json.
SCHEMAS: dict[str, Any] = {
    "event": EventEnvelope, "evt": EventBatch, "ack": Ack, "state": EdgeState,
    "central_state": CentralState, "health": Health, "cfg": CfgMessage,
    "bookings": BookingsMessage,
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """Name -> JSON Schema of every message, as written to docs/schemas/."""
    out = {name: model.model_json_schema() for name, model in SCHEMAS.items()}
    cmd = CmdMessage.model_json_schema()
    # The wire form is the command object itself, not the {"command": ...} wrapper.
    inner = cmd["properties"]["command"]
    schema = {"title": "Command", "description": CmdMessage.__doc__, **inner}
    if "$defs" in cmd:
        schema["$defs"] = cmd["$defs"]
    out["cmd"] = schema
    for name, s in out.items():
        s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        s["$id"] = f"https://kezek.kz/schemas/{ROOT}/{name}.json"
    return out


__all__ = [
    "Ack", "AnnounceArgs", "AnnounceCmd", "BookingsMessage", "CENTRAL_STATE_TOPIC", "CentralSections",
    "CentralState", "CfgMessage", "CloseWindowCmd", "CmdMessage", "Command", "Downlink", "EdgeState",
    "EventBatch", "EventEnvelope", "Health", "HealthSummary", "IDENT", "NoArgs", "OpenWindowCmd",
    "PROTOCOL_VERSION", "PauseWindowCmd", "PayloadError", "ROOT", "ReloadConfigCmd", "ReprintArgs",
    "ReprintCmd", "ResendArgs", "ResendCmd", "ResumeWindowCmd", "SCHEMAS", "Topics", "Version", "Wire",
    "WindowArgs", "decode", "device_root", "dumps", "explain", "json_schemas", "key_path", "parse",
    "parse_topic", "problem", "problem_kind",
]
