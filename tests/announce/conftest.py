"""Fixtures for announcement tests: synthetic clip folders whose clips can be told apart."""

from __future__ import annotations

import io
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from edge.announce.phrase import all_number_clips, letter_clip
from edge.config.announce import AnnounceConfig

RATE = 8000


@dataclass
class ClipDir:
    """A clip set where every clip is a constant sample value: rendered audio can be read
    back as the sequence of clips it was made from. Lengths differ per clip too."""

    root: Path
    ids: dict[tuple[str | None, str], int]   # (lang, name) -> sample value

    def folder(self, lang: str) -> Path:
        return self.root / lang

    @property
    def chime(self) -> Path:
        return self.root / "chime.wav"

    def frames(self, lang: str | None, name: str) -> int:
        return 40 + self.ids[(lang, name)] % 50

    def name_of(self, value: int) -> tuple[str | None, str]:
        return next(k for k, v in self.ids.items() if v == value)

    @staticmethod
    def write_wav(path: Path, value: int, frames: int, **fmt: Any) -> None:
        write_wav(path, value, frames, **fmt)

    @staticmethod
    def runs(wav: bytes) -> tuple[tuple[int, int, int], list[tuple[int, int]]]:
        return runs(wav)

    def config(self, **over: Any) -> AnnounceConfig:
        base: dict[str, Any] = {"enabled": True, "languages": ["kk", "ru"],
                                "folders": {"kk": str(self.folder("kk")),
                                            "ru": str(self.folder("ru"))},
                                "chime": str(self.chime), "word_gap_ms": 5,
                                "language_gap_ms": 20, "chime_gap_ms": 10,
                                "output": {"type": "fake"}}
        base.update(over)
        return AnnounceConfig(**base)


def write_wav(path: Path, value: int, frames: int, *, rate: int = RATE, channels: int = 1,
              sampwidth: int = 2) -> None:
    samples = array("h", [value] * (frames * channels))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(sampwidth)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


def runs(wav: bytes) -> tuple[tuple[int, int, int], list[tuple[int, int]]]:
    """(channels, sampwidth, rate) and the (sample value, length) runs of a mono WAV."""
    with wave.open(io.BytesIO(wav), "rb") as r:
        fmt = (r.getnchannels(), r.getsampwidth(), r.getframerate())
        samples = array("h", r.readframes(r.getnframes()))
    out: list[tuple[int, int]] = []
    for s in samples:
        if out and out[-1][0] == s:
            out[-1] = (s, out[-1][1] + 1)
        else:
            out.append((s, 1))
    return fmt, out


@pytest.fixture
def clip_dir(tmp_path: Path) -> ClipDir:
    names = ["ticket", "window"] + [str(n) for n in all_number_clips()] + \
        [letter_clip(x) for x in "ABC"]
    ids: dict[tuple[str | None, str], int] = {(None, "chime"): 1}
    for lang in ("kk", "ru"):
        for name in names:
            ids[(lang, name)] = len(ids) + 1
    cd = ClipDir(tmp_path / "clips", {k: v * 10 for k, v in ids.items()})
    for (lang, name), value in cd.ids.items():
        path = cd.chime if lang is None else cd.folder(lang) / f"{name}.wav"
        write_wav(path, value, cd.frames(lang, name))
    return cd


class _Configured:
    """The harness's controller running `config` as far as a component's build can tell
    (the queue itself runs the harness's config)."""

    def __init__(self, controller: Any, config: Any) -> None:
        self._controller = controller
        self.config = self.file_config = config

    def __getattr__(self, name: str) -> Any:
        return getattr(self._controller, name)


@pytest.fixture
def announce_ctx(harness: Any, tmp_path: Path) -> Iterator[Any]:
    """An AppContext on the harness's real controller with `config` running, for build(ctx)."""
    import logging

    from edge.component import AppContext
    yield lambda config: AppContext(controller=_Configured(harness.controller, config),
                                    clock=harness.clock, state_dir=tmp_path, db_path=tmp_path / "x.db",
                                    stdout=io.StringIO(), logger=logging.getLogger("test"))
