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
        worker = PrinterWorker(
            name, transport, ctx.controller,
            render=functools.partial(_render, config=config, printer=name),
            void_after_s=pc.void_after_s, retry_interval_s=pc.retry_interval_s,
            poll_interval_s=getattr(pc, "poll_interval_s", 5.0),
            wall_ms=lambda: ctx.clock.read().wall_ms, timezone=config.center.timezone,
            default=(i == 0), blocked=blocked,
            reprints_file=ctx.state_dir / "printing" / f"{name}-reprints.json")
        ctx.controller.subscribe(worker.on_applied)
        workers.append(worker)
    return workers


def _render(job: Any, *, config: Any, printer: str) -> bytes:
    from edge.drivers.printing.render import ticket_bytes
    return ticket_bytes(job, config, printer)
