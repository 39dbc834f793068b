"""`kezek ticket-preview --config FILE --service ID --out FILE.png`: the ticket as a PNG."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ticket-preview", help="render a sample ticket to a PNG (raster layout)")
    p.add_argument("--config", required=True, type=Path, help="the center's TOML config")
    p.add_argument("--service", required=True, help="service id")
    p.add_argument("--out", required=True, type=Path, help="PNG file to write")
    p.add_argument("--printer", default=None,
                   help="use this printer's languages, paper width and fonts (default: the first)")
    p.add_argument("--category", default="normal",
                   choices=["normal", "pensioner", "disability", "large_family"])
    p.add_argument("--booked", action="store_true", help="a booked visitor's ticket")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from edge.config import load_config_or_report
    from edge.drivers.printing.content import sample_job
    from edge.drivers.printing.render import ticket_preview
    config = load_config_or_report(args.config)
    if config is None:
        return 1
    if args.service not in [s.id for s in config.services]:
        print(f"no service {args.service!r} (known: {', '.join(s.id for s in config.services)})",
              file=sys.stderr)
        return 1
    printer = args.printer or next(iter(config.printers), None)
    if printer is not None and printer not in config.printers:
        print(f"no printer {printer!r} in [printers]", file=sys.stderr)
        return 1
    job = sample_job(config, args.service, printer=printer, category=args.category, booked=args.booked)
    try:
        img = ticket_preview(job, config, printer)
    except ValueError as e:  # missing font, unprintable text, QR too wide
        print(f"cannot render the ticket: {e}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    img.save(args.out)
    print(f"{args.out}: {img.width}x{img.height} dots, ticket {job.ticket}")
    return 0
