"""`kezek print-test --config FILE [--printer NAME]`: print sample tickets with the real services."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("print-test", help="print a sample ticket per service (checks wiring and language)")
    p.add_argument("--config", required=True, type=Path, help="the center's TOML config")
    p.add_argument("--printer", default=None, help="printer name from [printers] (default: all)")
    p.add_argument("--service", default=None, help="only this service id (default: every service)")
    p.add_argument("--state-dir", type=Path, default=None,
                   help="base of relative file-printer paths (default: storage.state_dir)")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from edge.config import load_config_or_report
    config = load_config_or_report(args.config)
    if config is None:
        return 1
    if not config.printers:
        print(f"{args.config}: no [printers.NAME] section; nothing to print on", file=sys.stderr)
        return 1
    names = [args.printer] if args.printer else list(config.printers)
    for name in names:
        if name not in config.printers:
            print(f"no printer {name!r} in [printers] (known: {', '.join(config.printers)})",
                  file=sys.stderr)
            return 1
    services = [s.id for s in config.services]
    if args.service is not None:
        if args.service not in services:
            print(f"no service {args.service!r} (known: {', '.join(services)})", file=sys.stderr)
            return 1
        services = [args.service]
    state_dir = args.state_dir or config.storage.state_dir
    return max(print_samples(config, name, services, Path(state_dir), sys.stdout) for name in names)


def print_samples(config, printer: str, services: list[str], state_dir: Path, out) -> int:  # noqa: ANN001
    """Check, connect, report status, print one ticket per service; 0 when all printed."""
    from edge.drivers.printing.check import printing_problems
    from edge.drivers.printing.content import sample_job
    from edge.drivers.printing.render import render
    from edge.drivers.printing.service import keeps_graphics
    from edge.drivers.printing.stored import GraphicsMemory
    from edge.drivers.printing.transports import make_transport
    from edge.errors import PrinterError

    mine = [p for p in printing_problems(config)
            if p.startswith(f"printers.{printer}.") or f"printer {printer!r}" in p]
    if mine:
        print(f"printer {printer}: configuration problems:", file=out)
        for p in mine:
            print(f"  - {p}", file=out)
        return 1
    pc = config.printers[printer]
    transport = make_transport(printer, pc, state_dir)
    try:
        transport.open()
        status = transport.status()
        shown = "not available (status = none)" if not transport.can_poll else (
            "ready" if status.ok and not status.detail else status.detail)
        print(f"printer {printer} ({transport.where}, {pc.mode} mode): status {shown}", file=out)
        if not status.ok:
            return 1
        # The same checks as the service: a printer that keeps the fixed parts of tickets
        # gets them defined first, then every sample is sent the way the kiosk sends it.
        graphics = GraphicsMemory(printer, enabled=keeps_graphics(pc, transport.can_poll))
        graphics.probe(transport)
        print(f"  printer memory: {graphics.describe()}", file=out)
        jobs = [sample_job(config, sid, printer=printer, category="pensioner" if i % 2 else "normal")
                for i, sid in enumerate(services)]
        rendered = [render(job, config, printer) for job in jobs]
        if graphics.ready:
            for r in rendered:
                graphics.choose(transport, r.stored, r.whole)   # notes what is missing
            while graphics.define_owed(transport):
                pass
        for job, r in zip(jobs, rendered):
            data, used = graphics.choose(transport, r.stored, r.whole)
            transport.write(data)
            transport.drain()
            graphics.confirm(transport, used, job.ticket)
            transport.end_job()
            how = (f"fixed parts from the printer's memory ({len(used)} image(s)), "
                   f"{len(r.whole)} bytes whole" if used else "whole ticket")
            print(f"  printed {job.ticket} ({job.service}): {len(data)} bytes, {how}", file=out)
        if transport.can_poll:
            status = transport.status()
            if not status.ok:
                print(f"printer {printer}: after printing: {status.detail}", file=out)
                return 1
    except PrinterError as e:
        print(f"printer {printer}: {e}", file=out)
        return 1
    finally:
        transport.close()
    return 0
