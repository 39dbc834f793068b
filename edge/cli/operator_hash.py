"""`kezek operator-hash`: read a PIN from stdin, print the `secret = "..."` line for the
operator's [[operators]] entry (only the slow salted hash is ever kept)."""

from __future__ import annotations

import argparse
import getpass
import sys

MIN_PIN = 4
MAX_PIN = 128


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("operator-hash",
                       help="hash an operator's PIN for [[operators]] (reads it from stdin)")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from edge.web.secrets import hash_secret
    if sys.stdin.isatty():
        pin = getpass.getpass("PIN: ")
        if getpass.getpass("PIN again: ") != pin:
            print("the two PINs differ; nothing hashed", file=sys.stderr)
            return 1
    else:
        pin = sys.stdin.readline().rstrip("\r\n")
    if not MIN_PIN <= len(pin) <= MAX_PIN:
        print(f"a PIN has {MIN_PIN} to {MAX_PIN} characters (got {len(pin)}); nothing hashed",
              file=sys.stderr)
        return 1
    print(f'secret = "{hash_secret(pin)}"')
    return 0
