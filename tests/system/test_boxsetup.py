"""install.sh's Python steps: the sound output checked, [announce] wired, the hall's address."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from edge.cli import main
from edge.config import load_config
from edge.system.boxsetup import SetupError, audio_device, set_keys, sound_cards, wire_announce

ROOT = Path(__file__).resolve().parents[2]
PI4_CARDS = """\
 0 [vc4hdmi0       ]: vc4-hdmi - vc4-hdmi-0
                      vc4-hdmi-0
 1 [vc4hdmi1       ]: vc4-hdmi - vc4-hdmi-1
                      vc4-hdmi-1
 2 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones
                      bcm2835 Headphones
"""


def test_audio_choices_map_to_the_pis_cards_and_are_checked(tmp_path: Path) -> None:
    cards_file = tmp_path / "cards"
    cards_file.write_text(PI4_CARDS)
    cards = sound_cards(cards_file)
    assert [c[0] for c in cards] == ["vc4hdmi0", "vc4hdmi1", "Headphones"]
    assert audio_device("hdmi", cards) == "default:CARD=vc4hdmi0"
    assert audio_device("jack", cards) == "default:CARD=Headphones"
    assert audio_device("plughw:CARD=Headphones,DEV=0", cards) == "plughw:CARD=Headphones,DEV=0"
    with pytest.raises(SetupError, match=r"no card 'USB' here \(cards: vc4hdmi0"):
        audio_device("plughw:CARD=USB", cards)
    with pytest.raises(SetupError, match="no HDMI sound card on this box .cards: none"):
        audio_device("hdmi", [])
    with pytest.raises(SetupError, match="an ALSA device name"):
        audio_device("hw 0; rm -rf /", cards)
    assert audio_device("jack", None) == "default:CARD=Headphones"  # an image: not checked


def box_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "center.toml"
    path.write_text(text, encoding="utf-8")
    return path


def demo_without_announce() -> str:
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    start = text.index("# Announcements:")
    end = text.index("# The day's policies")
    return text[:start] + text[end:]


def test_a_config_without_announce_gets_the_clip_set_and_the_device(tmp_path: Path) -> None:
    text = demo_without_announce()
    wiring = wire_announce(text, Path("/var/lib/kezek/clips"), "default:CARD=vc4hdmi0", ["kk", "ru"])
    assert wiring.clips_wanted and wiring.text.startswith(text.rstrip("\n"))
    path = box_config(tmp_path, wiring.text)
    config = load_config(path)
    assert config.announce.enabled
    assert str(config.announce.folders["ru"]) == "/var/lib/kezek/clips/ru"
    assert config.announce.output.device == "default:CARD=vc4hdmi0"  # type: ignore[union-attr]
    # Idempotent: wiring the wired file again changes nothing.
    again = wire_announce(wiring.text, Path("/var/lib/kezek/clips"), "default:CARD=vc4hdmi0",
                          ["kk", "ru"])
    assert again.text == wiring.text and again.said == ["announce: kept as the config has it"]


def test_an_existing_announce_keeps_its_clips_and_comments_only_the_device_changes(
        tmp_path: Path) -> None:
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    wiring = wire_announce(text, Path("/var/lib/kezek/clips"), "default:CARD=Headphones", ["kk"])
    assert wiring.said == ["announce: output set to ALSA device default:CARD=Headphones"]
    assert not wiring.clips_wanted  # the demo's own clips folder
    data = tomllib.loads(wiring.text)
    assert data["announce"]["folders"] == {"kk": "clips/kk", "ru": "clips/ru"}
    assert data["announce"]["output"] == {"type": "alsa", "device": "default:CARD=Headphones"}
    assert "# Announcements: with no clips folder" in wiring.text  # the center's comments stay
    assert len(wiring.text.splitlines()) == len(text.splitlines())


def test_announcements_turned_off_stay_off(tmp_path: Path) -> None:
    text = demo_without_announce() + "\n[announce]\nenabled = false\n"
    wiring = wire_announce(text, Path("/var/lib/kezek/clips"), "default", ["kk"])
    assert wiring.text == text and not wiring.clips_wanted and "off in the config" in wiring.said[0]


def test_a_value_that_cannot_be_set_on_one_line_is_refused() -> None:
    text = '[announce]\nenabled = true\n[announce.output]\ntype = "alsa"\n'
    with pytest.raises(SetupError, match="set it by hand"):
        set_keys(text, "announce", {"output": '{ type = "alsa", device = "x" }'}, "")


def test_the_commands_install_sh_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = box_config(tmp_path, demo_without_announce())
    out = tmp_path / "wired.toml"
    assert main(["box", "wire-announce", str(path), "--out", str(out), "--clips",
                 str(tmp_path / "clips"), "--device", "null"]) == 0
    printed = capsys.readouterr().out
    assert "clips: wanted" in printed and "output null" in printed
    assert load_config(out).announce.output.device == "null"  # type: ignore[union-attr]
    assert main(["box", "hall-url", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "http://127.0.0.1:8080/"
    no_hall = box_config(tmp_path, demo_without_announce().replace(
        "[hall]\nenabled = true", "[hall]\nenabled = false"))
    assert main(["box", "hall-url", str(no_hall)]) == 3
    assert "the TV would have nothing to show" in capsys.readouterr().err
    assert main(["box", "audio", "hdmi", "--cards", str(tmp_path / "none")]) == 1
    assert "no HDMI sound card" in capsys.readouterr().err
