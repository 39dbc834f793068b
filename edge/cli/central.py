"""`kezek central ...`: the reference central (run), downlink publishing, summary, schemas,
the store's migrations and the fleet benchmark."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
DB_HELP = ("the store: a SQLite file (default central.db), or a PostgreSQL URL "
           "postgresql://USER@HOST:PORT/DB (password from $PGPASSWORD or ~/.pgpass, never "
           "on the command line); default $KEZEK_CENTRAL_DB, else central.db")


def _db_arg(p: argparse.ArgumentParser) -> None:
    import os
    p.add_argument("--db", default=os.environ.get("KEZEK_CENTRAL_DB", "central.db"),
                   help=DB_HELP)


def _broker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="localhost", help="broker host")
    p.add_argument("--port", type=int, default=8883, help="broker port (1883 without TLS)")
    p.add_argument("--no-tls", action="store_true", help="plain TCP (test benches only)")
    p.add_argument("--ca", type=Path, help="CA file of the broker's certificate")
    p.add_argument("--cert", type=Path, help="client certificate (PEM)")
    p.add_argument("--key", type=Path, help="client key (PEM)")
    p.add_argument("--username", help="MQTT user; the password is read from $KEZEK_CENTRAL_PASSWORD")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("central", help="the reference central server and its tools",
                       description="The reference central: stores every edge's events once, "
                                   "pushes cfg, bookings and commands (docs/sync.md).")
    csub = p.add_subparsers(dest="central_command", metavar="ACTION")
    csub.required = True

    run = csub.add_parser("run", help="store events from every edge and show a live summary")
    _broker_args(run)
    _db_arg(run)
    run.add_argument("--workers", type=int,
                     help="threads storing batches (default: 4 with PostgreSQL, 1 with SQLite)")
    run.add_argument("--retention-days", type=int, metavar="DAYS",
                     help="delete events filed under a day older than DAYS (PostgreSQL: whole "
                          "months); default: keep everything")
    run.add_argument("--timezone", default="Asia/Almaty",
                     help="IANA zone of the business day events are filed under")
    run.add_argument("--group", default="kezek-central",
                     help="shared subscription group: instances in one group share the load")
    run.add_argument("--publish-dir", type=Path,
                     help="publish DIR/<site>/<device>/{cfg,bookings}.json and cmd/*.json")
    run.add_argument("--summary-every", type=float, default=5.0,
                     help="print the per-site summary every N seconds (0 = never)")
    run.add_argument("--turn-near-url", metavar="URL",
                     help="POST each waiting visitor's ticket here (JSON, once) when N or "
                          "fewer are ahead: for an SMS gateway (docs/central.md)")
    run.add_argument("--turn-near-ahead", type=int, default=3, metavar="N",
                     help="how many ahead count as near (default 3)")
    from edge.cli.central_web import register_web, web_args
    web_args(run)
    run.set_defaults(func=_run)

    pub = csub.add_parser("publish", help="publish a retained cfg or bookings snapshot")
    _broker_args(pub)
    pub.add_argument("kind", choices=["cfg", "bookings"])
    pub.add_argument("--site", required=True)
    pub.add_argument("--device", default="edge-1")
    pub.add_argument("--file", type=Path, required=True,
                     help="JSON with version and config (cfg) or bookings (bookings)")
    pub.set_defaults(func=_publish)

    cmd = csub.add_parser("cmd", help="send one command to an edge")
    _broker_args(cmd)
    cmd.add_argument("name", help="open_window, close_window, pause_window, resume_window, "
                                  "reprint, announce, resend, reload_config")
    cmd.add_argument("--site", required=True)
    cmd.add_argument("--device", default="edge-1")
    cmd.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE",
                     help="a command argument (numbers are sent as numbers)")
    cmd.add_argument("--ttl", type=int, default=300, help="seconds the command stays valid")
    cmd.add_argument("--cmd-id", help="the command id (default: a new UUID)")
    cmd.set_defaults(func=_cmd)

    summ = csub.add_parser("summary", help="print the per-site summary from a central database")
    _db_arg(summ)
    summ.set_defaults(func=_summary)

    mig = csub.add_parser("migrate", help="create or upgrade the store's schema and print "
                                          "its version (run does it too)")
    _db_arg(mig)
    mig.set_defaults(func=_migrate)

    from edge.central.fleet_cli import register_fleet
    register_fleet(csub)
    register_web(csub, _db_arg)

    sch = csub.add_parser("schemas", help="write (or --check) the JSON Schemas in docs/schemas")
    sch.add_argument("--out", type=Path, default=DEFAULT_SCHEMAS)
    sch.add_argument("--check", action="store_true", help="fail if the files are out of date")
    sch.set_defaults(func=_schemas)


def _settings(args: argparse.Namespace) -> Any:
    import os

    from edge.sync.mqtt import BrokerSettings
    return BrokerSettings(host=args.host, port=args.port, tls=not args.no_tls, ca_file=args.ca,
                          cert_file=args.cert, key_file=args.key, username=args.username,
                          password=os.environ.get("KEZEK_CENTRAL_PASSWORD"))


def _run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from edge.central.server import Central
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    from edge.central.store import describe, why_not_opened
    if args.turn_near_ahead < 0:
        print(f"kezek central: --turn-near-ahead must be 0 or more, not {args.turn_near_ahead}",
              file=sys.stderr)
        return 2
    central = Central(_settings(args), args.db, group=args.group, publish_dir=args.publish_dir,
                      summary_every_s=args.summary_every or None, out=sys.stdout,
                      workers=args.workers, retention_days=args.retention_days,
                      timezone=args.timezone)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        central.start()
    except Exception as e:
        print(f"kezek central: cannot open the store {describe(args.db)}: {why_not_opened(e)}",
              file=sys.stderr)
        central.stop()
        return 1
    hook = None
    if args.turn_near_url and central.store is not None:
        from edge.central.ticket_page.webhook import TurnNear
        hook = TurnNear(central.store, args.turn_near_url, ahead=args.turn_near_ahead)
        hook.start()
        central.listeners.append(hook.on_stored)
    web = None
    from edge.cli.central_web import start_web, wants_web
    if wants_web(args):
        try:
            assert central.store is not None
            web = start_web(args, central.store, args.timezone, listeners=central.listeners)
        except ValueError as e:
            print(f"kezek central: {e}", file=sys.stderr)
            if hook is not None:
                hook.stop()
            central.stop()
            return 2
        central.listeners.append(web.on_stored)
    try:
        stop.wait()
    finally:
        if web is not None:
            web.stop()
        if hook is not None:
            hook.stop()
        central.stop()
    return 0


def _one_shot(args: argparse.Namespace, action: Any) -> int:
    from edge.central.server import Central
    central = Central(_settings(args), ":memory:", serve=False,
                      instance=f"central-cli-{args.central_command}")
    central.start()
    try:
        if not central.wait_connected(10):
            print(f"kezek central: cannot reach the broker at {args.host}:{args.port}",
                  file=sys.stderr)
            return 1
        info = action(central)
        if info is not None:
            info.wait_for_publish(timeout=10)
    finally:
        central.stop()
    return 0


def _publish(args: argparse.Namespace) -> int:
    try:
        doc = json.loads(args.file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        print(f"kezek central: {args.file}: {e}", file=sys.stderr)
        return 1
    if not isinstance(doc, dict) or not isinstance(doc.get("version"), int):
        print(f"kezek central: {args.file}: expected a JSON object with an integer 'version'",
              file=sys.stderr)
        return 1
    doc.setdefault("v", 1)
    return _one_shot(args, lambda c: c.publish_snapshot(args.kind, args.site, args.device, doc))


def _value(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text


def _cmd(args: argparse.Namespace) -> int:
    cmd_args = {}
    for item in args.arg:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"kezek central: --arg {item!r}: expected KEY=VALUE", file=sys.stderr)
            return 1
        cmd_args[key] = _value(value)

    def send(c: Any) -> None:
        cmd_id = c.send_command(args.site, args.device, args.name, cmd_args, ttl_s=args.ttl,
                                cmd_id=args.cmd_id)
        print(cmd_id)
    return _one_shot(args, send)


def _open(args: argparse.Namespace) -> Any:
    """The store named by --db, or None after saying why not."""
    from edge.central.store import is_postgres_url
    from edge.cli.central_web import open_or_say
    if not is_postgres_url(args.db) and not Path(args.db).exists():
        print(f"kezek central: {args.db}: no such database", file=sys.stderr)
        return None
    return open_or_say(args.db, 1)


def _summary(args: argparse.Namespace) -> int:
    from edge.central.store import format_summary
    store = _open(args)
    if store is None:
        return 1
    try:
        print(format_summary(store.summary()))
    finally:
        store.close()
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from edge.central.store import describe, is_postgres_url
    from edge.cli.central_web import open_or_say
    store = open_or_say(args.db, 1)
    if store is None:
        return 1
    try:
        kind = "PostgreSQL" if is_postgres_url(args.db) else "SQLite"
        print(f"{describe(args.db)}: {kind}, schema version {store.schema_version}")
    finally:
        store.close()
    return 0


def _schemas(args: argparse.Namespace) -> int:
    from edge.sync.schemas import check_schemas, write_schemas
    if args.check:
        stale = check_schemas(args.out)
        for name in stale:
            print(f"{args.out / name}: out of date; run `kezek central schemas`", file=sys.stderr)
        return 1 if stale else 0
    for path in write_schemas(args.out):
        print(path)
    return 0
