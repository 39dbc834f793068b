"""`kezek clips`: a first clip set made offline with espeak-ng loads for the demo center."""

from __future__ import annotations

import shutil
import wave

import pytest

from edge.announce.generate import clip_texts, trim_silence
from edge.announce.service import load_clips
from edge.cli.clips import register


def run_clips(argv: list[str]) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="kezek")
    register(parser.add_subparsers())
    args = parser.parse_args(["clips", *argv])
    return args.func(args)


def espeak_or_fail() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: install it with `apt-get install espeak-ng`")


@pytest.mark.heavy(seconds=15)
def test_generated_set_loads_and_speaks_for_the_demo_center(tmp_path, demo_config, capsys):
    """Risk: the demo is silent because the clip set is incomplete or in mixed formats."""
    espeak_or_fail()
    out = tmp_path / "clips"
    assert run_clips(["--out", str(out), "--lang", "kk,ru"]) == 0
    printed = capsys.readouterr().out
    assert "voices: kk=kk, ru=ru" in printed
    assert f'kk = "{out / "kk"}"' in printed
    from edge.config.announce import AnnounceConfig
    cfg = AnnounceConfig(enabled=True, folders={"kk": out / "kk", "ru": out / "ru"},
                         chime=out / "chime.wav", output={"type": "fake"})
    clips = load_clips(cfg, demo_config)
    assert clips.format is not None and clips.format.channels == 1
    assert clips.format.sampwidth == 2
    # Every clip has sound in it (espeak-ng did speak) and the script is written down.
    with wave.open(str(out / "ru" / "40.wav"), "rb") as r:
        assert r.getnframes() > r.getframerate() // 10
    assert "40.wav\tсорок\n" in (out / "ru" / "clips.txt").read_text("utf-8")
    assert "40.wav\tқырық\n" in (out / "kk" / "clips.txt").read_text("utf-8")
    # A second run keeps what is there (a recorded voice is never overwritten by default).
    (out / "ru" / "ticket.wav").write_bytes((out / "ru" / "window.wav").read_bytes())
    assert run_clips(["--out", str(out), "--lang", "ru"]) == 0
    assert (out / "ru" / "ticket.wav").read_bytes() == (out / "ru" / "window.wav").read_bytes()


def test_unknown_voice_says_how_to_fall_back(tmp_path, capsys):
    espeak_or_fail()
    assert run_clips(["--out", str(tmp_path), "--lang", "ru", "--voice", "ru=zz-nonexistent"]) == 1
    assert "espeak-ng has no voice 'zz-nonexistent' for ru" in capsys.readouterr().err


def test_bad_arguments_are_explained(tmp_path, capsys):
    assert run_clips(["--out", str(tmp_path), "--lang", "de"]) == 2
    assert "--lang takes kk, ru, en" in capsys.readouterr().err
    assert run_clips(["--out", str(tmp_path), "--voice", "kk"]) == 2
    assert "--voice takes LANG=VOICE" in capsys.readouterr().err


@pytest.mark.parametrize("n, kk, ru", [
    (0, "нөл", "ноль"), (11, "он бір", "одиннадцать"), (40, "қырық", "сорок"),
    (200, "екі жүз", "двести"), (1000, "мың", "тысяча"), (2000, "екі мың", "две тысячи"),
    (5000, "бес мың", "пять тысяч"),
])
def test_number_words(n, kk, ru):
    assert clip_texts("kk")[str(n)] == kk
    assert clip_texts("ru")[str(n)] == ru


def test_trim_silence_keeps_the_word_and_a_short_margin():
    import io
    from array import array
    samples = array("h", [0] * 1000 + [5000] * 200 + [0] * 1000)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(10000)
        w.writeframes(samples.tobytes())
    trimmed = trim_silence(buf.getvalue(), keep_ms=10)
    with wave.open(io.BytesIO(trimmed), "rb") as r:
        assert r.getnframes() == 200 + 2 * 100
