"""`kezek update --from WHEEL|DIR`: install beside the running version, switch, roll back by itself."""

from __future__ import annotations

import argparse
import logging
import os
import pwd
import shutil
import signal
import sys
from pathlib import Path

DEFAULT_CONFIG = Path("/etc/kezek/kezek.toml")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "update", help="install a new version beside the running one, switch to it, and go "
                       "back by itself if it does not become ready",
        description="Installs the wheel (or the release folder: the kezek-edge wheel and its "
                    "dependencies' wheels) as a new release under /opt/kezek/releases, stops "
                    "the service, backs up the database, switches /opt/kezek/venv to the new "
                    "release and starts the service. If it is not ready (systemd notify) "
                    "within --ready-timeout, or stops within --settle seconds after, the "
                    "previous release is put back (and the database backup, if the new "
                    "version changed its schema). The steps are in the journal, in "
                    "`kezek status` and in the health sent to central.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--from", dest="source", type=Path, metavar="WHEEL|DIR",
                      help="a kezek_edge-*.whl, or a folder with it and its dependencies")
    what.add_argument("--release", type=Path, metavar="DIR",
                      help="put an already installed release folder in service (install.sh)")
    what.add_argument("--rollback", action="store_true",
                      help="go back to the release in service before the last update")
    what.add_argument("--show", action="store_true", help="print the last update's record")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                   help=f"the center's config, for the state folder (default {DEFAULT_CONFIG})")
    p.add_argument("--ready-timeout", type=float, default=120.0, metavar="S",
                   help="seconds the new version has to become ready (default 120)")
    p.add_argument("--settle", type=float, default=10.0, metavar="S",
                   help="seconds it must stay up after ready (default 10)")
    p.add_argument("--pip-args", default="",
                   help='extra pip arguments, e.g. "--no-index" (a release folder is always '
                        "searched first)")
    p.add_argument("--supervisor", choices=("auto", "systemd", "process", "none"),
                   default="auto", help="how the service is run: systemd (default when booted "
                                        "with it); process: run it ourselves with a notify "
                                        "socket (an image's chroot, a container); none: "
                                        "switch only")
    p.add_argument("--opt", type=Path, default=Path("/opt/kezek"), help=argparse.SUPPRESS)
    p.set_defaults(func=handle)


def _pin_to_real_release() -> None:
    """Run from the release's own folder, not through /opt/kezek/venv: the switch below
    would otherwise change the code under this process for every later import."""
    real = os.path.realpath(sys.prefix)
    if real != sys.prefix and os.environ.get("KEZEK_UPDATE_PINNED") != "1":
        os.environ["KEZEK_UPDATE_PINNED"] = "1"
        python = os.path.join(real, "bin", "python")
        os.execv(python, [python, "-m", "edge.cli", *sys.argv[1:]])


def _journal_logging() -> None:
    """The steps go to the journal (as kezek-update) as well as to the terminal."""
    from logging.handlers import SysLogHandler
    log = logging.getLogger("kezek.update")
    log.setLevel(logging.INFO)
    log.propagate = False  # the terminal gets each step from print() already
    log.addHandler(logging.NullHandler())
    if os.path.exists("/dev/log"):
        try:
            handler = SysLogHandler(address="/dev/log")
            handler.ident = "kezek-update: "
            log.addHandler(handler)
        except OSError:
            pass


def handle(args: argparse.Namespace) -> int:
    # Imported now, before any switch: see _pin_to_real_release.
    from edge.config import load_config_or_report
    from edge.service import DB_NAME
    from edge.system import backup as backup_mod
    from edge.system.releases import ReleaseError, Releases, install_release
    from edge.system.sdlayout import sd_layout
    from edge.system.update import Updater, UpdateDeps, read_record
    from edge.system.units import ProcessUnit, SystemdUnit, booted_with_systemd

    config = load_config_or_report(args.config)
    if config is None:
        return 1
    state_dir = Path(config.storage.state_dir)
    if args.show:
        record = read_record(state_dir)
        if record is None:
            print("no update recorded")
            return 0
        print(f"{record.from_version} -> {record.to_version}: {record.state} ({record.detail})")
        for line in record.history:
            print(f"  {line}")
        return 0 if record.ok else 1
    if args.opt == Path("/opt/kezek") and os.geteuid() != 0:
        print("kezek update: run it as root (sudo kezek update ...)", file=sys.stderr)
        return 1
    layout = sd_layout(Path("/opt/kezek"))
    if layout is not None and layout.name.startswith("read-only"):
        print("kezek update: the system is read-only (overlay file system): a new version "
              "written now would vanish at the next reboot. Turn the overlay off (sudo "
              "raspi-config nonint disable_overlayfs && sudo reboot), update, then turn it on "
              "again (docs/operations.md, 'Updates')", file=sys.stderr)
        return 1
    _pin_to_real_release()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a dropped SSH session must not stop a rollback
    _journal_logging()

    releases = Releases(args.opt)
    current = releases.current()
    if args.rollback:
        record = read_record(state_dir)
        if record is None or not record.from_release:
            print("kezek update: no earlier release recorded to go back to", file=sys.stderr)
            return 1
        new = releases.load(Path(record.from_release))
    elif args.release is not None:
        new = releases.load(args.release.resolve())
    else:
        print(f"installing {args.source} beside kezek {current.version if current else '-'} ...")
        try:
            new = install_release(args.source, releases, pip_args=args.pip_args.split(),
                                  seed=current,
                                  python=getattr(sys, "_base_executable", "/usr/bin/python3"))
        except (ReleaseError, OSError) as e:
            print(f"kezek update: {e}\nnothing was changed: the service runs as before",
                  file=sys.stderr)
            return 1
        print(f"installed kezek {new.version} in {new.path}")
    if current is not None and new.path == current.path:
        print(f"kezek {new.version} ({new.path}) is already in service")
        return 0

    supervisor = args.supervisor
    if supervisor == "auto":
        supervisor = "systemd" if booted_with_systemd() else "none"
    unit: object
    if supervisor == "systemd":
        unit = SystemdUnit()
    elif supervisor == "process":
        run_as = _run_as_prefix()
        unit = ProcessUnit([*run_as, str(args.opt / "venv" / "bin" / "kezek"), "run",
                            "--config", str(args.config)],
                           Path("/run/kezek-update/service.pid"),
                           log=Path("/run/kezek-update/service.log"))
    else:
        releases.switch(new)
        print(f"switched to kezek {new.version} (not booted with systemd: nothing restarted)")
        return 0

    owner = _owner(state_dir)

    def backup(db: Path, target: Path) -> None:
        backup_mod.online_backup(db, target)
        if owner and os.geteuid() == 0:
            os.chown(target.parent, *owner)
            os.chown(target, *owner)

    def restore(saved: Path, db: Path) -> None:
        backup_mod.restore(saved, db, owner=owner)

    updater = Updater(UpdateDeps(unit=unit, releases=releases, state_dir=state_dir,
                                 db_path=state_dir / DB_NAME, backup=backup, restore=restore),
                      ready_timeout_s=args.ready_timeout, settle_s=args.settle)
    record = updater.activate(new)
    if record.state == "done":
        gone = releases.prune(protect=[r for r in (current,) if r is not None])
        for path in gone:
            print(f"removed the old release {path}")
        return 0
    if record.state == "rolled_back" and not args.rollback and args.release is None:
        # Known not to start: kept out of the way of the next try (and of the card's space).
        shutil.rmtree(new.path, ignore_errors=True)
        print(f"removed the release that did not start: {new.path}")
    print(f"kezek update: {record.state}: {record.detail}", file=sys.stderr)
    return 1


def _owner(folder: Path) -> tuple[int, int] | None:
    try:
        st = folder.stat()
    except OSError:
        return None
    return st.st_uid, st.st_gid


def _run_as_prefix() -> list[str]:
    """As the unit does (User=kezek), when that user exists and we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("kezek")
    except KeyError:
        return []
    return ["setpriv", "--reuid=kezek", "--regid=kezek", "--init-groups"]
