"""The edge <-> central wire contract (docs/protocol.md): topics and message models.

These pydantic models are the single source of the JSON Schemas in docs/schemas/
(`kezek central schemas` regenerates them). Unknown extra fields are ignored so that
v1 can grow by adding optional fields; a breaking change bumps `v` and the topic root.
Types are taken as they are (pydantic's strict mode): "2" is not 2 and true is not 1,
in every message either side reads. The one conversion: a whole number written as a
float (5.0) is that number (see decode()).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.jsonin import JSONInputError
from edge.jsonin import loads as loads_untrusted
from edge.strict import WholeChoice, excerpt
# explain and problem are imported from here by the link, downlink and central.
from edge.sync.reasons import explain, key_path, problem  # noqa: F401

PROTOCOL_VERSION = 1
ROOT = "qms/v1"
CENTRAL_STATE_TOPIC = f"{ROOT}/central/state"
IDENT = r"^[a-z0-9][a-z0-9_-]{0,63}$"


def device_root(site: str, device: str) -> str:
    return f"{ROOT}/{site}/{device}"


class Topics:
    """Every topic of one device."""

    def __init__(self, site: str, device: str) -> None:
        root = device_root(site, device)
        self.state = f"{root}/state"
        self.evt = f"{root}/evt"
        self.ack = f"{root}/evt/ack"
        self.health = f"{root}/health"
        self.cfg = f"{root}/cfg"
        self.bookings = f"{root}/bookings"
        self.cmd = f"{root}/cmd"


def parse_topic(topic: str) -> tuple[str, str, str] | None:
    """`qms/v1/{site}/{device}/{kind...}` -> (site, device, kind), or None."""
    parts = topic.split("/")
    if len(parts) < 5 or "/".join(parts[:2]) != ROOT or parts[2] == "central":
        return None
    return parts[2], parts[3], "/".join(parts[4:])


class Wire(BaseModel):
    """Base of every message: unknown fields are ignored (v1 grows by adding fields), but
    a known one of the wrong type is refused, never converted: an ack whose `acked_seq`
    is the string "2" deletes nothing."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


# pydantic matches true to 1 in a Literal even in strict mode.
Version = Annotated[Literal[1], WholeChoice]


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
    db: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,64}$",
                          description="id of the edge's database (a uuid made once); a new "
                                      "one means the database was replaced and seq "
                                      "and session start again at 1")
    prev_db: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,64}$",
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


class Ack(Wire):
    """`.../evt/ack`, central -> edge, QoS 1, not retained: sent after central's commit."""

    v: Version = Field(default=1, description="protocol version")
    acked_seq: int = Field(ge=0, description="central has stored every event 1..acked_seq")
    resend_from: int | None = Field(default=None, ge=1,
                                    description="central saw a gap: please resend from here")
    db: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,64}$",
                          description="the `db` of the stream this ack is for (the batch's "
                                      "`db`); an edge with another database ignores it. "
                                      "Absent from an older central: the edge then takes it")


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
    db: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,64}$",
                          description="id of the edge's database (a uuid made once); a new "
                                      "one means the database was replaced and seq "
                                      "and session start again at 1")


class CentralState(Wire):
    """`qms/v1/central/state`, retained, QoS 1: edges send their backlog only while online."""

    v: Version = Field(default=1)
    online: bool
    session: int = Field(ge=1)
    instance: str | None = Field(default=None, max_length=128,
                                 description="which central instance wrote it")
    ts: int | None = None


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


class Downlink(Wire):
    """Base of what central sends to the edge: types are taken as they are (strict, as
    every Wire message), so a `true` is not window 1 and `"5"` is not version 5; the
    error names the field."""


class CentralSections(Wire):
    """The parts of the edge config that central manages; the rest stays local."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    services: list[dict[str, Any]] | None = Field(
        default=None, description="replaces [[services]] (same keys as the TOML file)")
    windows: list[dict[str, Any]] | None = Field(
        default=None, description="replaces [[windows]] (same keys as the TOML file)")
    policies: dict[str, Any] | None = Field(
        default=None, description="replaces [policies] (same keys as the TOML file)")
    calendar: dict[str, Any] | None = Field(
        default=None, description="replaces [calendar]: closed days, shortened days, duty "
                                  "hours (same keys as the TOML file)")
    operators: list[dict[str, Any]] | None = Field(
        default=None, max_length=500,
        description="replaces [[operators]]: who signs in at the panel, with PIN hashes "
                    "(same keys as the TOML file)")


class CfgMessage(Downlink):
    """`.../cfg`, retained, QoS 1: a versioned configuration snapshot; newest wins."""

    v: Version = Field(description="protocol version")
    version: int = Field(ge=1, description="grows with every change; lower or equal is ignored")
    config: CentralSections


class BookingsMessage(Downlink):
    """`.../bookings`, retained, QoS 1: a versioned bookings snapshot; newest wins."""

    v: Version = Field(description="protocol version")
    version: int = Field(ge=1, description="grows with every change; lower or equal is ignored")
    bookings: list[dict[str, Any]] = Field(max_length=20_000,
                                           description="bookings, see docs/bookings.md")


class WindowArgs(Downlink):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    window: int = Field(ge=1, le=999, description="window number")


class ReprintArgs(Downlink):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    label: str = Field(pattern=r"^[A-Z]-\d{3,4}$", description="ticket label, e.g. A-001")
    printer: str | None = Field(default=None, max_length=64)


class AnnounceArgs(Downlink):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    text: str = Field(min_length=1, max_length=500)
    lang: Literal["kk", "ru", "en"] | None = None


class ResendArgs(Downlink):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    from_seq: int = Field(ge=1, description="resend from this seq (not below the last ack)")


class NoArgs(Downlink):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _CmdBase(Downlink):
    v: Version = Field(description="protocol version")
    cmd_id: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$",
                        description="unique id; a command runs at most once per cmd_id")
    ts: int = Field(description="when central issued it, UTC ms")
    ttl_s: int = Field(ge=1, le=7 * 86400, description="expires ts + ttl_s; also sent as the "
                                                       "MQTT message expiry interval")


class OpenWindowCmd(_CmdBase):
    name: Literal["open_window"]
    args: WindowArgs


class CloseWindowCmd(_CmdBase):
    name: Literal["close_window"]
    args: WindowArgs


class PauseWindowCmd(_CmdBase):
    name: Literal["pause_window"]
    args: WindowArgs


class ResumeWindowCmd(_CmdBase):
    name: Literal["resume_window"]
    args: WindowArgs


class ReprintCmd(_CmdBase):
    name: Literal["reprint"]
    args: ReprintArgs


class AnnounceCmd(_CmdBase):
    name: Literal["announce"]
    args: AnnounceArgs


class ResendCmd(_CmdBase):
    name: Literal["resend"]
    args: ResendArgs


class ReloadConfigCmd(_CmdBase):
    name: Literal["reload_config"]
    args: NoArgs = NoArgs()


Command = Annotated[Union[OpenWindowCmd, CloseWindowCmd, PauseWindowCmd, ResumeWindowCmd,
                          ReprintCmd, AnnounceCmd, ResendCmd, ReloadConfigCmd],
                    Field(discriminator="name")]


class CmdMessage(Wire):
    """`.../cmd`, QoS 1, not retained: one command."""

    command: Command

    @classmethod
    def parse(cls, data: dict[str, Any]) -> "CmdMessage":
        return cls.model_validate({"command": data})


# Name -> model, for docs/schemas/<name>.json.
SCHEMAS: dict[str, Any] = {
    "event": EventEnvelope, "evt": EventBatch, "ack": Ack, "state": EdgeState,
    "central_state": CentralState, "health": Health, "cfg": CfgMessage,
    "bookings": BookingsMessage,
}


class PayloadError(ValueError):
    """A received payload is unusable; the message says why, for a sync.rejected event.

    `kind` names the problem without its details (size, json, object, version), so that
    a stream of bad messages can be logged once per kind."""

    def __init__(self, message: str, kind: str = "payload") -> None:
        super().__init__(message)
        self.kind = kind


# Floats up to this size hold every whole number exactly.
_EXACT_FLOAT_INT = 2 ** 53


def _whole_numbers_as_int(value: Any) -> Any:
    """5.0 (or 5e0) as 5, everywhere in a payload.

    JSON has one number type: a central that keeps numbers as floats or decimals writes
    version 5 as 5.0, and that is the number 5. The strict downlink types still refuse a
    fraction (2.5), a string ("5") and a boolean (true), which are not.
    """
    if isinstance(value, float):
        if value.is_integer() and abs(value) <= _EXACT_FLOAT_INT:
            return int(value)
        return value
    if isinstance(value, dict):
        return {k: _whole_numbers_as_int(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers_as_int(v) for v in value]
    return value


def decode(payload: bytes, limit: int) -> dict[str, Any]:
    """Bytes -> JSON object of protocol version 1, or PayloadError naming the problem."""
    if len(payload) > limit:
        raise PayloadError(f"payload of {len(payload)} bytes is over the limit of {limit}",
                           "size")
    try:
        # Not json.loads: deep nesting, a 5,000-digit number, NaN or a lone surrogate
        # escape must be a rejection that says so, not an exception nobody reports.
        data = loads_untrusted(payload)
    except JSONInputError as e:
        raise PayloadError(f"payload is {e}" if str(e).startswith("not ")
                           else f"payload: {e}", "json") from None
    if not isinstance(data, dict):
        raise PayloadError(f"payload is a JSON {_JSON_NAMES.get(type(data), 'value')}, "
                           "expected an object", "object")
    data = _whole_numbers_as_int(data)
    v = data.get("v", PROTOCOL_VERSION)
    if type(v) is not int or v != PROTOCOL_VERSION:   # true == 1 in Python
        # The sender's value, shown short and never as an IIN: it goes into an event.
        shown = f" (v is {excerpt(v, json=True)})" if isinstance(v, (list, dict)) \
            else f" v={excerpt(v)}"
        raise PayloadError(f"unsupported protocol version{shown}; this edge speaks "
                           f"v={PROTOCOL_VERSION}", "version")
    return data


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], payload: bytes, limit: int) -> M:
    """Bytes -> a validated message; PayloadError or ValidationError naming the problem.

    The common case, a good message, is parsed and validated in one pass by pydantic-core
    from the bytes (half the cost of json.loads + model_validate: it is the reference
    central's hot path). Only a message that fails goes through decode() again, which
    names the problem the same way for every message (not UTF-8, not JSON, not v1, ...).
    """
    if len(payload) > limit:
        raise PayloadError(f"payload of {len(payload)} bytes is over the limit of {limit}",
                           "size")
    try:
        return model.model_validate_json(payload)
    except ValidationError:
        return model.model_validate(decode(payload, limit))


_JSON_NAMES = {list: "array", dict: "object", str: "string", int: "number", float: "number",
               bool: "boolean", type(None): "null"}


def problem_kind(e: Exception) -> str:
    """What is wrong with a refused message, without the sender's values: 'version', or
    'acked_seq:int_type', so that a stream of bad messages is logged once per kind."""
    if isinstance(e, PayloadError):
        return e.kind
    if isinstance(e, ValidationError):
        return ",".join(sorted({f"{key_path(tuple(err.get('loc', ())))}:{err.get('type')}"
                                for err in e.errors()}))[:200]
    return type(e).__name__


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


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
