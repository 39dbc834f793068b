"""Hardware config errors name the key path and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from edge.config import parse_config
from edge.config.boards import BoardsConfig
from edge.config.hardware import GpioConfig, check_hardware
from edge.errors import ConfigError

BASE: dict[str, Any] = {
    "center": {"site": "s1", "name": {"kk": "Орталық", "ru": "Центр"}},
    "services": [{"id": "docs", "names": {"kk": "Құжат", "ru": "Документы"}, "prefix": "A"}],
    "windows": [{"number": 1, "services": {"docs": 1}}],
}
CALL = {"kind": "operator", "pin": 17, "window": 1, "action": "call_next"}


def problems(**sections: Any) -> str:
    with pytest.raises(ConfigError) as e:
        parse_config({**BASE, **sections}, "site.toml")
    return "\n".join(e.value.problems)


@pytest.mark.parametrize("gpio, message", [
    ({"buttons": [{**CALL, "pin": 40}]},
     "gpio.buttons.0.pin: GPIO 40 does not exist on the Pi header; use a BCM number from 2 to 27"),
    ({"buttons": [{**CALL, "pin": 0}]}, "GPIO 0 is reserved for the HAT ID EEPROM"),
    ({"buttons": [CALL], "leds": [{"pin": 17, "role": "ready"}]},
     "gpio.leds.0.pin: GPIO 17 is already used by gpio.buttons.0.pin; give each button, LED and buzzer its own pin"),
    ({"buttons": [CALL, {**CALL, "action": "recall"}]},
     "gpio.buttons.1.pin: GPIO 17 is already used by gpio.buttons.0.pin"),
    ({"buttons": [CALL], "buzzers": {"desk": {"pin": 17}}},
     "gpio.buzzers.desk.pin: GPIO 17 is already used by gpio.buttons.0.pin"),
    ({"buttons": [{**CALL, "buzzer": "kiosk"}]},
     "gpio.buttons.0.buzzer: no buzzer named 'kiosk' in [gpio.buzzers] (known: none)"),
    ({"buttons": [{**CALL, "pull": "off"}]}, "active_high: required with pull = 'off'"),
    ({"buttons": [{**CALL, "action": "transfer"}]},
     "transfer_service: required when action or hold_action is 'transfer'"),
    ({"buttons": [{**CALL, "action": "dance"}]}, "gpio.buttons.0.action:"),
    ({"buttons": [{**CALL, "kind": "lever"}]}, "gpio.buttons.0"),
    ({"leds": [{"pin": 5, "role": "window_busy"}]}, "window: required for role = 'window_busy'"),
    ({"serial_inputs": [{"type": "keypad", "port": "/dev/ttyUSB0", "protocol": "frames"}]},
     "addresses: required with protocol = 'frames'"),
    ({"serial_inputs": [{"type": "keypad", "port": "/dev/ttyUSB0", "protocol": "frames",
                         "addresses": {"1": 1}, "keys": {"0x01": "recall"}}]},
     "key code '0x01' must be 0x08..0xFF and not 0x01/0x07"),
    ({"serial_inputs": [{"type": "scanner", "port": "/dev/ttyACM0"},
                        {"type": "keypad", "port": "/dev/ttyACM0"}]},
     "gpio.serial_inputs.1.port: '/dev/ttyACM0' is already used by gpio.serial_inputs.0"),
])
def test_gpio_config_errors(gpio, message):
    assert message in problems(gpio=gpio)


@pytest.mark.parametrize("boards, message", [
    ({"buses": {"hall": {"type": "serial", "port": "/dev/ttyUSB0",
                         "boards": [{"address": 1, "kind": "hall"}, {"address": 1, "kind": "hall"}]}}},
     "boards.buses.hall.boards.1.address: address 1 is also used by boards.buses.hall.boards.0; "
     "every board on one bus needs its own address"),
    ({"buses": {"hall": {"type": "serial", "port": "/dev/ttyUSB0", "codec": "alpha",
                         "boards": [{"address": 1, "kind": "hall", "charset": "cyrillic"}]}}},
     "boards.buses.hall.boards.0.charset: charset 'cyrillic', but the alpha codec of bus 'hall' "
     "sends 7-bit ASCII; use charset = 'latin'"),
    ({"buses": {"a": {"type": "serial", "port": "/dev/ttyUSB0", "boards": [{"address": 1, "kind": "hall"}]},
                "b": {"type": "serial", "port": "/dev/ttyUSB0", "boards": [{"address": 2, "kind": "hall"}]}}},
     "boards.buses.b.port: '/dev/ttyUSB0' is also used by bus 'a'"),
    ({"buses": {"a": {"type": "fake", "boards": [{"address": 1, "kind": "window"}]}}},
     "window: required for kind = 'window'"),
    ({"buses": {"a": {"type": "fake", "boards": [{"address": 1, "kind": "hall", "format": "{seat}"}]}}},
     "may only use {ticket} and {window}"),
    ({"buses": {"a": {"type": "fake", "boards": [{"address": 300, "kind": "hall"}]}}},
     "boards.buses.a.boards.0.address:"),
])
def test_boards_config_errors(boards, message):
    assert message in problems(boards=boards)


@pytest.mark.parametrize("gpio, boards, message", [
    ({"buttons": [{"kind": "ticket", "pin": 5, "service": "cars"}]}, {},
     "gpio.buttons.0.service: no service with id 'cars' (known: docs)"),
    ({"buttons": [{"kind": "ticket", "pin": 5, "service": "docs", "printer": "kiosk"}]}, {},
     "gpio.buttons.0.printer: no printer named 'kiosk' in [printers] (known: none)"),
    ({"buttons": [{**CALL, "window": 9}]}, {},
     "gpio.buttons.0.window: no window number 9 in [[windows]] (known: 1)"),
    ({}, {"buses": {"hall": {"type": "fake", "boards": [{"address": 1, "kind": "window", "window": 4}]}}},
     "boards.buses.hall.boards.0.window: no window number 4"),
])
def test_references_to_the_rest_of_the_config(gpio, boards, message):
    problems = check_hardware(GpioConfig.model_validate(gpio), BoardsConfig.model_validate(boards),
                              ["docs"], [1], [])
    assert any(message in p for p in problems), problems


def test_a_full_hardware_section_is_accepted():
    cfg = parse_config({**BASE, "gpio": {
        "pin_factory": "lgpio",
        "buttons": [{"kind": "ticket", "pin": 5, "service": "docs"},
                    {**CALL, "hold_action": "transfer", "transfer_service": "docs"},
                    {"kind": "rating", "pin": 6, "window": 1, "score": 5}],
        "leds": [{"pin": 23, "role": "ready"}, {"pin": 24, "role": "window_busy", "window": 1}],
        "buzzers": {"kiosk": {"pin": 12}},
        "serial_inputs": [{"type": "keypad", "port": "/dev/ttyUSB1", "protocol": "frames",
                           "addresses": {"3": 1}, "keys": {"0x41": "call_next", "66": "finish"}}],
    }, "boards": {"buses": {"hall": {"type": "serial", "port": "/dev/ttyUSB0", "codec": "alpha",
                                     "framing": "7E1",
                                     "boards": [{"address": 1, "kind": "hall", "rows": 3}]}}}})
    keypad = cfg.gpio.serial_inputs[0]
    assert keypad.key_table() == {0x41: "call_next", 66: "finish"}
    assert keypad.addresses == {3: 1}
    assert cfg.gpio.buzzer_for(None) == "kiosk"
