"""Text rows composed from cached glyphs: a ticket's changing lines without FreeType per ticket.

Drawing "Алдыңызда: 5 адам" with FreeType (layout, rasterise, threshold) costs a few
hundred microseconds per row, most of a ticket's CPU budget. The changing rows of a
ticket (number, time, ahead, wait) use a few dozen characters all day, so each one is
drawn once per font and size, kept as a 1-bit ink mask, and rows are pasted together
from them. The unchanging rows (names, markers, footer) are drawn by FreeType as a whole
(with kerning) and cached by the renderer instead.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

# Coverage of 128 or more is ink: the same rule as the rows drawn whole (raster.py).
INK = [0] * 128 + [255] * 128


@dataclass(frozen=True)
class Glyph:
    ink: "Image.Image | None"   # 1-bit, 1 = ink; None for a blank (space)
    dx: int                     # ink box relative to the pen position and the ascender line
    dy: int
    advance: float
    # The ink's size and PIL core image, read once: a changing row pastes a dozen pieces
    # per ticket, and Image.paste's checks and the size properties cost more than the
    # paste itself (see _paste_all).
    w: int = field(init=False, default=0, compare=False)
    h: int = field(init=False, default=0, compare=False)
    core: Any = field(init=False, default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.ink is not None:
            self.ink.load()
            object.__setattr__(self, "w", self.ink.width)
            object.__setattr__(self, "h", self.ink.height)
            object.__setattr__(self, "core", self.ink.im)


class Face:
    """One font at one size: its glyphs, drawn on first use."""

    def __init__(self, path: str, px: int) -> None:
        from edge.drivers.printing.fonts import load_font
        self.font = load_font(path, px)
        ascent, descent = self.font.getmetrics()
        self.row_height = ascent + descent
        self._glyphs: dict[str, Glyph] = {}
        self._words: dict[str, Glyph] = {}

    def glyph(self, ch: str) -> Glyph:
        g = self._glyphs.get(ch)
        if g is None:
            g = self._glyphs[ch] = self._draw(ch)
        return g

    def _draw(self, ch: str) -> Glyph:
        from PIL import Image, ImageDraw
        advance = self.font.getlength(ch)
        # Whole dots: FreeType's box is typed as floats, and is whole numbers of pixels.
        x0, y0, x1, y1 = (int(v) for v in self.font.getbbox(ch))
        if x1 <= x0 or y1 <= y0:
            return Glyph(None, 0, 0, advance)
        cover = Image.new("L", (x1 - x0, y1 - y0), 0)
        ImageDraw.Draw(cover).text((-x0, -y0), ch, font=self.font, fill=255)
        ink = cover.point(INK, "1")
        box = ink.getbbox()
        if box is None:
            return Glyph(None, 0, 0, advance)
        # Cropped to the ink itself (FreeType's box has faint edges): rows rely on it.
        return Glyph(ink.crop(box), x0 + box[0], y0 + box[1], advance)

    def word(self, text: str) -> Glyph:
        """A run of characters pasted together once, kept like a glyph: a row is then a
        few pastes ("Алдыңызда:", "4", "адам"), not one per letter."""
        w = self._words.get(text)
        if w is not None:
            return w
        pieces: list[tuple[Glyph, int]] = []
        pen = 0.0
        for ch in text:
            g = self.glyph(ch)
            if g.ink is not None:
                pieces.append((g, math.floor(pen + 0.5) + g.dx))
            pen += g.advance
        w = Glyph(None, 0, 0, pen) if not pieces else _paste(pieces, pen)
        if len(self._words) >= 4096:
            self._words.clear()   # a day's words are far fewer; this only bounds memory
        self._words[text] = w
        return w

    def row(self, text: str) -> tuple[tuple["Image.Image", int] | None, float]:
        """The row as an ink mask cropped to its ink (width a multiple of 8) with the
        offset of its top from the row's top (None when there is no ink), and its width."""
        from PIL import Image
        pieces: list[tuple[Glyph, int]] = []
        pen = 0.0
        space = self.glyph(" ").advance
        for i, part in enumerate(text.split(" ")):
            if i:
                pen += space
            if not part:
                continue
            if part not in self._words and any(ch.isdigit() for ch in part):
                # "A-042", "~48": new on most tickets, so not worth a canvas of their own.
                for ch in part:
                    g = self.glyph(ch)
                    if g.ink is not None:
                        pieces.append((g, math.floor(pen + 0.5) + g.dx))
                    pen += g.advance
                continue
            w = self.word(part)
            if w.ink is not None:
                pieces.append((w, math.floor(pen + 0.5) + w.dx))
            pen += w.advance
        if not pieces:
            return None, pen
        # Every piece is cropped to its ink, so their boxes together are the row's ink box:
        # one canvas of whole bytes, no search for the ink afterwards.
        left = min(x for _, x in pieces)
        right = max(x + g.w for g, x in pieces)
        top = min(g.dy for g, _ in pieces)
        bottom = max(g.dy + g.h for g, _ in pieces)
        canvas = Image.new("1", ((right - left + 7) // 8 * 8, bottom - top), 0)
        _paste_all(canvas, pieces, left, top)
        return (canvas, top), pen


def _paste(pieces: list[tuple[Glyph, int]], advance: float) -> Glyph:
    """Glyphs (or words) at their x offsets on one canvas cropped to the ink."""
    from PIL import Image
    left = min(x for _, x in pieces)
    right = max(x + g.w for g, x in pieces)
    top = min(g.dy for g, _ in pieces)
    bottom = max(g.dy + g.h for g, _ in pieces)
    canvas = Image.new("1", (right - left, bottom - top), 0)
    _paste_all(canvas, pieces, left, top)
    x0, y0, x1, y1 = canvas.getbbox() or (0, 0, 1, 1)
    return Glyph(canvas.crop((x0, y0, x1, y1)), left + x0, top + y0, advance)


def _paste_all(canvas: "Image.Image", pieces: list[tuple[Glyph, int]], left: int,
               top: int) -> None:
    """Ink of each piece onto a new canvas whose top-left is (left, top) in row space:
    PIL's core paste, as Image.paste(255, box, mask) does after its checks (a fresh
    canvas is writable; every piece's ink is loaded in Glyph)."""
    core = canvas.im
    for g, x in pieces:
        x0, y0 = x - left, g.dy - top
        core.paste(255, (x0, y0, x0 + g.w, y0 + g.h), g.core)


@functools.lru_cache(maxsize=16)
def face(path: str, px: int) -> Face:
    return Face(path, px)
