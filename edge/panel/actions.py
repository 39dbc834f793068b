"""The panel's buttons as commands: each action of a signed-in operator at their window
becomes the one command the keypad or console would submit, naming the operator.

Only the fields an action needs are read, each checked here (a label's form, a service the
center has, a pause reason of the three); the engine decides the rest and its refusal is
shown in the operator's language. The window is always the session's: a request cannot
name another one.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from edge.queue import commands as c

SOURCE = "panel"
PAUSE_REASONS = ("break", "technical", "paperwork")
NOTE_MAX = 200
_LABEL = re.compile(r"^\s*[A-Za-z]\s*-?\s*\d{1,4}\s*$")
_SERVICE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class BadAction(Exception):
    """A request the panel does not make: refused before any command (HTTP 400)."""


def _label(f: dict[str, Any]) -> str:
    label = f.get("label")
    if not isinstance(label, str) or not _LABEL.match(label):
        raise BadAction("label: a ticket number such as A-017")
    return label.strip().upper()


def _service(f: dict[str, Any]) -> str:
    sid = f.get("service")
    if not isinstance(sid, str) or not _SERVICE.match(sid):
        raise BadAction("service: a service id")
    return sid


def _note(f: dict[str, Any]) -> str:
    note = f.get("note", "")
    if not isinstance(note, str) or len(note) > NOTE_MAX:
        raise BadAction(f"note: text of at most {NOTE_MAX} characters")
    return note


def _reason(f: dict[str, Any]) -> str:
    reason = f.get("reason")
    if reason not in PAUSE_REASONS:
        raise BadAction(f"reason: one of {', '.join(PAUSE_REASONS)}")
    return str(reason)


Make = Callable[[int, str, dict[str, Any]], c.Command]

ACTIONS: dict[str, Make] = {
    "call_next": lambda w, op, f: c.CallNext(w, source=SOURCE, operator=op),
    "recall": lambda w, op, f: c.Recall(w, source=SOURCE, operator=op),
    "start": lambda w, op, f: c.StartService(w, source=SOURCE, operator=op),
    "done": lambda w, op, f: c.Finish(w, source=SOURCE, operator=op),
    "no_show": lambda w, op, f: c.NoShow(w, source=SOURCE, operator=op),
    "transfer": lambda w, op, f: c.Transfer(w, _service(f), source=SOURCE, note=_note(f),
                                            operator=op),
    "park": lambda w, op, f: c.Park(w, source=SOURCE, operator=op),
    "call": lambda w, op, f: c.CallTicket(w, _label(f), source=SOURCE, operator=op),
    "return": lambda w, op, f: c.ReturnTicket(_label(f), source=SOURCE, operator=op),
    "pause": lambda w, op, f: c.PauseWindow(w, source=SOURCE, reason=_reason(f), operator=op),
    "resume": lambda w, op, f: c.ResumeWindow(w, source=SOURCE, operator=op),
    "open": lambda w, op, f: c.OpenWindow(w, source=SOURCE, operator=op),
    "close": lambda w, op, f: c.CloseWindow(w, source=SOURCE, operator=op),
}


def command(action: str, window: int, operator: str, fields: dict[str, Any]) -> c.Command:
    """The command for `action` at `window` by `operator`; BadAction if it is not one."""
    make = ACTIONS.get(action)
    if make is None:
        raise BadAction(f"action: one of {', '.join(ACTIONS)}")
    return make(window, operator, fields)
