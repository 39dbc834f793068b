"""`kezek check-config`: one run lists every problem, in file order, each naming its key;
the common mistakes of a hand-edited file give one clear line and a non-zero exit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from edge.config import load_config
from edge.errors import ConfigError
from tests.conftest import MINIMAL_CONFIG

ROOT = Path(__file__).resolve().parents[2]

BASE = MINIMAL_CONFIG

SECOND_SERVICE = """
[[services]]
id = "realty"
names = { kk = "Мүлік", ru = "Недвижимость" }
prefix = "B"
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "center.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    return e.value.problems


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge.cli", "check-config", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_field_errors_and_references_in_one_run_in_file_order(tmp_path: Path) -> None:
    """Risk: references between sections were only checked once every key on its own was
    right, so the IT person needed a second round of edit-and-check."""
    text = (BASE
            + '\n[[windows]]\nnumber = "two"\nservices = { docs = 1 }\n'
            + '\n[[windows]]\nnumber = 3\nservices = { passports = 1 }\n'
            + '\n[gpio]\npin_factory = "mock"\n'
            + '[[gpio.buttons]]\nkind = "operator"\npin = 17\nwindow = 1\naction = "call_next"\n'
              'debounce_ms = -5\n'
            + '[[gpio.buttons]]\nkind = "ticket"\npin = 17\nservice = "cars"\n'
            + '[[gpio.leds]]\npin = 23\nrole = "ready"\nprinter = "kiosk"\n'
            + '\n[console]\nprinter = "kiosk"\n')
    path = tmp_path / "center.toml"
    path.write_text(text, encoding="utf-8")
    run = check_config(path)
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f"{path}: invalid configuration:",
        "  - windows.1.number: expected a whole number (got 'two')",
        "  - windows.2.services.passports: no service with id 'passports' (known: docs)",
        "  - gpio.buttons.0.debounce_ms: Input should be greater than or equal to 0 (got -5)",
        "  - gpio.buttons.1.pin: GPIO 17 is already used by gpio.buttons.0.pin; give each "
        "button, LED and buzzer its own pin",
        "  - gpio.buttons.1.service: no service with id 'cars' (known: docs)",
        "  - gpio.leds.0.printer: no printer named 'kiosk' in [printers] (known: none)",
        "  - console.printer: no printer named 'kiosk' in [printers] (known: none)",
    ], run.stderr
    # Start-up reads the file the same way: every problem, and EX_CONFIG.
    start = subprocess.run([sys.executable, "-m", "edge.cli", "run", "--config", str(path),
                            "--state-dir", str(tmp_path / "state")],
                           capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert start.returncode == 78
    assert "windows.2.services.passports: no service" in start.stderr
    assert "windows.1.number: expected a whole number" in start.stderr


def test_a_reference_to_an_item_with_errors_is_not_called_unknown(tmp_path: Path) -> None:
    """Service 'realty' exists with a bad prefix: "no service with id 'realty'" would be
    false; its own line says what to fix. The other references are still checked."""
    text = (BASE.replace("docs = 2", "docs = 2, realty = 1, cars = 1")
            + SECOND_SERVICE.replace('prefix = "B"', 'prefix = "BB"')
            + '\n[printers.kiosk]\ntype = "file"\npath = "t.bin"\npaper_mm = 3\n'
            + '\n[console]\nprinter = "kiosk"\n'
            + '\n[policies.services.realty]\ndaily_cap = 10\n')
    found = problems(tmp_path, text)
    # In the order of the file's sections: [[services]] tables are listed together.
    assert found == [
        "services.1.prefix: not in the required form (got 'BB'); expected: one capital Latin "
        "letter, e.g. 'A'",
        "windows.0.services.cars: no service with id 'cars' (known: docs, realty)",
        "printers.kiosk.paper_mm: expected 58 or 80 (got 3)",
    ], found


def test_references_to_a_section_that_cannot_be_read_are_not_checked(tmp_path: Path) -> None:
    """A window whose number is not a number may be the one a button means: "no window
    number 2" would send the IT person after the wrong key."""
    text = BASE + '\n[[windows]]\nnumber = "second"\nservices = { docs = 1 }\n'
    text += '\n[[gpio.buttons]]\nkind = "rating"\npin = 5\nwindow = 2\nscore = 5\n'
    assert problems(tmp_path, text) == ["windows.1.number: expected a whole number (got 'second')"]


@pytest.mark.parametrize("text, expected", [
    (BASE.replace('prefix = "A"', 'prefx = "A"'),
     ["services.0.prefx: unknown key; did you mean 'prefix'?"]),
    (BASE.replace("[[windows]]", "[[window]]"),
     ["window: unknown key; did you mean 'windows'?"]),
    (BASE + '\n[printers.kiosk]\ntype = "file"\npaht = "t.bin"\n',
     ["printers.kiosk.paht: unknown key; did you mean 'path'?"]),
    (BASE + "\n[hall]\ncolour = 1\n", ["hall.colour: unknown key; remove it or check its spelling"]),
])
def test_a_misspelt_key_gives_one_line_with_the_nearest_key(tmp_path: Path, text: str,
                                                            expected: list[str]) -> None:
    """Risk: a typo in a required key gave two lines (unknown 'prefx', missing 'prefix')
    and no hint which valid key was meant."""
    assert problems(tmp_path, text) == expected


@pytest.mark.parametrize("text, expected", [
    (BASE.split("[[services]]")[0],
     ["services: required section is missing; add at least one [[services]] table "
      "(see config/demo.toml)",
      "windows: required section is missing; add at least one [[windows]] table "
      "(see config/demo.toml)"]),
    (BASE.replace("[[services]]", "[services]"),
     ["services: expected a list, got a table; for a list of tables write [[services]] "
      "(two brackets) before each one"]),
    (BASE.replace("number = 1", 'number = 1\nbenefit = "maybe"\n'),
     ["windows.0.benefit: expected true or false (got 'maybe')"]),
    (BASE.replace('name = { kk = "Орталық", ru = "Центр" }', 'name = "Центр"'),
     ["center.name: expected a table: { key = value, ... } or a [section] of its own "
      "(got 'Центр')"]),
    (BASE.replace('site = "t-01"', 'site = "Ast 01"'),
     ["center.site: not in the required form (got 'Ast 01'); expected: site id used in MQTT "
      "topics: lowercase letters, digits, '-' or '_', e.g. 'ast-con-01'"]),
    (BASE.replace('site = "t-01"', 'site = "t-01"\nlanguages = ["kk", "de"]'),
     ["center.languages.1: not in the required form (got 'de'); expected: language code: kk, "
      "ru or en"]),
    (BASE.replace('prefix = "A"', 'prefix = "A"\nrange = [1]'),
     ["services.0.range: too few values (got [1])"]),
    ("", ["the file is empty (no settings); start from a copy of config/demo.toml "
          "(every key is in docs/config.md)"]),
    ("# only comments\n\n", ["the file is empty (no settings); start from a copy of "
                             "config/demo.toml (every key is in docs/config.md)"]),
])
def test_common_mistakes_give_one_clear_line(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert problems(tmp_path, text) == expected


@pytest.mark.parametrize("text, expected", [
    ("[center\nsite = 1\n",
     "line 1, column 8: not valid TOML: Expected ']' at the end of a table declaration; "
     "the line reads: [center"),
    (BASE.replace('site = "t-01"', "site = t-01"),
     'line 2, column 8: not valid TOML: Invalid value (a text needs double quotes '
     '(site = "ast-01"), a list its closing ]); the line reads: site = t-01'),
    (BASE.replace('prefix = "A"', 'prefix = "A"\nprefix = "B"'),
     'line 9, column 13: not valid TOML: Cannot overwrite a value (this key is already set in '
     'this table; keep one of the two); the line reads: prefix = "B"'),
    (BASE.replace('prefix = "A"', 'prefix = "A'),
     'line 8, column 12: not valid TOML: Illegal character \'\\n\' (a quote is not closed on '
     'this line); the line reads: prefix = "A'),
    # Python 3.11 reports this one "at end of document"; the line is found all the same.
    (BASE.replace('prefix = "A"', 'prefix = """A'),
     'line 8: not valid TOML: Unterminated string (a quote is not closed); the line reads: '
     'prefix = """A'),
    (BASE + "\n[center]\n", "line 14, column 8: not valid TOML: Cannot declare [center] twice "
                           "(this table is already declared above; merge the two); the line "
                           "reads: [center]"),
])
def test_a_toml_syntax_error_names_the_line_and_what_is_expected(tmp_path: Path, text: str,
                                                                 expected: str) -> None:
    assert problems(tmp_path, text) == [expected]


def test_files_that_are_not_utf8_text(tmp_path: Path) -> None:
    cp1251 = tmp_path / "cp1251.toml"
    cp1251.write_bytes(BASE.encode("utf-8").replace("Орталық".encode(), "Центр".encode("cp1251")))
    with pytest.raises(ConfigError) as e:
        load_config(cp1251)
    assert e.value.problems == ["line 3: not UTF-8 text (byte 0xD6; perhaps saved as "
                                "Windows-1251); save the file as UTF-8"]
    utf16 = tmp_path / "unicode.toml"
    utf16.write_bytes(BASE.encode("utf-16"))
    with pytest.raises(ConfigError) as e:
        load_config(utf16)
    assert e.value.problems == ["the file is UTF-16 text; save it as UTF-8 (in Notepad: "
                                "Save as, Encoding: UTF-8)"]


def test_a_folder_or_an_unreadable_file(tmp_path: Path) -> None:
    run = check_config(tmp_path)
    assert run.returncode == 1
    assert run.stderr.splitlines()[1:] == [
        "  - this is a folder, not a file; pass the path of the .toml config in it"]
    assert "Traceback" not in run.stderr


def test_a_file_the_user_may_not_read() -> None:
    """As installed, /etc/kezek/kezek.toml is root:kezek 0640: another user gets a hint."""
    folder = Path(tempfile.mkdtemp(prefix="kezek-perm-"))
    try:
        folder.chmod(0o711)   # others may reach the file, not read it
        path = folder / "kezek.toml"
        path.write_text(BASE, encoding="utf-8")
        # No one may read it, the owner neither: the test works for any user, whoever
        # owns the checkout (as root it may be in /root, which user nobody cannot read).
        path.chmod(0o000)
        argv = [sys.executable, "-m", "edge.cli", "check-config", str(path)]
        if os.geteuid() == 0:
            # root reads every file: run the check as root without the capabilities that
            # bypass file permissions.
            if shutil.which("setpriv") is None:
                pytest.skip("needs setpriv to drop root's capabilities")
            caps = "-dac_override,-dac_read_search"
            argv = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"] + argv
        run = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd="/",
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        shutil.rmtree(folder)
    assert run.returncode == 1, run.stderr
    assert run.stderr.splitlines()[1:] == [
        "  - cannot read the file: permission denied; run the command with sudo, or as a user "
        "of the kezek group"], run.stderr


def test_union_item_errors_name_no_variant(tmp_path: Path) -> None:
    """A rule of one printer type (file) was reported at printers.kiosk.file, no key anyone wrote."""
    text = BASE + '\n[printers.kiosk]\ntype = "file"\npath = "t.bin"\nstatus = "poll"\n'
    [line] = problems(tmp_path, text)
    assert line.startswith('printers.kiosk: status = "poll" needs a device node'), line


def test_every_value_used_twice_is_listed_not_only_the_first(tmp_path: Path) -> None:
    """Risk: the pin, serial port and board address checks stopped at the first clash."""
    text = (BASE
            + '\n[[gpio.buttons]]\nkind = "ticket"\npin = 5\nservice = "docs"\n'
            + '[[gpio.leds]]\npin = 5\nrole = "ready"\n'
            + '[gpio.buzzers.desk]\npin = 5\n'
            + '[[gpio.serial_inputs]]\ntype = "scanner"\nport = "/dev/ttyACM0"\n'
            + '[[gpio.serial_inputs]]\ntype = "keypad"\nport = "/dev/ttyACM0"\n'
            + '\n[boards.buses.hall]\ntype = "fake"\n'
            + '[[boards.buses.hall.boards]]\naddress = 1\nkind = "hall"\n'
            + '[[boards.buses.hall.boards]]\naddress = 1\nkind = "hall"\n')
    assert problems(tmp_path, text) == [
        "gpio.leds.0.pin: GPIO 5 is already used by gpio.buttons.0.pin; give each button, LED "
        "and buzzer its own pin",
        "gpio.buzzers.desk.pin: GPIO 5 is already used by gpio.buttons.0.pin; give each "
        "button, LED and buzzer its own pin",
        "gpio.serial_inputs.1.port: '/dev/ttyACM0' is already used by gpio.serial_inputs.0; "
        "one serial port serves one input",
        "boards.buses.hall.boards.1.address: address 1 is also used by "
        "boards.buses.hall.boards.0; every board on one bus needs its own address",
    ]


def test_a_service_no_window_serves_is_named(tmp_path: Path) -> None:
    """Risk: the kiosk issued tickets for a service no window lists; those visitors waited
    all day for a call that could not come and became no-shows at midnight."""
    found = problems(tmp_path, BASE + SECOND_SERVICE)
    assert found == ["services.1: no window serves service 'realty', so its visitors would "
                     "never be called; add it to a window (services = { realty = 1 } under "
                     "[[windows]]) or remove it"]
    path = tmp_path / "served.toml"
    path.write_text(BASE.replace("{ docs = 2 }", "{ docs = 2, realty = 0 }") + SECOND_SERVICE,
                    encoding="utf-8")
    assert load_config(path).services[1].id == "realty"     # weight 0 serves it too
