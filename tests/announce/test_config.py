"""Config sections of the hall and the announcer: errors name the key and the fix."""

from __future__ import annotations

import copy

import pytest

from edge.config import parse_config
from edge.errors import ConfigError


@pytest.fixture
def base(demo_config) -> dict:
    return demo_config.model_dump(mode="json", exclude_none=True)


def problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config(data, "center.toml")
    return err.value.problems


def test_announce_enabled_without_folders(base):
    data = copy.deepcopy(base)
    data["announce"] = {"enabled": True, "languages": ["kk", "ru"], "folders": {"kk": "/c/kk"}}
    [msg] = problems(data)
    assert msg.startswith("announce.folders: no clip folder for ru")
    assert "kezek clips --out" in msg


def test_announce_unknown_output_type(base):
    data = copy.deepcopy(base)
    data["announce"] = {"output": {"type": "bluetooth"}}
    [msg] = problems(data)
    assert msg.startswith("announce.output")
    assert "alsa" in msg and "file" in msg


def test_announce_typo_is_refused(base):
    data = copy.deepcopy(base)
    data["announce"] = {"enabeld": True}
    assert problems(data) == ["announce.enabeld: unknown key; did you mean 'enabled'?"]


def test_hall_bind_must_be_an_address(base):
    data = copy.deepcopy(base)
    data["hall"] = {"enabled": True, "bind": "tv.local"}
    [msg] = problems(data)
    assert msg.startswith("hall.bind: expected an IP address")


def test_hall_bounds(base):
    data = copy.deepcopy(base)
    data["hall"] = {"port": 70000, "min_show_s": 0.1}
    found = problems(data)
    assert any(p.startswith("hall.port:") for p in found)
    assert any(p.startswith("hall.min_show_s:") for p in found)


def test_demo_like_sections_parse(base, tmp_path):
    data = copy.deepcopy(base)
    data["hall"] = {"enabled": True, "bind": "127.0.0.1", "port": 8080}
    data["announce"] = {"enabled": True, "chime": "clips/chime.wav",
                        "folders": {"kk": "clips/kk", "ru": "clips/ru"},
                        "output": {"type": "file", "dir": str(tmp_path)}}
    cfg = parse_config(data)
    assert cfg.hall.port == 8080 and cfg.announce.output.type == "file"
    assert cfg.announce.phrase_for("kk") == ("ticket", "letter", "number", "window",
                                             "window_number")
