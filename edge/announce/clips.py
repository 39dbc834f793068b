"""Clip folders: load WAV clips, check they share one format, and render announcements."""

from __future__ import annotations

import io
import logging
import threading
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from edge.announce.phrase import CHIME, Clip, Pause, Segment
from edge.errors import KezekError

logger = logging.getLogger(__name__)

FIX = ("make a first set with `kezek clips --out DIR` or record it (names in "
       "docs/announce.md)")


@dataclass(frozen=True)
class AudioFormat:
    channels: int
    sampwidth: int   # bytes per sample
    rate: int

    def __str__(self) -> str:
        kind = {1: "mono", 2: "stereo"}.get(self.channels, f"{self.channels}-channel")
        return f"{self.rate} Hz {kind} {self.sampwidth * 8}-bit"

    @property
    def frame_bytes(self) -> int:
        return self.channels * self.sampwidth

    def silence(self, ms: int) -> bytes:
        frames = self.rate * ms // 1000
        # 8-bit WAV is unsigned (silence is 0x80); wider samples are signed (silence 0).
        fill = b"\x80" if self.sampwidth == 1 else b"\x00"
        return fill * (frames * self.frame_bytes)


@dataclass(frozen=True)
class LoadedClip:
    path: Path
    format: AudioFormat
    frames: bytes

    @property
    def nframes(self) -> int:
        return len(self.frames) // self.format.frame_bytes


class ClipError(KezekError):
    """A clip is missing, unreadable or in another format than the rest."""

    def __init__(self, problems: list[str],
                 clips: "list[tuple[str | None, str]] | None" = None) -> None:
        self.problems = problems
        self.clips = clips or []     # (language, name) of the clips that failed, when known
        super().__init__("; ".join(problems))


def read_clip(path: Path) -> LoadedClip:
    """Read one PCM WAV file; raises ClipError naming the file and the fix."""
    try:
        with wave.open(str(path), "rb") as w:
            fmt = AudioFormat(w.getnchannels(), w.getsampwidth(), w.getframerate())
            frames = w.readframes(w.getnframes())
    except FileNotFoundError:
        raise ClipError([f"missing clip {path}: {FIX}"]) from None
    except (wave.Error, EOFError) as e:
        raise ClipError([f"{path} is not a plain PCM WAV file ({e}); convert it, e.g. "
                         f"`sox IN -b 16 -c 1 -r 22050 {path}`"]) from None
    except OSError as e:
        raise ClipError([f"cannot read clip {path}: {e.strerror}"]) from None
    if fmt.sampwidth not in (1, 2, 3, 4) or fmt.channels not in (1, 2):
        raise ClipError([f"{path}: unsupported format {fmt}; use 16-bit mono, e.g. "
                         f"`sox IN -b 16 -c 1 -r 22050 {path}`"])
    return LoadedClip(path, fmt, frames)


class ClipSet:
    """The chime plus one folder of clips per language, all in one audio format.

    Clips named at start are loaded (and checked) then; any other clip is loaded the first
    time it is needed (after a reconfigure adds a service), with the same checks.
    """

    def __init__(self, folders: dict[str, Path], chime: Path | None) -> None:
        self.folders = {lang: Path(p) for lang, p in folders.items()}
        self.chime_path = Path(chime) if chime is not None else None
        self.format: AudioFormat | None = None
        self._format_source: Path | None = None
        self._clips: dict[tuple[str | None, str], LoadedClip] = {}
        self._lock = threading.Lock()

    def path(self, lang: str | None, name: str) -> Path:
        if lang is None:
            if self.chime_path is None:
                raise ClipError(["no chime configured (announce.chime)"])
            return self.chime_path
        try:
            return self.folders[lang] / f"{name}.wav"
        except KeyError:
            raise ClipError([f"no clip folder for language {lang!r} (announce.folders.{lang})"]) from None

    def preload(self, needed: Mapping[str, Iterable[str]]) -> None:
        """Load the chime and every needed clip; raises ClipError listing all problems."""
        failed = self.load_all(needed)
        if failed:
            raise ClipError([p for problems in failed.values() for p in problems], list(failed))

    def load_all(self, needed: Mapping[str, Iterable[str]],
                 ) -> dict[tuple[str | None, str], list[str]]:
        """Load the chime and every needed clip; (language, name) -> problems of each that
        failed (the chime first, then each language's clips in number order)."""
        keys: list[tuple[str | None, str]] = []
        if self.chime_path is not None:
            keys.append((None, CHIME))
        for lang, names in needed.items():
            keys.extend((lang, n) for n in sorted(names, key=_clip_order))
        failed: dict[tuple[str | None, str], list[str]] = {}
        for key in keys:
            try:
                self.get(*key)
            except ClipError as e:
                failed[key] = e.problems
        return failed

    def get(self, lang: str | None, name: str) -> LoadedClip:
        key = (lang, name)
        with self._lock:
            clip = self._clips.get(key)
            if clip is not None:
                return clip
            try:
                clip = read_clip(self.path(lang, name))
            except ClipError as e:
                raise ClipError(e.problems, [key]) from None
            if self.format is None:
                self.format, self._format_source = clip.format, clip.path
            elif clip.format != self.format:
                raise ClipError([
                    f"{clip.path} is {clip.format} but {self._format_source} is {self.format}: "
                    f"all clips and the chime must share one format; convert it with "
                    f"`sox IN -r {self.format.rate} -c {self.format.channels} "
                    f"-b {self.format.sampwidth * 8} {clip.path}`"], [key])
            self._clips[key] = clip
            return clip

    @property
    def loaded(self) -> int:
        return len(self._clips)


def render(segments: Sequence[Segment], clips: ClipSet) -> bytes:
    """Concatenate the clips and pauses into one WAV file (bytes)."""
    parts: list[bytes] = []
    for seg in segments:
        if isinstance(seg, Clip):
            parts.append(clips.get(seg.lang, seg.name).frames)
        elif isinstance(seg, Pause):
            if clips.format is None:
                continue  # a pause before any clip is loaded cannot happen in a plan
            parts.append(clips.format.silence(seg.ms))
    fmt = clips.format
    if fmt is None:
        raise ClipError(["nothing to play: no clip loaded"])
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(fmt.channels)
        w.setsampwidth(fmt.sampwidth)
        w.setframerate(fmt.rate)
        w.writeframes(b"".join(parts))
    return buf.getvalue()


def _clip_order(name: str) -> tuple[int, int, str]:
    # Numbers in numeric order so error lists read naturally (1, 2, ... 10, not 1, 10, 2).
    return (0, int(name), "") if name.isdigit() else (1, 0, name)
