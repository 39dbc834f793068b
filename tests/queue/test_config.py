"""Config validation: broken files give errors that name the key path and the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import load_config
from edge.errors import ConfigError
from tests.conftest import MINIMAL_CONFIG

ROOT = Path(__file__).resolve().parents[2]

BASE = MINIMAL_CONFIG


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(path) in str(e.value)
    return e.value.problems


def test_the_demo_config_is_valid_and_has_what_the_issue_asks() -> None:
    config = load_config(ROOT / "config" / "demo.toml")
    assert len(config.services) >= 3 and len(config.windows) == 4
    assert sum(w.benefit for w in config.windows) == 1
    assert any(set(s.names.kk) & set("әғқңөұүһі") for s in config.services)


@pytest.mark.parametrize("change, expected", [
    (BASE + "\n[colour]\nx = 1\n", "colour: unknown key; remove it or check its spelling"),
    (BASE.replace('prefix = "A"', 'prefix = "AB"'), "services.0.prefix:"),
    (BASE.replace('prefix = "A"', 'prefix = "A"\ncolour = "red"'), "services.0.colour: unknown key"),
    (BASE.replace("docs = 2", "docs = 5"), "weight of service 'docs' must be 0, 1 or 2"),
    (BASE.replace("docs = 2", "passports = 2"),
     "windows.0.services.passports: no service with id 'passports' (known: docs)"),
    (BASE.replace('site = "t-01"\n', 'site = "t-01"\ntimezone = "Asia/Astana_City"\n'),
     "unknown IANA time zone 'Asia/Astana_City'"),
    (BASE.replace('name = { kk = "Орталық", ru = "Центр" }', 'name = { ru = "Центр" }'),
     "center.name.kk: required key is missing"),
    (BASE + '\n[[windows]]\nnumber = 1\nservices = { docs = 1 }\n', "window number 1 is used twice"),
    (BASE + '\n[[services]]\nid = "docs2"\nnames = { kk = "a", ru = "b" }\nprefix = "A"\n',
     "prefix 'A' is used by two services"),
    (BASE.replace('prefix = "A"', 'prefix = "A"\nrange = [5, 2]'), "expected [first, last]"),
    (BASE + '\n[console]\nenabled = true\nprinter = "kiosk"\n', "console.printer: no printer named 'kiosk'"),
    ("[center\nsite=1", "not valid TOML"),
])
def test_broken_config_names_the_key_and_the_fix(tmp_path: Path, change: str, expected: str) -> None:
    found = problems(tmp_path, change)
    assert any(expected in p for p in found), found


def test_missing_file_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "cp1251.toml"
    bad.write_bytes(BASE.replace("Орталық", "Центр").replace("Құжаттар", "Документы").encode("cp1251"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(bad)


def test_check_config_command_exit_codes(tmp_path: Path) -> None:
    good = subprocess.run([sys.executable, "-m", "edge.cli", "check-config", str(ROOT / "config" / "demo.toml")],
                          capture_output=True, text=True, timeout=60)
    assert good.returncode == 0, good.stderr
    assert "OK" in good.stdout
    path = tmp_path / "bad.toml"
    path.write_text(BASE.replace("docs = 2", "docs = 7"), encoding="utf-8")
    bad = subprocess.run([sys.executable, "-m", "edge.cli", "check-config", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert "windows.0.services" in bad.stderr and "must be 0, 1 or 2" in bad.stderr


def test_check_config_takes_the_file_as_other_commands_do(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from edge.cli import main
    demo = str(ROOT / "config" / "demo.toml")
    assert main(["check-config", "--config", demo]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["check-config", demo, "--config", demo]) == 0   # the same file twice is fine
    capsys.readouterr()
    for argv in (["check-config"], ["check-config", demo, "--config", str(tmp_path / "other.toml")]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "which config? kezek check-config FILE (or --config FILE)" in err
    assert "two config files given" in err


@pytest.mark.parametrize("section, expected", [
    ('[printers.kiosk]\ntype = "file"\npath = "t.bin"\npaper_mm = 3\n',
     "printers.kiosk.paper_mm: expected 58 or 80 (got 3)"),
    ('[announce.output]\ntype = "alsa"\ndevise = "x"\n',
     "announce.output.devise: unknown key; did you mean 'device'?"),
    ('[boards.buses.hall]\ntype = "fake"\n[[boards.buses.hall.boards]]\nrowz = 1\n',
     "boards.buses.hall.boards.0.rowz: unknown key; did you mean 'rows'?"),
    ('[printers.kiosk]\npath = "t.bin"\n',
     "printers.kiosk.type: required; one of usb, serial, network, file, fake"),
    ('[printers.kiosk]\ntype = "usbb"\n',
     "printers.kiosk.type: unknown type 'usbb'; one of usb, serial, network, file, fake"),
    ('[[gpio.buttons]]\npin = 5\n', "gpio.buttons.0.kind: required; one of ticket, operator, rating"),
])
def test_union_sections_name_the_keys_as_written(tmp_path: Path, section: str, expected: str) -> None:
    """Risk: pydantic's variant name in the path (printers.kiosk.file.paper_mm) is no key
    in the file, and a missing or wrong `type` gave pydantic's internal wording."""
    found = problems(tmp_path, BASE + "\n" + section)
    assert expected in found, found
    assert not any("discriminator" in p or "Input tag" in p for p in found), found


def test_utf8_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Windows Notepad saves UTF-8 with a BOM; TOML called it an invalid statement."""
    path = tmp_path / "notepad.toml"
    path.write_bytes(BASE.encode("utf-8-sig"))
    assert load_config(path).center.site == "t-01"


def test_every_cross_reference_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Risk: check-config stopped at the first problem between sections, so fixing a file
    took one run per mistake although the docs promise every problem."""
    text = (BASE.replace("docs = 2", "docs = 2, passports = 1")
            + '\n[[services]]\nid = "realty"\nnames = { kk = "Мүлік", ru = "Недвижимость" }\n'
              'prefix = "A"\n'
            + '\n[[windows]]\nnumber = 1\nservices = { realty = 1 }\n'
            + '\n[policies.services.cars]\ndaily_cap = 10\n'
            + '\n[console]\nprinter = "kiosk"\n')
    path = tmp_path / "center.toml"
    path.write_text(text, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "edge.cli", "check-config", str(path)],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert run.returncode == 1
    assert run.stderr.splitlines()[1:] == [
        "  - services.1.prefix: prefix 'A' is used by two services (also services.0.prefix)",
        "  - windows.0.services.passports: no service with id 'passports' (known: docs, realty)",
        "  - windows.1.number: window number 1 is used twice (also windows.0.number)",
        "  - policies.services.cars: no service with id 'cars' (known: docs, realty)",
        "  - console.printer: no printer named 'kiosk' in [printers] (known: none)",
    ], run.stderr
