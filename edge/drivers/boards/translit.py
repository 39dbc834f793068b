"""Text for boards that cannot draw every letter: Kazakh and Russian fall back step by step.

kazakh (KZ-1048) draws all; cyrillic (CP1251) lacks ә ғ қ ң ө ұ ү һ, shown as Russian
look-alikes; latin (ASCII) gets a transliteration (Kazakh letters as in the 2021 Latin
alphabet without diacritics). Anything still not drawable becomes '?'.
"""

from __future__ import annotations

# Kazakh letters CP1251 lacks -> the Russian letter they look like (і exists in CP1251).
KAZAKH_TO_RUSSIAN = str.maketrans("әғқңөұүһӘҒҚҢӨҰҮҺ", "агкноуухАГКНОУУХ")

_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    # Kazakh letters
    "ә": "a", "ғ": "g", "қ": "q", "ң": "n", "ө": "o", "ұ": "u", "ү": "u", "һ": "h", "і": "i",
    # punctuation boards rarely have
    "№": "N", "→": ">", "←": "<", "—": "-", "–": "-", "«": '"', "»": '"', "“": '"', "”": '"',
    "’": "'", "…": "...", "\u00a0": " ",
}


def to_latin(text: str) -> str:
    """ASCII transliteration: 'Терезе №3' -> 'Tereze N3', 'ЖАҢА' -> 'ZHANA'."""
    out: list[str] = []
    for i, ch in enumerate(text):
        low = ch.lower()
        if ord(ch) < 128:
            out.append(ch)
        elif low in _LATIN:
            latin = _LATIN[low]
            if ch != low and latin:
                # An upper-case letter in an upper-case word stays all capitals (ЖАҢА -> ZHANA).
                nxt = text[i + 1] if i + 1 < len(text) else ""
                prev = text[i - 1] if i > 0 else ""
                shouting = (nxt.isupper() or (not nxt.isalpha() and prev.isupper()))
                latin = latin.upper() if shouting else latin.capitalize()
            out.append(latin)
        else:
            out.append("?")
    return "".join(out)


def _fallback(text: str, codec: str) -> bytes:
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode(codec)
        except UnicodeEncodeError:
            out += to_latin(ch).encode("ascii", errors="replace")
    return bytes(out)


def encode_text(text: str, charset: str) -> bytes:
    """The bytes a board with `charset` ('latin', 'cyrillic', 'kazakh') can show."""
    # Control bytes would break the frames (0x01, 0x07 delimit them): drop them.
    text = "".join(ch for ch in text if ch >= " " and ch != "\x7f")
    if charset == "kazakh":
        return _fallback(text, "kz1048")
    if charset == "cyrillic":
        return _fallback(text.translate(KAZAKH_TO_RUSSIAN), "cp1251")
    return to_latin(text).encode("ascii", errors="replace")
