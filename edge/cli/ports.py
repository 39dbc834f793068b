"""`kezek ports`: every serial port and USB printer, what it probably is, the config lines."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ports", help="list serial ports and USB printers, guess what each is, print config lines",
        description="Asks each serial port for an ESC/POS printer status, then listens on the "
                    "others: press a key on each keypad or scan a code while it listens. Ports "
                    "that another program (the running service) holds are not touched.")
    p.add_argument("--listen", type=float, default=10.0, metavar="S",
                   help="seconds to listen for a keypad press or a scan (default 10; 0: no listening)")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.add_argument("--dev", type=Path, default=Path("/dev"), help=argparse.SUPPRESS)
    p.add_argument("--sysfs", type=Path, default=Path("/sys/bus/usb/devices"), help=argparse.SUPPRESS)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from edge.system.doctor.holders import port_holders
    from edge.system.ports import Port, find_printers, find_serial, render, survey

    serial_ports = find_serial(args.dev / "serial" / "by-id", args.dev)
    free: list[Port] = []
    for port in serial_ports:
        holders = port_holders(port.device)
        if holders:
            port.evidence = (f"in use by {', '.join(holders)}: not probed (if that is kezek, its "
                             "config already names it; `sudo systemctl stop kezek` for a full survey)")
        else:
            free.append(port)
    printers = find_printers(args.dev, args.sysfs)

    def tell(quiet: list[Port]) -> None:
        if not args.json:
            print(f"listening {args.listen:g} s on {', '.join(p.path for p in quiet)}: press a key "
                  "on each keypad, scan a code with each scanner ...", flush=True)

    survey(free, [], listen_s=args.listen, on_listen=tell)
    found = serial_ports + printers
    if args.json:
        print(json.dumps([asdict(p) | {"config": p.config_lines()} for p in found],
                         ensure_ascii=False, indent=2))
    else:
        print(render(found))
    sys.stdout.flush()
    return 0
