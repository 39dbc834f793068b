"""`kezek init --out FILE`: a first config for a center, checked as check-config does."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "init", help="write a first config for a center (names, services, windows, printers)",
        description="Writes a config that `kezek check-config` accepts. Values not given as "
                    "options are asked for at a terminal. The printer is the one `kezek ports` "
                    "finds (--printer auto), or the one named.")
    p.add_argument("--out", type=Path, required=True, help="the config file to write")
    p.add_argument("--site", help="the center's id from central, e.g. ast-con-01")
    p.add_argument("--device", default="edge-1", help="this box's id in the center (default edge-1)")
    p.add_argument("--name-kk", help="the center's name in Kazakh")
    p.add_argument("--name-ru", help="the center's name in Russian")
    p.add_argument("--service", action="append", default=[], metavar="ID:PREFIX:KK:RU",
                   help='a service, e.g. "docs:A:Жеке куәлік:Удостоверение личности" (repeat)')
    p.add_argument("--windows", type=int, help="how many windows (each serves every service)")
    p.add_argument("--benefit-window", type=int, default=None, metavar="N",
                   help="the benefit window's number (benefit visitors first)")
    p.add_argument("--printer", action="append", default=[],
                   help="auto (default: what `kezek ports` finds), none, a serial port, "
                        "/dev/usb/lp0 or usb:VID:PID (repeat for more printers)")
    p.add_argument("--timezone", default="Asia/Almaty")
    p.add_argument("--hall-port", type=int, default=8080, help="the hall screen's port (0: no hall)")
    p.add_argument("--clips", type=Path, default=Path("/var/lib/kezek/clips"),
                   help="the announcement clip folder (install.sh makes it); 'none': no voice")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--dev", type=Path, default=Path("/dev"), help=argparse.SUPPRESS)
    p.add_argument("--sysfs", type=Path, default=Path("/sys/bus/usb/devices"), help=argparse.SUPPRESS)
    p.set_defaults(func=handle)


def _ask(args: argparse.Namespace, ask: Callable[[str], str] | None) -> list[str]:
    """Fill what is missing from the terminal; the options still missing otherwise."""
    wanted = [("site", "--site", "The center's id from central (e.g. ast-con-01): "),
              ("name_kk", "--name-kk", "The center's name in Kazakh: "),
              ("name_ru", "--name-ru", "The center's name in Russian: "),
              ("windows", "--windows", "How many windows: ")]
    missing = []
    for attr, flag, prompt in wanted:
        if getattr(args, attr) is None:
            if ask is None:
                missing.append(flag)
                continue
            answer = ask(prompt).strip()
            setattr(args, attr, int(answer) if attr == "windows" and answer.isdigit() else answer)
    if not args.service:
        if ask is None:
            missing.append("--service")
        else:
            while True:
                answer = ask("A service as ID:PREFIX:KAZAKH:RUSSIAN (empty line when done): ").strip()
                if not answer:
                    break
                args.service.append(answer)
    return missing


def handle(args: argparse.Namespace) -> int:
    from edge.system.initconfig import CenterPlan, InitError, parse_service, printer_from, \
        problems_of, render
    from edge.system.ports import find_printers, find_serial, survey

    if args.out.exists() and not args.force:
        print(f"kezek init: {args.out} exists; pass --force to overwrite it", file=sys.stderr)
        return 1
    missing = _ask(args, input if sys.stdin.isatty() else None)
    if missing:
        print(f"kezek init: give {', '.join(missing)} (or run it at a terminal to be asked)",
              file=sys.stderr)
        return 2
    try:
        services = [parse_service(s) for s in args.service]
        printers = []
        for spec in args.printer or ["auto"]:
            if spec == "none":
                continue
            if spec == "auto":
                found = survey(find_serial(args.dev / "serial" / "by-id", args.dev),
                               find_printers(args.dev, args.sysfs), listen_s=0)
                printers += [p for p in found if p.guess == "printer"][:1]
                if printers:
                    print(f"printer found: {printers[-1].path} ({printers[-1].evidence})")
                else:
                    print("no printer found (kezek ports lists what is plugged in); the config "
                          "gets a commented example")
                continue
            printers.append(printer_from(spec))
        plan = CenterPlan(site=args.site, name_kk=args.name_kk, name_ru=args.name_ru,
                          services=services, windows=int(args.windows), device=args.device,
                          timezone=args.timezone, benefit_window=args.benefit_window,
                          printers=printers, hall_port=args.hall_port or None,
                          clips=None if str(args.clips) == "none" else args.clips)
        text = render(plan)
    except (InitError, ValueError) as e:
        print(f"kezek init: {e}", file=sys.stderr)
        return 2
    problems = problems_of(text, str(args.out))
    if problems:
        print("kezek init: the config would not be valid, nothing written:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    tmp = args.out.with_name(args.out.name + ".tmp")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}: center {args.site}, {len(services)} services, {args.windows} "
          f"windows, {len(printers)} printer(s); kezek check-config {args.out}: OK")
    print(f"next: sudo scripts/install.sh --config {args.out}")
    return 0
