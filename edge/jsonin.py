"""Reading JSON that comes from outside: one error type that names what is wrong.

`json.loads` lets through, or fails on, things that must not reach the queue:
  * deep nesting (`[[[[...`) raises RecursionError, which no `except ValueError` catches;
  * an integer of more than 4,300 digits raises a bare ValueError (Python's int limit);
  * NaN and Infinity are not JSON (RFC 8259) yet are accepted, and other readers choke;
  * a lone UTF-16 surrogate (`"\\ud800"`) is accepted, but SQLite and UTF-8 refuse it
    later, when the command is being saved: the whole message then fails as a storage
    error that says nothing about the input (and a booking file is retried forever).
`loads()` refuses all of these up front with JSONInputError (a ValueError), whose
message names the problem and where, never the value (it may be an IIN).
"""

from __future__ import annotations

import json
import re
from typing import Any

from edge.strict import mask_iins

MAX_DEPTH = 64          # central's messages and booking files are 4-5 levels deep
MAX_INT_DIGITS = 30     # far beyond any seq, version or timestamp; SQLite stops at 19
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JSONInputError(ValueError):
    """Input is not JSON this program can keep; the message says what and where."""


def _no_constant(name: str) -> Any:
    raise JSONInputError(f"{name} is not a JSON number; send a number or null")


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise JSONInputError(f"a number of {digits} digits is too large (at most "
                             f"{MAX_INT_DIGITS} digits)")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        # 20 characters of it, and never 12 digits in a row (an IIN looks like that).
        raise JSONInputError(mask_iins(f"the number {text[:20]} is too large for a float"))
    return value


def loads(text: str | bytes) -> Any:
    """Parse `text` (bytes must be UTF-8); JSONInputError names any problem."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise JSONInputError(f"not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_int=_int,
                          parse_float=_float)
    except JSONInputError:
        raise
    except json.JSONDecodeError as e:
        raise JSONInputError(f"not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise JSONInputError(f"nested too deeply (at most {MAX_DEPTH} levels)") from None
    except ValueError as e:  # what json raises outside its own errors (a number's size)
        raise JSONInputError(f"not readable JSON: {e}") from None
    _check(data, bool(_SURROGATE_ESCAPE.search(text)))
    return data


def _check(data: Any, surrogates: bool) -> None:
    """Depth, and (when the text had a \\uD8xx-\\uDFxx escape) text that is not Unicode."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                raise JSONInputError(f"nested too deeply (at most {MAX_DEPTH} levels)")
            for k, v in value.items():
                where = f"{path}.{k}" if path else str(k)
                if surrogates:
                    _text(k, path or "(top)")
                stack.append((v, depth + 1, where))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                raise JSONInputError(f"nested too deeply (at most {MAX_DEPTH} levels)")
            stack.extend((v, depth + 1, f"{path}[{i}]") for i, v in enumerate(value))
        elif surrogates and isinstance(value, str):
            _text(value, path or "(top)")


def _text(s: str, where: str) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        # The path, not the value: the value may be an IIN (and so may a key).
        where = mask_iins(where.encode("utf-8", "replace").decode("utf-8")[:120])
        raise JSONInputError(f"{where}: holds a lone UTF-16 surrogate escape (\\ud800-\\udfff "
                             "without its pair), which is not text; fix the sender's "
                             "JSON encoder") from None
