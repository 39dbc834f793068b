"""[kiosk] and the kiosk's devices in the config: strict, each problem named with its fix."""

from __future__ import annotations

from typing import Any

import pytest

from edge.config import parse_config
from edge.errors import ConfigError
from tests.conftest import demo_config_dict


def problems(**sections: Any) -> list[str]:
    data = demo_config_dict()
    data.update(sections)
    with pytest.raises(ConfigError) as e:
        parse_config(data, "kezek.toml")
    return e.value.problems


def test_defaults_are_the_pis_own_screen_in_kazakh_and_russian():
    data = demo_config_dict()
    data.pop("kiosk")
    cfg = parse_config(data, "demo without the kiosk").kiosk
    assert (cfg.enabled, cfg.bind, cfg.port, cfg.allow) == (False, "127.0.0.1", 8081,
                                                            ["127.0.0.1", "::1"])
    assert cfg.languages == ["kk", "ru"] and cfg.printer is None
    assert cfg.allows("127.0.0.1") and cfg.allows("::ffff:127.0.0.1")
    assert not cfg.allows("10.0.5.20") and not cfg.allows("not an address")


@pytest.mark.parametrize("kiosk, expected", [
    ({"languages": ["ru"]}, "kiosk.languages: List should have at least 2 items"),
    ({"languages": ["kk", "en"]}, "kiosk.languages: the kiosk speaks Kazakh and Russian"),
    ({"languages": ["kk", "ru", "de"]}, "kiosk.languages.2"),
    ({"allow": ["10.0.5.300"]}, "kiosk.allow: '10.0.5.300' is not an IP address or network"),
    ({"bind": "kiosk.local"}, "kiosk.bind: expected an IP address"),
    ({"port": 80}, "kiosk.port: port 80 needs root privileges"),
    ({"printer": "lobby"}, "kiosk.printer: no printer named 'lobby' in [printers] (known: kiosk)"),
    ({"services": ["docs", "passports"]}, "kiosk.services.1: no service with id 'passports'"),
    ({"categories": ["normal", "veteran"]}, "kiosk.categories.1"),
    ({"enabled": True, "port": 8080}, "kiosk.port: port 8080 is also the hall screen's"),
    ({"checkin": True}, "kiosk.checkin: unknown key; did you mean 'checkin_iin'?"),
])
def test_a_wrong_kiosk_section_names_the_key(kiosk, expected):
    found = problems(kiosk=kiosk)
    assert any(p.startswith(expected) for p in found), found


def test_the_kiosks_devices_are_checked_with_the_rest():
    data = demo_config_dict()
    gpio = data["gpio"]
    gpio["serial_inputs"] = [
        {"type": "numpad", "port": "/dev/ttyUSB1", "printer": "lobby", "idle_s": 1},
        {"type": "scanner", "port": "/dev/ttyUSB2", "printer": "kiosk", "iin": "sometimes"},
    ]
    with pytest.raises(ConfigError) as e:
        parse_config(data, "kezek.toml")
    found = e.value.problems
    assert any(p.startswith("gpio.serial_inputs.0.idle_s:") for p in found), found
    assert any(p.startswith("gpio.serial_inputs.0.printer: no printer named 'lobby'")
               for p in found), found
    assert any(p.startswith("gpio.serial_inputs.1.iin:") for p in found), found


def test_a_numpad_a_switched_scanner_and_a_notice_board_load():
    data = demo_config_dict()
    data["gpio"]["serial_inputs"] = [
        {"type": "numpad", "port": "/dev/ttyUSB1", "printer": "kiosk"},
        {"type": "scanner", "port": "/dev/ttyUSB2", "printer": "kiosk", "iin": True}]
    data["boards"]["buses"]["hall"]["boards"][0]["notices"] = True
    data["kiosk"] = {"enabled": True, "printer": "kiosk", "services": ["docs", "benefits"],
                     "categories": ["normal", "pensioner"]}
    cfg = parse_config(data, "kezek.toml")
    numpad, scanner = cfg.gpio.serial_inputs
    assert numpad.type == "numpad" and numpad.echo is True and numpad.idle_s == 20
    assert scanner.iin is True
    assert cfg.boards.buses["hall"].boards[0].notices is True
    ticket_button = next(b for b in cfg.gpio.buttons if b.kind == "ticket")
    assert ticket_button.min_interval_s == 5.0, "one ticket per visitor's burst of presses"
