"""What to say for a call: the ordered list of clips and pauses, per language (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence, Union

# Clip names are file names without ".wav" in a language's folder (docs/announce.md).
TICKET = "ticket"
WINDOW = "window"
CHIME = "chime"

_LABEL = re.compile(r"^([A-Z])-?(\d{1,4})$")


@dataclass(frozen=True)
class Clip:
    """One recorded clip: `lang` None means the shared chime."""

    lang: str | None
    name: str


@dataclass(frozen=True)
class Pause:
    ms: int


Segment = Union[Clip, Pause]


def letter_clip(letter: str) -> str:
    return f"letter_{letter.upper()}"


def number_parts(n: int) -> list[int]:
    """Split a number into the numbers that have their own clip: 4215 -> [4000, 200, 15].

    Kazakh and Russian both say a number as thousands, hundreds, tens and units (with
    11-19 as single words), so one decomposition serves both: Russian "двести" and
    Kazakh "екі жүз" are each one clip named 200.
    """
    if not 0 <= n <= 9999:
        raise ValueError(f"cannot speak {n}: numbers 0-9999 have clips")
    if n == 0:
        return [0]
    parts: list[int] = []
    for unit in (1000, 100):
        if n >= unit:
            parts.append(n // unit * unit)
            n %= unit
    if n >= 20:
        parts.append(n // 10 * 10)
        n %= 10
    if n:
        parts.append(n)
    return parts


def all_number_clips() -> list[int]:
    """Every number with its own clip: 0-19, tens 20-90, hundreds 100-900, thousands."""
    return (list(range(20)) + list(range(20, 100, 10)) + list(range(100, 1000, 100))
            + list(range(1000, 10000, 1000)))


def parse_label(label: str) -> tuple[str, int]:
    """'A-042' -> ('A', 42). Raises ValueError for anything else."""
    m = _LABEL.match(label.strip())
    if not m:
        raise ValueError(f"not a ticket label like 'A-042': {label!r}")
    return m.group(1), int(m.group(2))


def phrase_clips(tokens: Sequence[str], letter: str, number: int, window: int) -> list[str]:
    """Clip names for one language's phrase, e.g. ticket, letter_A, 40, 2, window, 5."""
    names: list[str] = []
    for token in tokens:
        if token == "ticket":
            names.append(TICKET)
        elif token == "window":
            names.append(WINDOW)
        elif token == "letter":
            names.append(letter_clip(letter))
        elif token == "number":
            names.extend(str(p) for p in number_parts(number))
        elif token == "window_number":
            names.extend(str(p) for p in number_parts(window))
        elif token.startswith("word:"):
            names.append(token.removeprefix("word:"))
        else:
            raise ValueError(f"unknown phrase token {token!r}")
    return names


def plan(label: str, window: int, languages: Sequence[str],
         phrases: dict[str, Sequence[str]], *, chime: bool, chime_gap_ms: int,
         word_gap_ms: int, language_gap_ms: int) -> list[Segment]:
    """The whole announcement: chime, then the phrase in each language, with pauses."""
    letter, number = parse_label(label)
    out: list[Segment] = []
    if chime:
        out.append(Clip(None, CHIME))
        if chime_gap_ms:
            out.append(Pause(chime_gap_ms))
    for i, lang in enumerate(languages):
        if i and language_gap_ms:
            out.append(Pause(language_gap_ms))
        for j, name in enumerate(phrase_clips(phrases[lang], letter, number, window)):
            if j and word_gap_ms:
                out.append(Pause(word_gap_ms))
            out.append(Clip(lang, name))
    return out


def required_clips(tokens: Sequence[str], prefixes: Iterable[str],
                   ranges: Iterable[tuple[int, int]], windows: Iterable[int]) -> set[str]:
    """Every clip a language needs to speak any ticket of these services at these windows."""
    needed: set[str] = set()
    numbers: set[int] = set()
    for lo, hi in ranges:
        for n in range(lo, hi + 1):
            numbers.update(number_parts(n))
    window_numbers: set[int] = set()
    for w in windows:
        window_numbers.update(number_parts(w))
    for token in tokens:
        if token == "ticket":
            needed.add(TICKET)
        elif token == "window":
            needed.add(WINDOW)
        elif token == "letter":
            needed.update(letter_clip(p) for p in prefixes)
        elif token == "number":
            needed.update(str(n) for n in numbers)
        elif token == "window_number":
            needed.update(str(n) for n in window_numbers)
        elif token.startswith("word:"):
            needed.add(token.removeprefix("word:"))
    return needed
