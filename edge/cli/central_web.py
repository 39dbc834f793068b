"""`kezek central staff ...` (the Situational Center's accounts), `kezek central web` (the
screens alone) and the --web-* options of `kezek central run`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable


def web_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--web-port", type=int, metavar="PORT",
                   help="serve the Situational Center's screens on PORT (default: off unless "
                        "--web-config or this is given; the config's [web] port)")
    p.add_argument("--web-bind", metavar="ADDR", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--web-config", type=Path, metavar="FILE",
                   help="TOML: [web], [standards.<service>], [sites.<site>] (docs/central.md)")


def wants_web(args: argparse.Namespace) -> bool:
    return args.web_port is not None or args.web_config is not None


def start_web(args: argparse.Namespace, store: Any, timezone: str,
              listeners: list[Any] | None = None) -> Any:
    """The screens over an open store, started, with the visitor's ticket page beside them
    (/t/<token>, the only public page); raises ValueError for a bad config. `listeners`:
    central's, when it stores here (a stored batch wakes its site's ticket pages at once;
    without, they read again every few seconds)."""
    from edge.central.ticket_page.routes import SiteChanges, ticket_page_routes
    from edge.central.web.config import load_web_config
    from edge.central.web.service import CentralWeb
    from edge.clock import SystemClock
    cfg = load_web_config(args.web_config)
    changes = SiteChanges()
    if listeners is not None:
        listeners.append(lambda site, device, result: changes.publish(site))

    def names(site: str, service: str) -> dict[str, str] | None:
        known = cfg.services.get(service)
        return None if known is None else {k: v for k, v in known.model_dump().items() if v}

    pages = ticket_page_routes(store, SystemClock(), names=names, changes=changes)
    web = CentralWeb(store, cfg, timezone=timezone, bind=args.web_bind, port=args.web_port,
                     extra_routes=pages)
    web.start()
    return web


def register_web(csub: Any, db_arg: Any) -> None:
    web = csub.add_parser("web", help="serve only the Situational Center's screens over a store "
                                      "(any number, beside the `run` instances)")
    db_arg(web)
    web_args(web)
    web.add_argument("--timezone", default="Asia/Almaty", help="IANA zone of the business day")
    web.set_defaults(func=_web)

    st = csub.add_parser("staff", help="the Situational Center's staff accounts")
    ssub = st.add_subparsers(dest="staff_command", metavar="ACTION")
    ssub.required = True
    add = ssub.add_parser("add", help="add an account, or set its role and password "
                                      "(the password is read from stdin)")
    db_arg(add)
    add.add_argument("name")
    add.add_argument("--role", default="viewer", choices=["viewer", "admin"],
                     help="viewer: reads every screen and report; admin: also manages the "
                          "accounts (the web's /accounts)")
    add.set_defaults(func=_staff_add)
    role = ssub.add_parser("role", help="change an account's role (its password stays)")
    db_arg(role)
    role.add_argument("name")
    role.add_argument("role", choices=["viewer", "admin"])
    role.set_defaults(func=_staff_role)
    rm = ssub.add_parser("remove", help="remove an account")
    db_arg(rm)
    rm.add_argument("name")
    rm.set_defaults(func=_staff_remove)
    ls = ssub.add_parser("list", help="list the accounts (never their passwords)")
    db_arg(ls)
    ls.set_defaults(func=_staff_list)


def open_or_say(db: str, pool_size: int) -> Any:
    """The store at `db`, or None after saying on stderr why it cannot be opened."""
    from edge.central.store import describe, open_store, why_not_opened
    try:
        return open_store(db, pool_size=pool_size)
    except Exception as e:
        print(f"kezek central: cannot open the store {describe(db)}: {why_not_opened(e)}",
              file=sys.stderr)
        return None


def _store(args: argparse.Namespace) -> Any:
    return open_or_say(args.db, 2)


def _staff_change(args: argparse.Namespace, change: Callable[[Any], tuple[int, str]]) -> int:
    """Run one account change on the store: its exit code and line, or the refusal (1 for
    an unknown account, 2 for a change refused, e.g. the last admin)."""
    from edge.central import staff
    store = _store(args)
    if store is None:
        return 1
    try:
        rc, line = change(store)
    except staff.StaffError as e:
        print(f"kezek central staff: {e}", file=sys.stderr)
        return 1 if e.code == "unknown" else 2
    finally:
        store.close()
    print(line, file=sys.stdout if rc == 0 else sys.stderr)
    return rc


def _staff_add(args: argparse.Namespace) -> int:
    from edge.central import staff
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        staff.check_new(args.name, args.role, password)
    except staff.StaffError as e:
        print(f"kezek central staff: {e}", file=sys.stderr)
        return 2

    def add(store: Any) -> tuple[int, str]:
        new = staff.add(store, args.name, args.role, password)
        return 0, f"{args.name}: {'added' if new else 'updated'} ({args.role})"
    return _staff_change(args, add)


def _staff_role(args: argparse.Namespace) -> int:
    from edge.central import staff

    def role(store: Any) -> tuple[int, str]:
        staff.set_role(store, args.name, args.role)
        return 0, f"{args.name}: now {args.role} (open sessions follow within seconds)"
    return _staff_change(args, role)


def _staff_remove(args: argparse.Namespace) -> int:
    from edge.central import staff

    def remove(store: Any) -> tuple[int, str]:
        if staff.remove(store, args.name):
            return 0, f"{args.name}: removed (its open sessions end within seconds)"
        return 1, f"kezek central staff: no account {args.name!r}"
    return _staff_change(args, remove)


def _staff_list(args: argparse.Namespace) -> int:
    from edge.central import staff
    store = _store(args)
    if store is None:
        return 1
    try:
        for a in staff.accounts(store):
            print(f"{a['name']}\t{a['role']}")
    finally:
        store.close()
    return 0


def _web(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    store = _store(args)
    if store is None:
        return 1
    try:
        web = start_web(args, store, args.timezone)
    except ValueError as e:
        print(f"kezek central web: {e}", file=sys.stderr)
        store.close()
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        web.stop()
        store.close()
    return 0
