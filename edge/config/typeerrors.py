"""A value of the wrong type, in the words of a TOML file: what was expected, what came, how to write it.

The config models are strict (edge/config/base.py): `number = "2"` is refused, not read
as 2. The line says so and, where the value is right but written as the wrong type, what
to write instead: "windows.0.number: expected a whole number (got '2'); remove the
quotes: number = 2". The value shown is cut short and never an IIN (edge/strict.py).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from edge.strict import excerpt

_TABLE = "expected a table: { key = value, ... } or a [section] of its own"

# pydantic's error type -> what the key takes, in the words of a TOML file.
EXPECTED = {
    "bool_type": "expected true or false", "bool_parsing": "expected true or false",
    "int_type": "expected a whole number", "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number", "float_parsing": "expected a number",
    "string_type": "expected text in double quotes",
    "list_type": "expected a list [ ... ]", "tuple_type": "expected a list [ ... ]",
    "dict_type": _TABLE, "model_type": _TABLE, "model_attributes_type": _TABLE,
    "date_type": "expected a date, e.g. 2026-03-22", "date_parsing": "expected a date, e.g. 2026-03-22",
    "path_type": "expected a path in double quotes", "is_instance_of": "expected text in double quotes",
}
_NUMBER_KINDS = ("int_type", "int_parsing", "int_from_float", "float_type", "float_parsing")
_WHOLE_TEXT = re.compile(r"^[+-]?\d{1,30}$")


def type_problem(where: str, kind: str, got: Any, key: Any) -> str | None:
    """The line for a wrong type at `where` (a key path), or None if `kind` is no type error.

    `key` is the last part of the path (a list item's index, or a key) for the fix.
    """
    if kind not in EXPECTED:
        return None
    if kind == "date_type" and isinstance(got, dt.datetime):
        return (f"{where}: expected a date without a time (got {excerpt(got)})"
                + _write(key, got.date().isoformat()))
    line = f"{where}: {EXPECTED[kind]} (got {excerpt(got)})"
    return line + _fix(kind, got, key)


def _write(key: Any, value: str, how: str = "write") -> str:
    """'; write key = value' (or 'write value' for an item of a list)."""
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,40}", key):
        return f"; {how}: {key} = {value}"
    return f"; {how}: {value}"


def _fix(kind: str, got: Any, key: Any) -> str:
    """How to write the value so it is read as meant, when the value itself is right."""
    if kind in _NUMBER_KINDS and isinstance(got, str):
        text = got.strip()
        if _WHOLE_TEXT.match(text):
            return _write(key, str(int(text)), "remove the quotes")
        if kind.startswith("float") and _is_number(text):
            return _write(key, text, "remove the quotes")
        return ""
    if kind in ("int_type", "int_from_float") and isinstance(got, float) and got.is_integer():
        if abs(got) < 2 ** 53:
            return _write(key, str(int(got)), "write it without the fraction")
        return ""
    if kind in ("bool_type", "bool_parsing"):
        if isinstance(got, str) and got.strip().lower() in ("true", "false"):
            return _write(key, got.strip().lower(), "remove the quotes")
        if got in (0, 1) and not isinstance(got, bool):
            return _write(key, "true" if got else "false", "write")
        return ""
    if kind in ("string_type", "is_instance_of"):
        if isinstance(got, bool):
            return ""   # a true/false where text belongs is no text anyone meant
        if isinstance(got, (int, float)):
            return _write(key, f'"{excerpt(got)}"', "write it in double quotes")
        if isinstance(got, dt.time):
            text = got.strftime("%H:%M") if not got.second else got.isoformat()
            return _write(key, f'"{text}"', "write it in double quotes")
        if isinstance(got, dt.date):
            return _write(key, f'"{got.isoformat()}"', "write it in double quotes")
    return ""


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text)) and not text.lower().startswith(("n", "i", "+i", "-i"))
    except ValueError:
        return False


_LINE = re.compile(r"^(\S+): (expected .+?) \(got (.+?)\)(;.*)?$")


def merge_alternatives(problems: list[str]) -> list[str]:
    """One line per key: a key that takes text or a table (a union) gets one error per
    alternative from pydantic; they become "expected text in double quotes, or a table"."""
    out: list[str] = []
    for p in problems:
        m, last = _LINE.match(p), (_LINE.match(out[-1]) if out else None)
        if m and last and (m[1], m[3]) == (last[1], last[3]):
            out[-1] = f"{last[1]}: {last[2]}, or {m[2].removeprefix('expected ')} (got {last[3]})" \
                      + (last[4] or "")
        else:
            out.append(p)
    return out
