"""Raster mode: ticket text drawn with a TTF font (Kazakh glyphs) and sent as GS v 0 images.

To keep a ticket small (under a second at 115200 baud) every line is sent as its own image
cropped to its ink, blank space is paper feed (ESC J), and the big ticket number is drawn
at half resolution and printed at double width and height (GS v 0 mode 3).
The preview PNG is composed from the very same images at the places the printer puts them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge.drivers.printing.content import Block

if TYPE_CHECKING:
    from PIL import Image, ImageFont

ESC = b"\x1b"
GS = b"\x1d"
# Font size in dots (at ~203 dpi, 24 dots = 3 mm) for each layout size.
FONT_PX = {"small": 20, "normal": 24, "large": 32, "huge": 112}
# The ticket number is drawn at half size and doubled by the printer (4x fewer bytes).
SCALE = {"small": 1, "normal": 1, "large": 1, "huge": 2}
LINE_GAP = 6          # dots between two text rows
RULE_DOTS = 2
_ALIGN = {"left": 0, "center": 1, "right": 2}


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


@dataclass(frozen=True)
class Placed:
    """One image as the printer will place it: top-left (x, y) in dots, doubled if scale 2."""

    image: "Image.Image"     # mode "1", width a multiple of 8, black ink on white
    x: int
    y: int
    scale: int
    align: str


@dataclass(frozen=True)
class RasterTicket:
    width: int
    height: int
    placed: tuple[Placed, ...]


def _pad8(img: "Image.Image") -> "Image.Image":
    from PIL import Image
    w = (img.width + 7) // 8 * 8
    if w == img.width:
        return img
    out = Image.new("1", (w, img.height), 1)
    out.paste(img, (0, 0))
    return out


def _ink_crop(img: "Image.Image") -> tuple["Image.Image", int] | None:
    """Crop an "L" image (white background) to its ink; returns (1-bit image, top offset)."""
    from PIL import ImageOps
    bbox = ImageOps.invert(img).point(lambda v: 255 if v >= 128 else 0).getbbox()
    if bbox is None:
        return None
    cropped = img.crop(bbox).point(lambda v: 255 if v >= 128 else 0).convert("1")
    return _pad8(cropped), bbox[1]


def _wrap(text: str, font: "ImageFont.FreeTypeFont", width: int) -> list[str]:
    rows: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}" if current else word
        if font.getlength(trial) <= width:
            current = trial
            continue
        if current:
            rows.append(current)
        current = word
        # A single word wider than the paper is cut by characters.
        while font.getlength(current) > width and len(current) > 1:
            cut = len(current)
            while cut > 1 and font.getlength(current[:cut]) > width:
                cut -= 1
            rows.append(current[:cut])
            current = current[cut:]
    if current:
        rows.append(current)
    return rows


def qr_image(content: str, box: int) -> "Image.Image":
    """The QR code with `box` dots per module (a quiet zone of 2 modules around it)."""
    import qrcode
    code = qrcode.QRCode(box_size=box, border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(content)
    code.make(fit=True)
    img = code.make_image().get_image().convert("1")
    return _pad8(img)


def layout(blocks: list[Block], *, width: int, font: str, font_bold: str,
           qr_size: int = 4) -> RasterTicket:
    """Place every block: the same result drives the printer bytes and the preview."""
    from PIL import Image, ImageDraw
    placed: list[Placed] = []
    y = 0

    def put(img: "Image.Image", top: int, scale: int, align: str) -> None:
        w = img.width * scale
        if w > width:
            raise ValueError(f"an image {w} dots wide does not fit the {width}-dot paper")
        x = {"left": 0, "center": (width - w) // 2, "right": width - w}[align]
        placed.append(Placed(img, x, top, scale, align))

    for block in blocks:
        if block.kind == "feed":
            y += block.lines * (FONT_PX["normal"] + LINE_GAP)
        elif block.kind == "rule":
            y += LINE_GAP
            put(Image.new("1", (width, RULE_DOTS), 0), y, 1, "left")
            y += RULE_DOTS + LINE_GAP
        elif block.kind == "qr":
            # An even module size is drawn at half and doubled by the printer: same dots,
            # a quarter of the bytes.
            scale = 2 if qr_size % 2 == 0 else 1
            img = qr_image(block.text, qr_size // scale)
            if img.width * scale > width:
                raise ValueError(f"the QR code is {img.width * scale} dots wide, the paper {width}: "
                                 f"lower ticket.qr_size or shorten ticket.qr_url")
            put(img, y, scale, block.align)
            y += img.height * scale
        else:
            scale = SCALE[block.size]
            f = load_font(font_bold if block.bold else font, FONT_PX[block.size] // scale)
            ascent, descent = f.getmetrics()
            row_h = ascent + descent
            for row in _wrap(block.text, f, width // scale):
                canvas = Image.new("L", (int(f.getlength(row)) + 4, row_h), 255)
                ImageDraw.Draw(canvas).text((2, 0), row, font=f, fill=0)
                cropped = _ink_crop(canvas)
                if cropped is not None:
                    img, top = cropped
                    put(img, y + top * scale, scale, block.align)
                y += row_h * scale + LINE_GAP
    return RasterTicket(width, y, tuple(placed))


def preview(ticket: RasterTicket, *, margin: int = 16) -> "Image.Image":
    """The ticket as the paper shows it (1 dot = 1 pixel), with a white margin."""
    from PIL import Image
    img = Image.new("1", (ticket.width, max(1, ticket.height)), 1)
    for p in ticket.placed:
        part = p.image if p.scale == 1 else p.image.resize(
            (p.image.width * p.scale, p.image.height * p.scale), Image.NEAREST)
        img.paste(part, (p.x, p.y))
    out = Image.new("1", (img.width + 2 * margin, img.height + 2 * margin), 1)
    out.paste(img, (margin, margin))
    return out


def raster_command(img: "Image.Image", *, scale: int = 1) -> bytes:
    """GS v 0: one 1-bit image; scale 2 = printed at double width and height (mode 3)."""
    from PIL import ImageOps
    img = _pad8(img.convert("1"))
    data = ImageOps.invert(img.convert("L")).convert("1").tobytes()  # ESC/POS: 1 = black dot
    wb = img.width // 8
    mode = 3 if scale == 2 else 0
    return GS + b"v0" + bytes([mode, wb & 0xFF, wb >> 8, img.height & 0xFF, img.height >> 8]) + data


def _feed(dots: int) -> bytes:
    out = b""
    while dots > 0:
        step = min(255, dots)
        out += ESC + b"J" + bytes([step])
        dots -= step
    return out


def raster_bytes(ticket: RasterTicket) -> bytes:
    """Printer bytes for the placed images: alignment, feed to each, then the image."""
    out = [ESC + b"@"]
    y = 0
    align = None
    for p in sorted(ticket.placed, key=lambda p: p.y):
        if p.y > y:
            out.append(_feed(p.y - y))
            y = p.y
        if p.align != align:
            out.append(ESC + b"a" + bytes([_ALIGN[p.align]]))
            align = p.align
        out.append(raster_command(p.image, scale=p.scale))
        y += p.image.height * p.scale
    if ticket.height > y:
        out.append(_feed(ticket.height - y))
    out.append(ESC + b"a" + b"\x00")
    return b"".join(out)
