"""Turn one ticket into printer bytes (text or raster mode) or a preview image.

The configuration is an argument of every call, never kept: what is cached (drawn
lines, stored images, the cut) is kept by its content, so the next ticket after a
renamed service or a new layout is drawn from the new configuration.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge.config import AppConfig
from edge.drivers.printing import raster, textmode
from edge.drivers.printing.content import TicketJob, build_blocks

if TYPE_CHECKING:
    from PIL import Image

    from edge.drivers.printing.stored import Part


@dataclass(frozen=True)
class Rendered:
    """One ticket, ready to send.

    `whole`: every dot in the bytes, for any printer (and the fallback). `stored`: the same
    ticket with its fixed parts as images the printer may keep in memory (raster mode;
    None in text mode, whose tickets are small anyway).
    """

    ticket: str
    whole: bytes
    stored: "tuple[Part, ...] | None" = None


def _dummy(profile: str):  # noqa: ANN202 - python-escpos has no type hints
    from escpos.printer import Dummy
    return Dummy(profile=profile)


@functools.lru_cache(maxsize=16)
def _tail(profile: str, cut: str) -> bytes:
    """The end of every ticket (feed and cut) as python-escpos sends it for the profile."""
    p = _dummy(profile)
    if cut == "none":
        p.print_and_feed(6)
    else:
        p.cut(mode="PART" if cut == "partial" else "FULL")
    return bytes(p.output)


def render(job: TicketJob, config: AppConfig, printer: str, *, stored: bool = True) -> Rendered:
    """The ticket for `printer` under `config`; raises ValueError (unprintable text) or
    FontMissing. `stored`: also in parts for the printer's memory (if its config says
    stored_graphics = auto); False when the printer is known to keep none."""
    from edge.drivers.printing.stored import stored_parts
    pc = config.printers[printer]
    blocks = build_blocks(job, config, printer)
    tail = _tail(pc.profile, pc.cut)
    if pc.mode == "text":
        p = _dummy(pc.profile)
        textmode.render_text(p, blocks, dots=pc.dots, codepage=pc.codepage, qr_mode=pc.qr,
                             qr_size=config.ticket.qr_size)
        return Rendered(job.ticket, bytes(p.output) + tail)
    ticket = raster.layout(blocks, width=pc.dots, font=str(pc.font), font_bold=str(pc.font_bold),
                           qr_size=config.ticket.qr_size)
    whole = raster.raster_bytes(ticket) + tail
    parts = stored_parts(ticket) + (tail,) if stored and pc.stored_graphics == "auto" else None
    return Rendered(job.ticket, whole, parts)


def ticket_bytes(job: TicketJob, config: AppConfig, printer: str) -> bytes:
    """The whole ticket, cut included; raises ValueError (unprintable text) or FontMissing."""
    return render(job, config, printer).whole


def ticket_preview(job: TicketJob, config: AppConfig, printer: str | None = None,
                   *, width: int | None = None) -> "Image.Image":
    """The raster rendering of the ticket (what a raster printer prints, dot for dot)."""
    from edge.config.printing import DEFAULT_WIDTH_PX, DEJAVU
    pc = config.printers.get(printer) if printer else None
    blocks = build_blocks(job, config, printer)
    font = str(pc.font) if pc else str(DEJAVU / "DejaVuSans.ttf")
    font_bold = str(pc.font_bold) if pc else str(DEJAVU / "DejaVuSans-Bold.ttf")
    dots = width or (pc.dots if pc else DEFAULT_WIDTH_PX[80])
    ticket = raster.layout(blocks, width=dots, font=font, font_bold=font_bold,
                           qr_size=config.ticket.qr_size)
    return raster.preview(ticket)
