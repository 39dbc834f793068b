"""Turn one ticket into printer bytes (text or raster mode) or a preview image."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.config import AppConfig
from edge.drivers.printing import raster, textmode
from edge.drivers.printing.content import TicketJob, build_blocks

if TYPE_CHECKING:
    from PIL import Image


def _dummy(profile: str):  # noqa: ANN202 - python-escpos has no type hints
    from escpos.printer import Dummy
    return Dummy(profile=profile)


def ticket_bytes(job: TicketJob, config: AppConfig, printer: str) -> bytes:
    """The whole ticket, cut included; raises ValueError (unprintable text) or FontMissing."""
    pc = config.printers[printer]
    blocks = build_blocks(job, config, printer)
    p = _dummy(pc.profile)
    if pc.mode == "text":
        textmode.render_text(p, blocks, dots=pc.dots, codepage=pc.codepage, qr_mode=pc.qr,
                             qr_size=config.ticket.qr_size)
    else:
        ticket = raster.layout(blocks, width=pc.dots, font=str(pc.font), font_bold=str(pc.font_bold),
                               qr_size=config.ticket.qr_size)
        p._raw(raster.raster_bytes(ticket))
    if pc.cut == "none":
        p.print_and_feed(6)
    else:
        p.cut(mode="PART" if pc.cut == "partial" else "FULL")
    return p.output


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
