"""Text mode: the printer's own font with code page KZ-1048, bypassing python-escpos MagicEncode.

MagicEncode has no code page with the Kazakh letters and prints '?' for them; here every
text is encoded with Python's strict 'kz1048' codec after selecting the printer's KZ-1048
slot (ESC t n), so an unprintable character raises instead of becoming '?'.
"""

from __future__ import annotations

import textwrap
from typing import Any

from edge.drivers.printing.content import Block

CODEC = "kz1048"
ESC = b"\x1b"
GS = b"\x1d"
# Dots per character cell of font A (12x24) and font B (9x17) on Epson-class printers.
_CELL = {"small": 9, "normal": 12, "large": 24, "huge": 48}


def unprintable(text: str) -> list[str]:
    """Characters of `text` that KZ-1048 cannot print (control characters included)."""
    bad: list[str] = []
    for ch in text:
        if ch < " " or ch == "\x7f":
            bad.append(ch)
            continue
        try:
            ch.encode(CODEC)
        except UnicodeEncodeError:
            bad.append(ch)
    return sorted(set(bad))


def encode(text: str) -> bytes:
    """Strict KZ-1048 bytes; raises ValueError naming the characters it cannot print."""
    bad = unprintable(text)
    if bad:
        shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in bad)
        raise ValueError(f"KZ-1048 cannot print {shown} in {text!r}")
    return text.encode(CODEC)


def columns(size: str, dots: int) -> int:
    return max(1, dots // _CELL[size])


def _set_size(p: Any, block: Block) -> None:
    if block.size == "small":
        p.set(normal_textsize=True, font="b", bold=block.bold, align=block.align)
    elif block.size == "normal":
        p.set(normal_textsize=True, font="a", bold=block.bold, align=block.align)
    elif block.size == "large":
        p.set(double_width=True, double_height=True, font="a", bold=block.bold, align=block.align)
    else:
        p.set(custom_size=True, width=4, height=4, font="a", bold=block.bold, align=block.align)


def render_text(p: Any, blocks: list[Block], *, dots: int, codepage: int, qr_mode: str,
                qr_size: int) -> None:
    """Send the ticket to `p` (a python-escpos printer object, usually Dummy)."""
    from edge.drivers.printing.raster import qr_image, raster_command

    # ESC @ resets the code page on some printers (python-escpos #272): select it after.
    p.hw("INIT")
    p._raw(ESC + b"t" + bytes([codepage]))
    for block in blocks:
        if block.kind == "feed":
            p._raw(ESC + b"d" + bytes([min(255, block.lines)]))
        elif block.kind == "rule":
            p.set(normal_textsize=True, font="a", bold=False, align="left")
            p._raw(b"-" * columns("normal", dots) + b"\n")
        elif block.kind == "qr":
            p.set(align=block.align)
            if qr_mode == "native":
                p.qr(block.text, size=qr_size, native=True)
            else:
                # Even module sizes: drawn at half, doubled by the printer (a quarter of the bytes).
                scale = 2 if qr_size % 2 == 0 else 1
                p._raw(raster_command(qr_image(block.text, qr_size // scale), scale=scale))
            p._raw(b"\n")
        else:
            _set_size(p, block)
            width = columns(block.size, dots)
            for row in textwrap.wrap(block.text, width, break_long_words=True) or [""]:
                p._raw(encode(row) + b"\n")
    p.set(normal_textsize=True, font="a", bold=False, align="left")
