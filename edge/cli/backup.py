"""`kezek backup` and `kezek restore`: an online copy of the queue database, and its way back."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = Path("/etc/kezek/kezek.toml")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backup", help="copy the queue database while the service runs "
                                      "(SQLite's online backup) to a file, a folder or a USB stick")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                   help=f"the center's config (default {DEFAULT_CONFIG})")
    p.add_argument("--state-dir", type=Path, default=None, help="overrides storage.state_dir")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--to", type=Path, default=None, metavar="FILE|DIR",
                       help="a .db file, or a folder to put kezek-<site>-<device>-<time>.db in "
                            "(default: the state folder's backups/)")
    where.add_argument("--usb", action="store_true",
                       help="to the one USB stick mounted under /media (or /run/media, /mnt)")
    p.set_defaults(func=handle_backup)

    r = sub.add_parser("restore", help="put a backup back in place of the queue database "
                                       "(the service must be stopped, or --stop-service)")
    r.add_argument("file", type=Path, help="the backup (.db) to restore")
    r.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                   help=f"the center's config (default {DEFAULT_CONFIG})")
    r.add_argument("--state-dir", type=Path, default=None, help="overrides storage.state_dir")
    r.add_argument("--force", action="store_true",
                   help="restore even over a newer state or another database's (that state "
                        "is still kept in backups/)")
    r.add_argument("--stop-service", action="store_true",
                   help="stop kezek.service first and start it again afterwards")
    r.set_defaults(func=handle_restore)


def _load(args: argparse.Namespace) -> tuple[Any, Path] | None:
    from edge.config import load_config_or_report
    config = load_config_or_report(args.config)
    if config is None:
        return None
    return config, Path(args.state_dir or config.storage.state_dir)


def _owner(folder: Path) -> tuple[int, int] | None:
    try:
        st = folder.stat()
    except OSError:
        return None
    return st.st_uid, st.st_gid


def handle_backup(args: argparse.Namespace) -> int:
    from edge.system.backup import (DB_NAME, BackupError, backup_name, online_backup,
                                    removable_mounts)
    loaded = _load(args)
    if loaded is None:
        return 1
    config, state_dir = loaded
    name = backup_name(config.center.site, config.center.device)
    if args.usb:
        sticks = removable_mounts()
        if len(sticks) != 1:
            found = ", ".join(map(str, sticks)) or "none"
            print(f"kezek backup: --usb needs exactly one mounted USB stick (found: {found}); "
                  "plug one in, or name the folder with --to", file=sys.stderr)
            return 1
        target = sticks[0] / name
    elif args.to is None:
        target = state_dir / "backups" / name
    elif args.to.is_dir() or str(args.to).endswith("/"):
        target = args.to / name
    else:
        target = args.to
    inside_state = state_dir in target.parents
    try:
        summary = online_backup(state_dir / DB_NAME, target)
    except (BackupError, OSError) as e:
        print(f"kezek backup: {e}", file=sys.stderr)
        return 1
    if inside_state and os.geteuid() == 0:
        # The service must still own its folder: it writes its own backups there later.
        owner = _owner(state_dir)
        if owner:
            for p in (target, target.parent):
                os.chown(p, *owner)
    print(f"backup written: {target} ({summary.describe()})")
    return 0


def handle_restore(args: argparse.Namespace) -> int:
    from edge.storage.migrations import LATEST
    from edge.sync.lock import DatabaseInUse, acquire_database_lock, lock_path
    from edge.system.backup import DB_NAME, BackupError, plan_restore, restore
    from edge.system.units import SystemdUnit, UnitError

    loaded = _load(args)
    if loaded is None:
        return 1
    config, state_dir = loaded
    db_path = state_dir / DB_NAME
    try:
        plan = plan_restore(args.file, db_path, LATEST)
    except BackupError as e:
        print(f"kezek restore: {e}", file=sys.stderr)
        return 1
    print(f"backup:  {args.file}: {plan.backup.describe()}")
    print(f"current: {db_path}: " + (plan.current.describe() if plan.current else "none"))
    if plan.refusal and not args.force:
        print(f"kezek restore: refused: {plan.refusal}. Nothing was changed. Pass --force to "
              "restore anyway (the current state is kept in backups/ first)", file=sys.stderr)
        return 1
    unit = SystemdUnit()
    stopped = False
    try:
        lock = acquire_database_lock(db_path)
    except DatabaseInUse:
        if not args.stop_service:
            print(f"kezek restore: the service is running on {state_dir}: a restore must not "
                  "replace the database under it. Stop it first (sudo systemctl stop kezek), "
                  "or pass --stop-service (stops it, restores, starts it again)",
                  file=sys.stderr)
            return 1
        try:
            unit.stop()
        except (UnitError, OSError) as e:
            print(f"kezek restore: cannot stop the service: {e}", file=sys.stderr)
            return 1
        stopped = True
        print("stopped kezek.service")
        lock = _wait_for_lock(db_path)
        if lock is None:
            print("kezek restore: the service stopped but another kezek process still holds "
                  f"{lock_path(db_path)}; stop it and try again", file=sys.stderr)
            return 1
    owner = _owner(state_dir)
    if owner and os.geteuid() == 0:
        os.chown(lock.path, *owner)
    try:
        kept = restore(args.file, db_path, owner=owner)
    except (BackupError, OSError) as e:
        print(f"kezek restore: {e}; the database was not replaced", file=sys.stderr)
        return 1
    finally:
        lock.release()
    if kept is not None and owner and os.geteuid() == 0:
        os.chown(kept.parent, *owner)
    print(f"restored {db_path} from {args.file}"
          + (f"; the state it replaced is kept as {kept}" if kept else ""))
    if stopped:
        try:
            unit.start()
        except (UnitError, OSError) as e:
            print(f"kezek restore: restored, but starting the service failed: {e}; "
                  "run: sudo systemctl start kezek", file=sys.stderr)
            return 1
        print("started kezek.service again (kezek status shows the queue)")
    return 0


def _wait_for_lock(db_path: Path, timeout: float = 30.0) -> Any:
    from edge.sync.lock import DatabaseInUse, acquire_database_lock
    deadline = time.monotonic() + timeout
    while True:
        try:
            return acquire_database_lock(db_path)
        except DatabaseInUse:
            if time.monotonic() > deadline:
                return None
            time.sleep(0.2)
