"""No silent conversions in the config: a value of the wrong type in any key is refused
with its key path, what was expected and what came; the conversions made on purpose
(a path from text, a date from ISO text, a list for [first, last], number keys) hold.

The keys are not listed here: they come from the models (tests/wrong_types.py), so a key
or a section added later is covered, and the sweep fails if the documents below stop
holding every section and variant.
"""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from edge.config import _explain, load_config, parse_config
from edge.config.model import AppConfig
from edge.errors import ConfigError
from tests.conftest import MINIMAL_CONFIG
from tests.wrong_types import (field_schemas, model_nodes, put, reachable_models,
                               wrong_field_values, wrong_for_every_field)

ROOT = Path(__file__).resolve().parents[2]
DEMO = tomllib.loads((ROOT / "config" / "demo.toml").read_text(encoding="utf-8"))

# With the demo config, these hold every section and every `type`/`kind` variant.
RICH = tomllib.loads("""\
[center]
site = "t-01"
name = { kk = "Орталық", ru = "Центр" }

[[services]]
id = "docs"
names = { kk = "Құжаттар", ru = "Документы" }
prefix = "A"
range = [1, 500]

[[windows]]
number = 1
services = { docs = 2 }

[sync]
enabled = false
ca_file = "/etc/kezek/ca.pem"
password_file = "/run/credentials/kezek.service/mqtt_password"

[system]
status_socket = "/run/kezek/status.sock"
metrics_port = 9464

[bookings]
early_min = 30
iin_secret_file = "/run/credentials/kezek.service/iin_secret"

[policies]
closed_dates = [2026-12-16, "2027-01-01"]

[policies.hours]
mon = { open = "09:00", close = "19:00", breaks = ["13:00-14:00"] }

[policies.services.docs]
daily_cap = 60

[calendar]
closed = [2027-03-21, "2027-03-22"]

[[calendar.days]]
date = "2027-03-20"
open = "09:00"
close = "13:00"

[[calendar.periods]]
start = 2027-01-01
end = "2027-12-31"
hours = { sat = { open = "09:00", close = "13:00" } }

[printers.usb]
type = "usb"
vendor_id = 0x04b8
product_id = 0x0e15

[printers.serial]
type = "serial"
port = "/dev/ttyUSB1"
baudrate = 19200
stopbits = 1
bytesize = 8

[printers.net]
type = "network"
host = "192.0.2.10"

[printers.fake]
type = "fake"

[ticket.markers]
benefit = { kk = "ЖЕҢІЛДІК", ru = "ЛЬГОТА" }

[[ticket.lines]]
text = "{center}"

[[ticket.lines]]
text = { kk = "Кезек", ru = "Очередь" }

[[gpio.buttons]]
kind = "rating"
pin = 20
window = 1
score = 5

[[gpio.serial_inputs]]
type = "keypad"
port = "/dev/ttyUSB0"
protocol = "frames"
addresses = { 1 = 1 }

[[gpio.serial_inputs]]
type = "scanner"
port = "/dev/ttyACM0"
iin = true

[[gpio.serial_inputs]]
type = "numpad"
port = "/dev/ttyACM1"

[boards.buses.line]
type = "serial"
port = "/dev/ttyUSB2"

[[boards.buses.line.boards]]
address = 1
kind = "window"
window = 1

[announce]
output = { type = "command", argv = ["paplay", "{file}"] }

[panel]
enabled = true
port = 8082

[[panel.pcs]]
address = "10.0.5.21"
window = 1

[[operators]]
id = "aigerim"
name = "Айгерім"
services = ["docs"]
role = "operator"
secret = "scrypt$14$8$1$dSuvOzZl8p0OFC7GRrKLUQ==$N6MKCAjGXoFBxh4Ie1ZvXqu8qFH6+RXs+zxP4HjSsO0="
""")

OUTPUTS = [{"type": "file", "dir": "/tmp/calls"}, {"type": "fake"}]


def _with_output(output: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(RICH)
    doc["announce"]["output"] = output
    return doc


# Valid config documents that together hold every model of the config.
DOCUMENTS = [DEMO, RICH, *map(_with_output, OUTPUTS)]


def document(i: int) -> dict[str, Any]:
    return copy.deepcopy(DOCUMENTS[i])


# Each model once, where the documents first hold it (four windows check no more than one).
NODES = list({model: (i, loc, model) for i, doc in reversed(list(enumerate(DOCUMENTS)))
              for loc, model in reversed(list(model_nodes(AppConfig, doc)))}.values())


def test_the_documents_are_valid_and_hold_every_model_of_the_config() -> None:
    for doc in DOCUMENTS:
        parse_config(copy.deepcopy(doc))
    missing = reachable_models(AppConfig) - {m for _, _, m in NODES}
    assert not missing, ("add these sections or variants to RICH so that their keys are "
                         f"checked too: {sorted(m.__name__ for m in missing)}")


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _refused(doc: dict[str, Any], where: tuple[Any, ...], got: Any) -> list[str]:
    """parse_config's problems for `doc`; each names `where` or a key inside it."""
    with pytest.raises(ConfigError) as e:
        parse_config(doc)
    problems = e.value.problems
    assert problems
    prefix = _dotted(where)
    # Nothing else is reported: no follow-on error elsewhere in the file.
    assert all(p.startswith(prefix + ".") or p.startswith(prefix + ":") for p in problems), \
        (where, got, problems)
    return problems


def test_true_for_any_key_that_is_not_true_or_false_is_refused_and_1_for_one_that_is() -> None:
    """Risk: `recall_limit = true` was taken as 1 (the next visitor a no-show after one
    call), `benefit = 1` as true: pydantic's lax mode converts. Every key of every table."""
    checked = 0
    for i, loc, model in NODES:
        for name, wrong in wrong_for_every_field(model):
            doc = document(i)
            put(doc, loc + (name,), wrong)
            problems = _refused(doc, loc + (name,), wrong)
            line = next(p for p in problems if p.startswith(_dotted(loc + (name,)) + ":"))
            assert ": expected " in line and "(got " in line, line
            checked += 1
    assert checked > 250


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_value_of_a_wrong_type_in_any_key_is_refused_at_its_key_path(data: st.DataObject) -> None:
    """Risk: a text, a number, a list, a table, a TOML date or a fraction where another type
    belongs is converted (number = "2" read as 2) or refused under another key's name."""
    i, loc, model = data.draw(st.sampled_from(NODES))
    name, wrong, inner = data.draw(wrong_field_values(model, whole_floats=True, toml=True))
    doc = document(i)
    put(doc, loc + (name,), wrong, inner)
    where = loc + (name,) + inner
    problems = _refused(doc, where, wrong)
    assert any(p.startswith(_dotted(where) + ": ") for p in problems), (where, wrong, problems)


CONFIG_MODELS = sorted(reachable_models(AppConfig), key=lambda m: m.__name__)


@pytest.mark.parametrize("model", CONFIG_MODELS, ids=lambda m: m.__name__)
def test_every_field_of_every_config_model_refuses_wrong_types_on_its_own(
        model: type[BaseModel]) -> None:
    """Also the variants a document holds only one of: each model validated alone,
    every field, a few wrong values each."""
    props, _ = field_schemas(model)

    @settings(max_examples=3 * len(props) + 5, deadline=None, database=None)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        name, wrong, inner = data.draw(wrong_field_values(model, whole_floats=True, toml=True))
        doc = {name: wrong}
        with pytest.raises(ValidationError) as e:
            model.model_validate(doc)
        lines = [_explain(err, doc) for err in e.value.errors()]
        where = _dotted((name,) + inner)
        assert any(line.startswith(where + ": ") for line in lines), (wrong, lines)

    if props:
        check()


@pytest.mark.parametrize("text, line", [
    ('[policies]\nrecall_limit = true\n', "policies.recall_limit: expected a whole number (got true)"),
    ('[policies]\nno_show_return_min = "5"\n',
     "policies.no_show_return_min: expected a whole number (got '5'); remove the quotes: "
     "no_show_return_min = 5"),
    ('[policies]\nrecall_limit = 3.0\n', "policies.recall_limit: expected a whole number "
                                         "(got 3.0); write it without the fraction: recall_limit = 3"),
    ('[policies]\nclosed_dates = [2026-12-16T10:00:00]\n',
     "policies.closed_dates.0: expected a date without a time (got a TOML date-time "
     "2026-12-16T10:00:00); write: 2026-12-16"),
    ('[policies]\nclosed_dates = ["16.12.2026"]\n',
     "policies.closed_dates.0: expected a date as YYYY-MM-DD, e.g. 2026-03-22 (got '16.12.2026')"),
    ('[policies.hours]\nmon = { open = 09:00:00, close = "18:00" }\n',
     'policies.hours.mon.open: expected text in double quotes (got a TOML time 09:00); '
     'write it in double quotes: open = "09:00"'),
    ('[hall]\nenabled = "true"\n', "hall.enabled: expected true or false (got 'true'); remove "
                                   "the quotes: enabled = true"),
    ('[hall]\nenabled = 1\n', "hall.enabled: expected true or false (got 1); write: enabled = true"),
    ('[hall]\nport = "8080"\n', "hall.port: expected a whole number (got '8080'); remove the "
                                "quotes: port = 8080"),
    ('[[windows]]\nnumber = 2\nlabel = 5\nservices = { docs = 1 }\n',
     'windows.1.label: expected text in double quotes (got 5); write it in double quotes: '
     'label = "5"'),
    ('[storage]\nstate_dir = 5\n', "storage.state_dir: expected a path in double quotes (got 5)"),
    ('[printers.p]\ntype = "fake"\npaper_mm = true\n',
     "printers.p.paper_mm: expected a whole number (got true)"),
    ('[printers.p]\ntype = "fake"\npaper_mm = "58"\n',
     "printers.p.paper_mm: expected a whole number (got '58'); remove the quotes: paper_mm = 58"),
    ('[printers.p]\ntype = "fake"\npaper_mm = 58.0\n',
     "printers.p.paper_mm: expected a whole number (got 58.0); write it without the fraction: "
     "paper_mm = 58"),
    ('[[ticket.lines]]\ntext = 5\n', "ticket.lines.0.text: expected text in double quotes, or a "
                                     "table: { key = value, ... } or a [section] of its own (got 5); write it in "
                                     'double quotes: text = "5"'),
    ('[policies]\nrecall_limit = "870412300125 and more and more"\n',
     "policies.recall_limit: expected a whole number (got '<12 digits> and more an…')"),
])
def test_each_wrong_type_gets_one_line_that_says_what_to_write(
        tmp_path: Path, text: str, line: str) -> None:
    path = tmp_path / "center.toml"
    path.write_text(_BASE + text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert line in e.value.problems, e.value.problems


_BASE = MINIMAL_CONFIG + "\n"


def test_the_conversions_made_on_purpose() -> None:
    """A path from text, a date from a TOML date or ISO text, [first, last] from a list,
    keypad addresses from their keys' text: what TOML and JSON can write for them."""
    config = parse_config(copy.deepcopy(RICH))
    assert config.sync.ca_file == Path("/etc/kezek/ca.pem")
    assert config.policies.closed_dates == [dt.date(2026, 12, 16), dt.date(2027, 1, 1)]
    assert config.services[0].range == (1, 500)
    keypad = config.gpio.serial_inputs[0]
    assert keypad.type == "keypad" and keypad.addresses == {1: 1}
    # The running config as JSON (how the sync link merges central's cfg into it) reads
    # back as the same config.
    for i in range(len(DOCUMENTS)):
        config = parse_config(document(i))
        assert parse_config(config.model_dump(mode="json")) == config
