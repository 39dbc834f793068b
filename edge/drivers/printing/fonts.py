"""The TTF fonts of raster tickets: loading one (a clear error when it is missing) and
which characters of a text it has no glyph for (they would print as boxes)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import ImageFont


class FontMissing(ValueError):
    """The TTF font of a raster printer is not there (the text would print as boxes)."""


@functools.lru_cache(maxsize=32)
def load_font(path: str, size: int) -> "ImageFont.FreeTypeFont":
    from PIL import ImageFont
    if not Path(path).is_file():
        raise FontMissing(
            f"font {path} not found: raster tickets cannot be drawn without a font that has "
            f"the Kazakh letters; install it (Debian/Raspberry Pi OS: apt-get install "
            f"fonts-dejavu-core) or point 'font' / 'font_bold' of the printer at another TTF")
    try:
        return ImageFont.truetype(path, size)
    except OSError as e:
        raise FontMissing(f"font {path} cannot be loaded ({e}); use a TrueType (.ttf) file") from None


@functools.lru_cache(maxsize=8)
def _notdef(path: str) -> bytes:
    # The font's "missing glyph" box: a character drawn the same way has no glyph.
    return bytes(load_font(path, 24).getmask("\U0010fffd"))


def missing_glyphs(text: str, path: str) -> list[str]:
    """Characters of `text` the font at `path` has no glyph for (they would print as boxes)."""
    return sorted(ch for ch in set(text) if not _has_glyph(path, ch))


# The start-up check asks about every text of every printer: the same few hundred letters
# over and over, each one a glyph to render.
@functools.lru_cache(maxsize=4096)
def _has_glyph(path: str, ch: str) -> bool:
    if ch < " ":
        return False
    return ch.isspace() or bytes(load_font(path, 24).getmask(ch)) != _notdef(path)
