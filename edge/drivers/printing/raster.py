"""Raster mode: ticket text drawn with a TTF font (Kazakh glyphs) and sent as GS v 0 images.

To keep a ticket small every line is its own image cropped to its ink, blank space is
paper feed (ESC J), and the big ticket number and the QR code are drawn at half
resolution and printed at double width and height (GS v 0 mode 3). The preview PNG is
composed from the very same images at the places the printer puts them.

To keep a ticket cheap (CPU) the blocks that are the same on every ticket of a service
(names, markers, rules, the footer) are drawn once and cached by their content, so a
renamed service or a new layout simply draws new ones; the changing lines are pasted
from cached glyphs (glyphs.py) and the QR code comes from qr.py.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

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


class Placed(NamedTuple):
    """One image as the printer will place it: top-left (x, y) in dots, doubled if scale 2.

    (A named tuple: a ticket places about 30 of them, and a frozen dataclass costs several
    times more to make.)"""

    ink: "Image.Image"       # mode "1", 1 = a printed dot, width a multiple of 8
    x: int
    y: int
    scale: int
    align: str
    command: bytes           # the GS v 0 command that prints it

    @property
    def image(self) -> "Image.Image":
        """Black ink on white, as the paper shows it (at 1x)."""
        from PIL import ImageChops
        return ImageChops.invert(self.ink)


@dataclass(frozen=True)
class Band:
    """What one block occupies: rows y0..y1 of the ticket and the images in them.

    `key` identifies a fixed block's drawing (None for a changing one): consecutive fixed
    bands are what a printer can keep in its memory (stored.py).
    """

    y0: int
    y1: int
    key: Any
    placed: tuple[Placed, ...]


@dataclass(frozen=True)
class RasterTicket:
    width: int
    height: int
    placed: tuple[Placed, ...]
    bands: tuple[Band, ...] = ()


def ink_command(ink: "Image.Image", *, scale: int = 1) -> bytes:
    """GS v 0 for an ink mask; scale 2 = printed at double width and height (mode 3)."""
    width, height = ink.size
    wb = width // 8
    mode = 3 if scale == 2 else 0
    return GS + b"v0" + bytes([mode, wb & 0xFF, wb >> 8, height & 0xFF, height >> 8]) \
        + ink_bytes(ink)


def ink_bytes(ink: "Image.Image") -> bytes:
    """The mask's rows, 8 dots a byte, 1 = ink: what ink.tobytes() gives, by the raw
    encoder directly. A ticket encodes its changing rows every time, and tobytes()'s own
    set-up (encoder look-up, an import, a buffer size) cost more than the encoding."""
    from PIL import Image
    width, height = ink.size
    ink.load()
    encoder = Image.core.raw_encoder("1", "1")
    try:
        encoder.setimage(ink.im, (0, 0, width, height))
        out = []
        while True:
            _, status, data = encoder.encode(max(65536, width * 4))
            out.append(data)
            if status:
                break
    finally:
        encoder.cleanup()
    if status < 0:
        raise RuntimeError(f"encoder error {status} on a {width}x{height} ticket row")
    return b"".join(out) if len(out) > 1 else out[0]


def raster_command(img: "Image.Image", *, scale: int = 1) -> bytes:
    """GS v 0 for a black-on-white image (1 = white, as PIL shows it)."""
    from PIL import ImageChops
    return ink_command(_pad8(ImageChops.invert(img.convert("1"))), scale=scale)


def _pad8(ink: "Image.Image") -> "Image.Image":
    w = (ink.width + 7) // 8 * 8
    # A crop past the right edge fills with 0: no ink.
    return ink if w == ink.width else ink.crop((0, 0, w, ink.height))


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


def _drawn_rows(text: str, font: "ImageFont.FreeTypeFont", width: int) -> list[tuple[Any, int] | None]:
    """Each wrapped row drawn whole by FreeType: (ink mask cropped to its ink, top offset)."""
    from PIL import Image, ImageDraw

    from edge.drivers.printing.glyphs import INK
    ascent, descent = font.getmetrics()
    out: list[tuple[Any, int] | None] = []
    for row in _wrap(text, font, width):
        cover = Image.new("L", (int(font.getlength(row)) + 4, ascent + descent), 0)
        ImageDraw.Draw(cover).text((2, 0), row, font=font, fill=255)
        ink = cover.point(INK, "1")
        bbox = ink.getbbox()
        if bbox is None:
            out.append(None)
            continue
        x0, y0, x1, y1 = bbox
        out.append((ink.crop((x0, y0, x0 + (x1 - x0 + 7) // 8 * 8, y1)), y0))
    return out


def qr_image(content: str, box: int) -> "Image.Image":
    """The QR code, black on white, `box` dots per module, with its 2-module quiet zone."""
    from PIL import ImageChops, ImageOps

    from edge.drivers.printing.qr import BORDER, qr_ink
    ink = ImageOps.expand(qr_ink(content, box), border=BORDER * box, fill=0)
    return ImageChops.invert(_pad8(ink))


_Items = tuple[tuple[Placed, ...], int]


def _place(ink: "Image.Image", y: int, scale: int, align: str, width: int) -> Placed:
    w = ink.width * scale
    if w > width:
        raise ValueError(f"an image {w} dots wide does not fit the {width}-dot paper")
    x = {"left": 0, "center": (width - w) // 2, "right": width - w}[align]
    return Placed(ink, x, y, scale, align, ink_command(ink, scale=scale))


def _text(block: Block, width: int, font: str, font_bold: str, *, drawn: bool) -> _Items:
    from edge.drivers.printing.glyphs import face
    scale = SCALE[block.size]
    path, px = (font_bold if block.bold else font), FONT_PX[block.size] // scale
    f = face(path, px)
    rows: list[tuple[Any, int] | None] = []
    if not drawn:
        row, used = f.row(block.text)
        rows = [row]
    if drawn or used > width // scale:   # too long for one row: drawn whole and wrapped
        rows = _drawn_rows(block.text, f.font, width // scale)
    placed: list[Placed] = []
    y = 0
    for row in rows:
        if row is not None:
            ink, top = row
            placed.append(_place(ink, y + top * scale, scale, block.align, width))
        y += f.row_height * scale + LINE_GAP
    return tuple(placed), y


# The changing rows repeat too: the time all minute, "Ahead of you: 4" many times a day.
@functools.lru_cache(maxsize=2048)
def _changing(block: Block, width: int, font: str, font_bold: str) -> _Items:
    return _text(block, width, font, font_bold, drawn=False)


@functools.lru_cache(maxsize=512)
def _fixed(block: Block, width: int, font: str, font_bold: str) -> _Items:
    """A block that is the same on every ticket of its service: drawn once (whole, with
    FreeType's kerning) and kept by its content, so a new name or layout draws anew."""
    from PIL import Image
    if block.kind == "feed":
        return (), block.lines * (FONT_PX["normal"] + LINE_GAP)
    if block.kind == "rule":
        rule = _place(Image.new("1", ((width + 7) // 8 * 8, RULE_DOTS), 255), LINE_GAP, 1, "left",
                      (width + 7) // 8 * 8)
        return (rule,), LINE_GAP + RULE_DOTS + LINE_GAP
    return _text(block, width, font, font_bold, drawn=True)


def _qr(block: Block, width: int, qr_size: int) -> _Items:
    from edge.drivers.printing.qr import BORDER, qr_ink
    # An even module size is drawn at half and doubled by the printer: same dots, a
    # quarter of the bytes.
    scale = 2 if qr_size % 2 == 0 else 1
    ink = qr_ink(block.text, qr_size // scale)
    side = ink.width * scale + 2 * BORDER * qr_size
    if side > width:
        raise ValueError(f"the QR code is {side} dots wide, the paper {width}: "
                         f"lower ticket.qr_size or shorten ticket.qr_url")
    return (_place(_pad8(ink), BORDER * qr_size, scale, block.align, width),), side


def layout(blocks: list[Block], *, width: int, font: str, font_bold: str,
           qr_size: int = 4) -> RasterTicket:
    """Place every block: the same result drives the printer bytes and the preview."""
    placed: list[Placed] = []
    bands: list[Band] = []
    y = 0
    for block in blocks:
        if block.fixed:
            band = _fixed_band((block, width, font, font_bold), y)
        else:
            if block.kind == "qr":
                items, height = _qr(block, width, qr_size)
            else:
                items, height = _changing(block, width, font, font_bold)
            band = Band(y, y + height, None, _moved(items, y))
        bands.append(band)
        placed.extend(band.placed)
        y = band.y1
    return RasterTicket(width, y, tuple(placed), tuple(bands))


def _moved(items: tuple[Placed, ...], y: int) -> tuple[Placed, ...]:
    return tuple(Placed(p.ink, p.x, p.y + y, p.scale, p.align, p.command) for p in items)


# A fixed block sits at the same height on every ticket of a service (the blocks above it
# are the same ones), so its band is kept whole, placed, by block and height.
@functools.lru_cache(maxsize=1024)
def _fixed_band(key: tuple[Block, int, str, str], y: int) -> Band:
    items, height = _fixed(*key)
    return Band(y, y + height, key, _moved(items, y))


def preview(ticket: RasterTicket, *, margin: int = 16) -> "Image.Image":
    """The ticket as the paper shows it (1 dot = 1 pixel), with a white margin."""
    from PIL import Image
    img = Image.new("1", (ticket.width + 2 * margin, max(1, ticket.height) + 2 * margin), 1)
    for p in ticket.placed:
        ink = p.ink if p.scale == 1 else p.ink.resize(
            (p.ink.width * p.scale, p.ink.height * p.scale), Image.Resampling.NEAREST)
        img.paste(0, (p.x + margin, p.y + margin), ink)
    return img


@functools.lru_cache(maxsize=1024)
def feed(dots: int) -> bytes:
    out = b""
    while dots > 0:
        step = min(255, dots)
        out += ESC + b"J" + bytes([step])
        dots -= step
    return out


def align(where: str) -> bytes:
    return ESC + b"a" + bytes([_ALIGN[where]])


def placed_bytes(placed: tuple[Placed, ...] | list[Placed], y: int, current: str | None,
                 out: list[bytes]) -> tuple[int, str | None]:
    """Append feed, alignment and image for each of `placed` (top to bottom) to `out`;
    returns the paper position and alignment after them."""
    for p in placed:
        if p.y > y:
            out.append(feed(p.y - y))
            y = p.y
        if p.align != current:
            out.append(align(p.align))
            current = p.align
        out.append(p.command)
        y += p.ink.height * p.scale
    return y, current


def raster_bytes(ticket: RasterTicket) -> bytes:
    """Printer bytes for the placed images: alignment, feed to each, then the image."""
    out = [ESC + b"@"]
    y, _ = placed_bytes(sorted(ticket.placed, key=lambda p: p.y), 0, None, out)
    if ticket.height > y:
        out.append(feed(ticket.height - y))
    out.append(align("left"))
    return b"".join(out)
