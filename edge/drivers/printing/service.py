"""Builds one printer worker per [printers.NAME] section and subscribes it to the controller."""

from __future__ import annotations

import functools
import logging
from typing import Any

from edge.component import AppContext
from edge.drivers.printing.check import printing_problems
from edge.drivers.printing.render import ticket_bytes
from edge.drivers.printing.transports import make_transport
from edge.drivers.printing.worker import PrinterWorker

logger = logging.getLogger(__name__)


def build(ctx: AppContext) -> list[Any]:
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
            default=(i == 0), blocked=blocked)
        ctx.controller.subscribe(worker.on_applied)
        workers.append(worker)
    return workers


def _render(job: Any, *, config: Any, printer: str) -> bytes:
    return ticket_bytes(job, config, printer)
