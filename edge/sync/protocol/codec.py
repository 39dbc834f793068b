"""Bytes to messages and back: size and JSON limits, version 1, a refusal that names the problem."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from edge.jsonin import JSONInputError
from edge.jsonin import loads as loads_untrusted
from edge.strict import excerpt
from edge.sync.protocol.topics import PROTOCOL_VERSION
from edge.sync.reasons import key_path


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
