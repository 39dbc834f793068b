"""Why a message was refused, in one line: key path, what was expected, what came.

The line goes into a `sync.rejected` event (back to central, kept in the outbox) and the
log, so the sender's values in it are cut short and never an IIN (edge/strict.py).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from edge.strict import excerpt, mask_iins

# pydantic's error type -> what the field takes, in the words of JSON.
_EXPECTED = {
    "int_type": "expected an integer", "int_parsing": "expected an integer",
    "int_from_float": "expected an integer", "float_type": "expected a number",
    "float_parsing": "expected a number", "string_type": "expected a string",
    "bool_type": "expected true or false", "bool_parsing": "expected true or false",
    "list_type": "expected an array", "tuple_type": "expected an array",
    "dict_type": "expected an object", "model_type": "expected an object",
    "model_attributes_type": "expected an object", "is_instance_of": "expected an object",
}


def key_path(loc: tuple[Any, ...]) -> str:
    """A key path as the sender wrote it: no wrapper, no union variant; each key short and
    never an IIN (a key is the sender's text as much as a value)."""
    parts = list(loc)
    if parts[:1] == ["command"]:
        # CmdMessage's wrapper, then the variant pydantic chose by `name`: no keys of the
        # message (an error about the union itself has neither).
        parts = parts[2:]
    return ".".join(mask_iins(str(p)[:32]) for p in parts) or "(top)"


def problem(err: Any) -> str:
    """One pydantic error as 'key.path: what was expected, what came' (never an IIN)."""
    where, kind = key_path(tuple(err.get("loc", ()))), err.get("type", "")
    got = err.get("input")
    if kind == "missing":
        return f"{where}: required"
    if kind == "extra_forbidden":
        return f"{where}: unknown field; remove it"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        ctx = err.get("ctx") or {}
        key = str(ctx.get("discriminator", "name")).strip("'")
        tags = str(ctx.get("expected_tags", "")).replace("'", "")
        # The tag is the sender's text: excerpt, never pydantic's message that repeats it.
        at = key if where == "(top)" else f"{where}.{key}"
        if kind == "union_tag_not_found" or not isinstance(got, dict):
            return f"{at}: required"
        return f"{at}: expected one of {tags}, got {excerpt(got.get(key), json=True)}"
    if kind in _EXPECTED:
        return f"{where}: {_EXPECTED[kind]}, got {excerpt(got, json=True)}"
    # A rule on the value (a range, a pattern, a set of values): pydantic's words name it
    # and never hold the input; the input follows, short.
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    if kind == "literal_error":   # "Input should be 'kk', 'ru' or 'en'"
        msg = "expected " + msg.removeprefix("Input should be ")
    return f"{where}: {mask_iins(msg[:200])}, got {excerpt(got, json=True)}"


def explain(e: ValidationError) -> str:
    """A pydantic error as one short line: key path, what was expected and what came, for
    the first few errors; safe for an event and a log (values cut short, no IIN)."""
    errors = e.errors()
    parts = [problem(err) for err in errors[:3]]
    more = len(errors) - 3
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
