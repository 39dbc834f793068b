"""Builds one printer worker per [printers.NAME] section and subscribes it to the controller."""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

from edge.component import AppContext

logger = logging.getLogger(__name__)


def _persistent_escpos_cache(ctx: AppContext) -> None:
    """python-escpos parses its printer database on import and caches the result in a
    fresh temp dir per process unless told otherwise: 0.3 s of every start on a Pi, and a
    /tmp/tmpXXXX left behind each time. Give it a lasting cache before it is imported."""
    cache = ctx.state_dir / "cache"
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        logger.warning("no escpos cache at %s (%s); printer start-up will be slower", cache, e)
        return
    os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(cache))


def build(ctx: AppContext) -> list[Any]:
    _persistent_escpos_cache(ctx)
    from edge.drivers.printing.check import printing_problems
    from edge.drivers.printing.stored import GraphicsMemory
    from edge.drivers.printing.transports import make_transport
    from edge.drivers.printing.worker import PrinterWorker

    config = ctx.config
    problems = printing_problems(config)
    for p in problems:
        logger.error("printer config: %s", p)
    workers: list[Any] = []
    for i, (name, pc) in enumerate(config.printers.items()):
        mine = [p for p in problems if p.startswith(f"printers.{name}.")
                or f"printer {name!r}" in p]
        # A printer that would print boxes or '?' is reported down (its ticket button
        # refuses, an alarm is raised) rather than printing wrong tickets; the rest runs.
        blocked = f"configuration problem: {mine[0]}" if mine else None
        transport = make_transport(name, pc, ctx.state_dir)
        graphics = GraphicsMemory(name, enabled=keeps_graphics(pc, transport.can_poll))
        worker = PrinterWorker(
            name, transport, ctx.controller,
            render=functools.partial(_render, ctx=ctx, printer=name, graphics=graphics),
            void_after_s=pc.void_after_s, retry_interval_s=pc.retry_interval_s,
            poll_interval_s=getattr(pc, "poll_interval_s", 5.0),
            wall_ms=lambda: ctx.clock.read().wall_ms, timezone=config.center.timezone,
            default=(i == 0), blocked=blocked,
            reprints_file=ctx.state_dir / "printing" / f"{name}-reprints.json",
            graphics=graphics)
        ctx.controller.subscribe(worker.on_applied)
        workers.append(worker)
    return workers


def keeps_graphics(pc: Any, can_poll: bool) -> bool:
    """Whether to try keeping a printer's fixed ticket parts in its memory: raster mode,
    not switched off, a back channel to check them, and a profile with GS ( L."""
    if pc.mode != "raster" or pc.stored_graphics != "auto" or not can_poll:
        return False
    from escpos.capabilities import get_profile
    try:
        return bool(get_profile(pc.profile).profile_data.get("features", {}).get("graphics", False))
    except KeyError:
        return False   # an unknown profile is a config problem reported elsewhere


def _render(job: Any, *, ctx: AppContext, printer: str, graphics: Any) -> Any:
    # The configuration is read for every ticket, never kept here: the render caches are
    # keyed by content, so a renamed service prints its new name on the next ticket.
    from edge.drivers.printing.render import render
    # The ticket in stored parts only where they may be sent: a printer that keeps no
    # graphics (off, no back channel, no answer on this connection) gets it whole.
    return render(job, ctx.config, printer,
                  stored=graphics.state not in ("off", "unsupported"))
