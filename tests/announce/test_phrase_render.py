"""What is said for a call, and the WAV rendered from the clips: sequence, format, frames."""

from __future__ import annotations

import io
import wave
import pytest

from edge.announce.clips import ClipSet, render
from edge.announce.phrase import Clip, Pause, number_parts, parse_label, plan, required_clips
from edge.announce.outputs import FakePlayer
from edge.announce.service import Announcement, AnnounceService, load_clips
from edge.errors import ConfigError



@pytest.mark.parametrize("n, parts", [
    (0, [0]), (1, [1]), (7, [7]), (10, [10]), (15, [15]), (19, [19]), (20, [20]),
    (42, [40, 2]), (99, [90, 9]), (100, [100]), (101, [100, 1]), (115, [100, 15]),
    (240, [200, 40]), (999, [900, 90, 9]), (1000, [1000]), (4215, [4000, 200, 15]),
    (9999, [9000, 900, 90, 9]),
])
def test_number_parts(n, parts):
    assert number_parts(n) == parts


@pytest.mark.parametrize("label, parsed", [("A-042", ("A", 42)), ("B-001", ("B", 1)),
                                           ("Z-9999", ("Z", 9999)), ("C7", ("C", 7))])
def test_parse_label(label, parsed):
    assert parse_label(label) == parsed


@pytest.mark.parametrize("label", ["", "42", "a-042", "AB-1", "A-12345", "A-04 2"])
def test_parse_label_rejects_other_text(label):
    with pytest.raises(ValueError, match="not a ticket label"):
        parse_label(label)


def test_plan_is_chime_then_kazakh_then_russian():
    segments = plan("A-042", 5, ["kk", "ru"],
                    {"kk": ["ticket", "letter", "number", "window", "window_number"],
                     "ru": ["ticket", "letter", "number", "window", "window_number"]},
                    chime=True, chime_gap_ms=250, word_gap_ms=60, language_gap_ms=500)
    words = ["ticket", "letter_A", "40", "2", "window", "5"]

    def spoken(lang):
        out = []
        for i, w in enumerate(words):
            if i:
                out.append(Pause(60))
            out.append(Clip(lang, w))
        return out

    assert segments == ([Clip(None, "chime"), Pause(250)] + spoken("kk") + [Pause(500)]
                        + spoken("ru"))


def test_plan_follows_configured_order_and_words():
    segments = plan("B-007", 12, ["ru"], {"ru": ["word:please", "ticket", "letter", "number",
                                                 "word:to_window", "window_number"]},
                    chime=False, chime_gap_ms=0, word_gap_ms=0, language_gap_ms=0)
    assert [s.name for s in segments if isinstance(s, Clip)] == \
        ["please", "ticket", "letter_B", "7", "to_window", "12"]


def test_required_clips_cover_every_ticket_and_window():
    need = required_clips(["ticket", "letter", "number", "window", "window_number"],
                          ["A", "B"], [(1, 999), (1, 30)], [1, 2, 14])
    assert {"ticket", "window", "letter_A", "letter_B"} <= need
    assert {str(n) for n in range(1, 20)} <= need
    assert "0" not in need and "1000" not in need
    assert {"900", "90", "20"} <= need


def test_rendered_wav_has_the_clips_in_order_with_the_pauses(clip_dir):
    """Risk: the hall hears the window before the number, or words run together."""
    cfg = clip_dir.config()
    clips = ClipSet(cfg.folders, cfg.chime)
    service = AnnounceService(cfg, clips, FakePlayer())
    wav = service.render(Announcement("A-042", 3))
    fmt, pieces = clip_dir.runs(wav)
    assert fmt == (1, 2, 8000)
    expected: list[tuple[int, int]] = [(clip_dir.ids[(None, "chime")],
                                        clip_dir.frames(None, "chime")), (0, 80)]
    for i, lang in enumerate(["kk", "ru"]):
        if i:
            expected.append((0, 160))           # 20 ms between languages at 8 kHz
        for j, name in enumerate(["ticket", "letter_A", "40", "2", "window", "3"]):
            if j:
                expected.append((0, 40))        # 5 ms between words
            expected.append((clip_dir.ids[(lang, name)], clip_dir.frames(lang, name)))
    assert pieces == expected
    with wave.open(io.BytesIO(wav), "rb") as r:
        assert r.getnframes() == sum(n for _, n in expected)


def test_missing_clip_is_a_config_error_naming_the_file_and_the_fix(clip_dir, demo_config):
    """Risk: the service starts and stays silent (or fails mid-day) for a missing file."""
    (clip_dir.folder("ru") / "letter_B.wav").unlink()
    (clip_dir.folder("kk") / "17.wav").unlink()
    with pytest.raises(ConfigError) as err:
        load_clips(clip_dir.config(), demo_config)
    text = str(err.value)
    assert f"missing clip {clip_dir.folder('ru') / 'letter_B.wav'}" in text
    assert f"missing clip {clip_dir.folder('kk') / '17.wav'}" in text
    assert "kezek clips --out DIR" in text


def test_missing_folder_is_one_clear_line(clip_dir, demo_config, tmp_path):
    cfg = clip_dir.config(folders={"kk": str(clip_dir.folder("kk")),
                                   "ru": str(tmp_path / "nowhere")})
    with pytest.raises(ConfigError) as err:
        load_clips(cfg, demo_config)
    assert err.value.problems == [
        f"announce.folders.ru: folder {tmp_path / 'nowhere'} does not exist; make a first "
        f"set with `kezek clips --out DIR` or record the clips (names in docs/announce.md)"]


def test_clip_in_another_format_is_refused_with_the_conversion(clip_dir, demo_config):
    """Risk: a clip recorded at 44.1 kHz plays as a chipmunk or noise in the middle."""
    odd = clip_dir.folder("kk") / "5.wav"
    clip_dir.write_wav(odd, 1234, 100, rate=44100, channels=2)
    with pytest.raises(ConfigError) as err:
        load_clips(clip_dir.config(), demo_config)
    text = str(err.value)
    assert f"{odd} is 44100 Hz stereo 16-bit but {clip_dir.chime} is 8000 Hz mono 16-bit" in text
    assert f"sox IN -r 8000 -c 1 -b 16 {odd}" in text


def test_not_a_wav_is_refused(clip_dir, demo_config):
    bad = clip_dir.folder("ru") / "ticket.wav"
    bad.write_bytes(b"ID3\x03 this is an mp3")
    with pytest.raises(ConfigError, match=f"{bad} is not a plain PCM WAV file"):
        load_clips(clip_dir.config(), demo_config)


def test_clips_load_for_the_demo_center(clip_dir, demo_config):
    clips = load_clips(clip_dir.config(), demo_config)
    # chime + per language: ticket, window, 3 letters, 0-19 minus 0, 8 tens, 9 hundreds
    assert clips.loaded == 1 + 2 * (2 + 3 + 19 + 8 + 9)


def test_render_loads_a_clip_not_preloaded(clip_dir):
    """After a reconfigure adds a service, its letter is loaded (and checked) when needed."""
    cfg = clip_dir.config()
    clips = ClipSet(cfg.folders, cfg.chime)
    wav = render([Clip("ru", "letter_C")], clips)
    _, pieces = clip_dir.runs(wav)
    assert pieces == [(clip_dir.ids[("ru", "letter_C")], clip_dir.frames("ru", "letter_C"))]


def test_unknown_phrase_token_is_a_config_error():
    from edge.config.announce import AnnounceConfig
    from pydantic import ValidationError
    with pytest.raises(ValidationError, match="phrase.kk.1"):
        AnnounceConfig(phrase={"kk": ["ticket", "numbr"]})
