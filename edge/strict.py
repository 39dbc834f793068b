"""Strict reading of outside input: the few conversions made on purpose, and refused values shown safely.

Every model that reads a config file, central's messages or a booking file validates in
pydantic's strict mode: text is not a number ("5" is not 5), a boolean is not a number
(true is not window 1), a number is not text, and 3.5 is not 3. A whole number is a
number (avg_minutes = 8 is 8.0): that is the same value, not a conversion. The few
conversions that are wanted are named at the field that wants them, with one of these
types (docs/config.md and docs/protocol.md list them):

  * PathText:    a path from text (neither TOML nor JSON has a path type);
  * DateText:    a date from a TOML date, or from ISO text YYYY-MM-DD (JSON has no dates);
  * ListTuple:   a fixed-length tuple from a list (TOML and JSON have lists only);
  * NumberKeys:  whole-number table keys from their text (TOML and JSON keys are text);
  * WholeChoice: a number-valued Literal ([58, 80]) that takes only whole numbers:
    pydantic matches true to 1 and 58.0 to 58 there, even in strict mode.

`excerpt()` and `bounded()` show a refused value in a message: cut to a short prefix,
and any run of 12 or more digits (an IIN looks like that) masked, since such messages go
into events and logs.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Strict
from pydantic_core import PydanticCustomError

# Runs of 12 or more digits (Unicode digits too: a full-width IIN is an IIN).
_LONG_DIGITS = re.compile(r"\d{12,}")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WHOLE = re.compile(r"^-?\d{1,30}$")
EXCERPT_CHARS = 24


def mask_iins(text: str) -> str:
    """Every run of 12 or more digits as '<N digits>': it may be an IIN."""
    return _LONG_DIGITS.sub(lambda m: f"<{len(m.group())} digits>", text)


def excerpt(value: Any, *, limit: int = EXCERPT_CHARS, json: bool = False) -> str:
    """A value from outside as a message shows it: short, and never an IIN.

    Text in quotes (cut to `limit` characters), true/false, numbers as written; a list
    or a table by its kind only (its content can be long). `json` spells them the way a
    JSON sender knows them (a string, an array, an object) instead of TOML's words.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "an array" if json else "a list"
    if isinstance(value, dict):
        return "an object" if json else "a table"
    if isinstance(value, str):
        cut = value if len(value) <= limit else value[:limit] + "…"
        shown = mask_iins(cut)
        return f'the string "{shown}"' if json else repr(shown)
    if isinstance(value, (int, float)):
        text = repr(value)
        return mask_iins(text if len(text) <= limit else text[:limit] + "…")
    if isinstance(value, dt.datetime):
        return f"a TOML date-time {value.isoformat()}"
    if isinstance(value, dt.date):
        return f"a TOML date {value.isoformat()}"
    if isinstance(value, dt.time):
        return f"a TOML time {value.isoformat(timespec='minutes' if not value.second else 'auto')}"
    return f"a {type(value).__name__}"


_QUOTED = re.compile(r"'([^'\n]{%d,})'|\"([^\"\n]{%d,})\"" % (EXCERPT_CHARS * 2 + 1,
                                                                 EXCERPT_CHARS * 2 + 1))


def bounded(text: str, limit: int = 500) -> str:
    """A message made from outside input, safe for an event or a log: IIN-like runs
    masked, each quoted value cut to a prefix, the whole cut to `limit` characters."""

    def cut(m: re.Match[str]) -> str:
        q = "'" if m.group(1) is not None else '"'
        inner = m.group(1) if m.group(1) is not None else m.group(2)
        return f"{q}{inner[:EXCERPT_CHARS * 2]}…{q}"

    out = mask_iins(_QUOTED.sub(cut, text))
    return out if len(out) <= limit else out[:limit - 1] + "…"


# -- the conversions made on purpose ----------------------------------------------------

def _iso_date(v: Any) -> Any:
    if isinstance(v, str):
        if not _ISO_DATE.match(v):
            raise PydanticCustomError("date_from_text", "expected a date as YYYY-MM-DD, e.g. "
                                                        "2026-03-22")
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            raise PydanticCustomError("date_from_text", "not a real calendar date (month "
                                                        "01-12, day within the month)") from None
    return v  # a date (TOML's own) is validated as such; anything else is refused there


def _number_keys(v: Any) -> Any:
    if isinstance(v, dict):
        return {int(k) if isinstance(k, str) and _WHOLE.match(k) else k: x
                for k, x in v.items()}
    return v


def _whole_number(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, int):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return v


PathText = Annotated[Path, Strict(False)]
DateText = Annotated[dt.date, BeforeValidator(_iso_date)]
# For a tuple field: `Annotated[tuple[int, int], ListTuple]`. Only the tuple itself is
# lax (a list is taken); its items stay strict.
ListTuple = Strict(False)
NumberKeys = BeforeValidator(_number_keys)
WholeChoice = BeforeValidator(_whole_number)
