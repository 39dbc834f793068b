"""No silent conversions on the wire: every field of every message either side reads, and
every field of a booking entry, refuses a value of the wrong type with its key path, what
was expected and what came, and nothing else about the message is reported.

The fields come from the models (tests/wrong_types.py): a field or a message added later
is covered, and the check below fails if the examples stop holding every model.
"""

from __future__ import annotations

import copy
import json
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from edge.queue.bookings import BookingIn, BookingRejected, parse_booking
from edge.sync.protocol import (SCHEMAS, Ack, CmdMessage, Command, PayloadError, decode, explain,
                                parse, problem)
from tests.wrong_types import model_nodes, put, reachable_models, wrong_field_values, \
    wrong_for_every_field

LIMIT = 1 << 20
DB = "0b0e6c1e-1f0a-4a53-9d7b-7a4c2a0f9e11"
EVENT = {"v": 1, "id": "e-1", "site": "ast01", "device": "e1", "seq": 1, "boot": "b",
         "type": "ticket.issued", "ts": 1, "mono_ms": 1, "clock_synced": True, "hist": False,
         "data": {"ticket": "A-001"}}
CMD = {"v": 1, "cmd_id": "c-1", "ts": 0, "ttl_s": 60}

# One valid message of each kind; with the commands, they hold every model of the wire.
MESSAGES: dict[str, dict[str, Any]] = {
    "event": EVENT,
    "evt": {"v": 1, "site": "ast01", "device": "e1", "session": 1, "floor": 0, "db": DB,
            "prev_db": DB, "fork_seq": 0, "events": [EVENT]},
    "ack": {"v": 1, "acked_seq": 2, "resend_from": 3, "db": DB},
    "state": {"v": 1, "online": True, "session": 1, "ts": 1, "boot": "b", "last_seq": 2,
              "acked_seq": 1, "software": "0.1", "db": DB},
    "central_state": {"v": 1, "online": True, "session": 1, "instance": "c1", "ts": 1},
    "health": {"v": 1, "site": "ast01", "device": "e1", "session": 1, "ts": 1,
               "summary": {"waiting": 0, "serving": 0, "alarms": []},
               "queue": {}, "components": {}, "sync": {}},
    "cfg": {"v": 1, "version": 2, "config": {"services": [], "windows": [], "policies": {}}},
    "bookings": {"v": 1, "version": 2, "bookings": []},
}
COMMANDS: dict[str, dict[str, Any]] = {
    "open_window": {**CMD, "name": "open_window", "args": {"window": 1}},
    "close_window": {**CMD, "name": "close_window", "args": {"window": 1}},
    "pause_window": {**CMD, "name": "pause_window", "args": {"window": 1}},
    "resume_window": {**CMD, "name": "resume_window", "args": {"window": 1}},
    "reprint": {**CMD, "name": "reprint", "args": {"label": "A-001", "printer": "kiosk"}},
    "announce": {**CMD, "name": "announce", "args": {"text": "Сәлем", "lang": "kk"}},
    "resend": {**CMD, "name": "resend", "args": {"from_seq": 1}},
    "reload_config": {**CMD, "name": "reload_config", "args": {}},
}
VARIANTS = {get_args(m.model_fields["name"].annotation)[0]: m for m in get_args(get_args(Command)[0])}


def _cases() -> list[tuple[str, str, tuple[Any, ...], type[BaseModel]]]:
    """(message kind, key, path of a table in it, the model that reads that table)."""
    out = []
    for kind, doc in MESSAGES.items():
        out += [("msg", kind, loc, m) for loc, m in model_nodes(SCHEMAS[kind], doc)]
    for name, doc in COMMANDS.items():
        out += [("cmd", name, loc, m) for loc, m in model_nodes(VARIANTS[name], doc)]
    return out


CASES = _cases()


def _message(source: str, key: str) -> dict[str, Any]:
    return copy.deepcopy(MESSAGES[key] if source == "msg" else COMMANDS[key])


def _receive(source: str, key: str, doc: dict[str, Any]) -> Any:
    """The message as the side that reads it does: from the bytes on the wire."""
    payload = json.dumps(doc).encode()
    if source == "cmd":
        return CmdMessage.parse(decode(payload, LIMIT))
    return parse(SCHEMAS[key], payload, LIMIT)


def test_the_examples_are_valid_and_hold_every_model_of_the_wire() -> None:
    for source, key, _, _ in CASES:
        _receive(source, key, _message(source, key))
    roots = [*SCHEMAS.values(), *VARIANTS.values()]
    missing = reachable_models(*roots) - {m for _, _, _, m in CASES}
    assert not missing, ("add messages holding these models so that their fields are "
                         f"checked too: {sorted(m.__name__ for m in missing)}")


def _refused(source: str, key: str, doc: dict[str, Any], where: tuple[Any, ...]) -> str:
    """Receive `doc`: it must be refused, naming `where` (and nothing else)."""
    dotted = ".".join(str(p) for p in where)
    try:
        _receive(source, key, doc)
    except PayloadError as e:
        # The protocol version is checked before the fields (decode()): its own words.
        assert where == ("v",) and "unsupported protocol version" in str(e), (where, e)
        return str(e)
    except ValidationError as e:
        lines = [problem(err) for err in e.errors()]
        assert all(line.startswith((dotted + ": ", dotted + ".")) for line in lines), \
            (dotted, lines)
        line = next(line for line in lines if line.startswith(dotted + ": "))
        assert ": expected " in line and ", got " in line, line
        assert explain(e).startswith(lines[0])
        return line
    raise AssertionError(f"{key}: {dotted} = {doc!r} was taken")


def test_true_in_every_field_that_takes_no_boolean_and_1_where_one_is_taken() -> None:
    """Risk: an ack's acked_seq "2" deleted two events, a command's window true closed
    window 1: pydantic's lax mode converts. Every field of every message."""
    checked = 0
    for source, key, loc, model in CASES:
        for name, wrong in wrong_for_every_field(model):
            doc = _message(source, key)
            put(doc, loc + (name,), wrong)
            _refused(source, key, doc, loc + (name,))
            checked += 1
    assert checked > 100


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_value_of_a_wrong_type_in_any_field_is_refused_at_its_key_path(data: st.DataObject) -> None:
    """Risk: a string, a fraction, null, an array or an object where another type belongs
    is converted or refused under another field's name. (A whole number written as a float,
    5.0, is that number on purpose: JSON has one number type.)"""
    source, key, loc, model = data.draw(st.sampled_from(CASES))
    name, wrong, inner = data.draw(wrong_field_values(model, whole_floats=False, toml=False))
    doc = _message(source, key)
    put(doc, loc + (name,), wrong, inner)
    _refused(source, key, doc, loc + (name,) + inner)


def test_a_refused_value_is_shown_short_and_never_as_an_iin() -> None:
    """Risk: a reason copied the sender's value whole into a sync.rejected event and the
    log: a long one, or an IIN put into a wrong field."""
    iin = "870412300125"
    doc = {**MESSAGES["ack"], "acked_seq": iin + "x" * 300}
    with pytest.raises(ValidationError) as e:
        parse(Ack, json.dumps(doc).encode(), LIMIT)
    assert explain(e.value) == 'acked_seq: expected an integer, got the string "<12 digits>xxxxxxxxxxxx…"'
    with pytest.raises(PayloadError) as p:
        parse(Ack, json.dumps({**MESSAGES["ack"], "v": iin}).encode(), LIMIT)
    assert iin not in str(p.value) and "v='<12 digits>'" in str(p.value)
    bad_name = {**COMMANDS["close_window"], "name": iin * 3}
    with pytest.raises(ValidationError) as e:
        CmdMessage.parse(bad_name)
    assert iin not in explain(e.value) and "name: expected one of open_window" in explain(e.value)
    with pytest.raises(ValidationError) as e:
        CmdMessage.parse({**COMMANDS["close_window"], "args": {"window": 1, iin: 1}})
    assert explain(e.value) == "args.<12 digits>: unknown field; remove it"


GOOD_BOOKING = {"code": "AB-100", "service": "docs", "date": "2026-11-23", "slot_start": "09:30",
                "slot_minutes": 15, "iin_hmac": "0" * 64, "status": "active", "version": 1,
                "site": "ast01", "rebooked_to": "AB-101"}


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_a_booking_entry_refuses_a_wrong_type_in_any_field(data: st.DataObject) -> None:
    """The same for booking entries (central's bookings, booking files, the inbox): the
    problem names the field, never the value (it may be an IIN)."""
    name, wrong, _ = data.draw(wrong_field_values(BookingIn, whole_floats=False, toml=False))
    parse_booking(GOOD_BOOKING, None)
    entry = {**GOOD_BOOKING, name: wrong}
    with pytest.raises(BookingRejected) as e:
        parse_booking(entry, None)
    assert {field for field, _ in e.value.problems} == {name}, e.value.problems
