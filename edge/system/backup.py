"""Online backups of the queue database and a restore that never writes under a running service.

A backup goes through SQLite's backup API on a connection of its own: a consistent copy
while the service keeps committing, never a file copy of a WAL database (a copy of
`kezek.db` alone misses every commit still in `kezek.db-wal`). A restore takes the
service's identity lock first, so it cannot replace the files of a running service and
the service cannot start while it works; it refuses a backup older than the state it
would replace unless forced, and keeps that state as a backup of its own first.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from edge.errors import KezekError

logger = logging.getLogger(__name__)

DB_NAME = "kezek.db"
SIDE_FILES = ("-wal", "-shm")
# Pages copied per step: small steps let the service's writes go between them.
STEP_PAGES = 256


class BackupError(KezekError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class DbSummary:
    """What a database holds, read without changing it."""

    path: Path
    schema: int
    last_seq: int          # the newest event's sequence number: it only grows
    tickets: int
    db_id: str | None      # the database's id for central (sync.db_id), None before sync
    newest_ms: int | None  # the newest ticket's issue time

    def describe(self) -> str:
        when = (dt.datetime.fromtimestamp(self.newest_ms / 1000).strftime("%Y-%m-%d %H:%M")
                if self.newest_ms else "no tickets")
        return (f"schema v{self.schema}, {self.tickets} tickets (newest {when}), "
                f"event seq {self.last_seq}")


def summarize(path: Path) -> DbSummary:
    """Read a database's schema, last event seq, ticket count and id, read-only."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as e:
        raise BackupError(f"{path}: cannot open: {e}") from None
    try:
        schema = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables or "tickets" not in tables:
            raise BackupError(f"{path}: not a Kezek queue database (no meta/tickets tables)")
        meta = dict(conn.execute("SELECT key, value FROM meta WHERE key IN "
                                 "('last_seq', 'sync.db_id')").fetchall())
        tickets, newest = conn.execute("SELECT COUNT(*), MAX(issued_ms) FROM tickets").fetchone()
    except sqlite3.DatabaseError as e:
        raise BackupError(f"{path}: cannot read it ({e}); is it a Kezek database?") from None
    finally:
        conn.close()
    db_id = meta.get("sync.db_id")
    if isinstance(db_id, str) and db_id.startswith('"'):
        db_id = json.loads(db_id)
    return DbSummary(path, schema, int(meta.get("last_seq") or 0), int(tickets),
                     db_id if isinstance(db_id, str) else None,
                     int(newest) if newest is not None else None)


def backup_name(site: str, device: str, now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now))
    return f"kezek-{site}-{device}-{stamp}.db"


def online_backup(source: Path, target: Path) -> DbSummary:
    """Copy `source` (maybe in use) to `target` with SQLite's backup API, then check it.

    The copy is written to `target`.partial and renamed once complete and checked, so a
    pulled USB stick never leaves a file that looks like a good backup.
    """
    if not source.is_file():
        raise BackupError(f"{source}: no database to back up (has the service ever run with "
                          "this state folder? check storage.state_dir)")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    # Read-only on the source: the copy never writes the service's files (as root, SQLite
    # gives any -wal/-shm it must create the database file's owner).
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dest = sqlite3.connect(str(partial))
        try:
            # A commit by the service between steps restarts the copy from the first page;
            # small steps with a pause let a busy service through without starving us.
            src.backup(dest, pages=STEP_PAGES, sleep=0.005)
            # The copy is a plain file: no WAL beside it on a stick that may be pulled.
            dest.execute("PRAGMA journal_mode=DELETE")
            check = [r[0] for r in dest.execute("PRAGMA integrity_check(5)")]
        finally:
            dest.close()
    except sqlite3.Error as e:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup of {source} to {target} failed: {e}") from None
    finally:
        src.close()
    if check != ["ok"]:
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy of {source} failed its integrity check ({check[0]}): the "
                          "database itself may be damaged; run kezek doctor")
    _fsync_file(partial)
    os.replace(partial, target)
    _fsync_dir(target.parent)
    return summarize(target)


# -- restore -----------------------------------------------------------------------------

@dataclass(frozen=True)
class RestorePlan:
    backup: DbSummary
    current: DbSummary | None
    refusal: str | None   # why it needs --force (None: safe as it is)


def plan_restore(backup: Path, db_path: Path, latest_schema: int) -> RestorePlan:
    """What a restore of `backup` over `db_path` would do, and whether it needs --force."""
    b = summarize(backup)
    if b.schema > latest_schema:
        raise BackupError(f"{backup}: schema v{b.schema} is newer than this kezek (v"
                          f"{latest_schema}): update kezek first (kezek update), then restore")
    refusal = None
    try:
        current = summarize(db_path) if db_path.is_file() else None
    except BackupError as e:
        current = None
        refusal = (f"the database here cannot be read ({e}); with --force it is moved aside "
                   "into backups/ (kezek-damaged-<time>.db) and the backup takes its place")
    if current is not None:
        if current.db_id and b.db_id and current.db_id != b.db_id:
            refusal = (f"the backup is of another database (id {b.db_id}, this box's is "
                       f"{current.db_id}): it may come from another center or an older card")
        elif current.last_seq > b.last_seq:
            refusal = (f"the state here is newer than the backup (event seq {current.last_seq} "
                       f"here, {b.last_seq} in the backup): restoring loses "
                       f"{current.last_seq - b.last_seq} events and the tickets after it")
    return RestorePlan(b, current, refusal)


def restore(backup: Path, db_path: Path, *, owner: tuple[int, int] | None = None,
            keep_dir: Path | None = None) -> Path | None:
    """Replace `db_path` with a checked copy of `backup`. The caller holds the service's
    identity lock (the service is stopped). Returns where the replaced state was kept.

    The replaced database is first saved whole (its WAL included) with the backup API to
    `keep_dir`; its -wal and -shm files are then removed, because SQLite would replay an
    old WAL onto the restored file.
    """
    keep_dir = keep_dir or db_path.parent / "backups"
    kept: Path | None = None
    stamp = time.strftime('%Y%m%dT%H%M%S')
    if db_path.is_file():
        kept = keep_dir / f"{db_path.stem}-before-restore-{stamp}.db"
        try:
            online_backup(db_path, kept)
            # Fold the WAL in and let SQLite delete it: the last connection to close does.
            conn = sqlite3.connect(str(db_path), timeout=30)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                conn.close()
        except (BackupError, sqlite3.Error):
            # Damaged: kept as it is, its WAL beside it, for `sqlite3 .recover` later.
            kept = keep_dir / f"{db_path.stem}-damaged-{stamp}.db"
            keep_dir.mkdir(parents=True, exist_ok=True)
            for suffix in ("", *SIDE_FILES):
                if Path(str(db_path) + suffix).exists():
                    os.replace(str(db_path) + suffix, str(kept) + suffix)
        _fix_owner(kept, owner)
    staged = db_path.with_name(db_path.name + ".restoring")
    staged.unlink(missing_ok=True)
    try:
        online_backup(backup, staged)
        conn = sqlite3.connect(str(staged))
        try:
            conn.execute("PRAGMA journal_mode=WAL")  # as the service keeps it
        finally:
            conn.close()
        _fix_owner(staged, owner)
        os.chmod(staged, 0o640)
        for suffix in SIDE_FILES:
            Path(str(db_path) + suffix).unlink(missing_ok=True)
        os.replace(staged, db_path)
        _fsync_dir(db_path.parent)
    finally:
        staged.unlink(missing_ok=True)
    return kept


def _fix_owner(path: Path, owner: tuple[int, int] | None) -> None:
    if owner is not None and os.geteuid() == 0:
        os.chown(path, *owner)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # vfat sticks may refuse a directory fsync; the file itself was synced
    finally:
        os.close(fd)


def removable_mounts(mounts: Path = Path("/proc/self/mounts")) -> list[Path]:
    """Mounted USB sticks: file systems under /media or /run/media or /mnt."""
    found: list[Path] = []
    try:
        text = mounts.read_text(encoding="utf-8")
    except OSError:
        return found
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or not parts[0].startswith("/dev/"):
            continue
        where = parts[1].replace("\\040", " ")
        if where.startswith(("/media/", "/run/media/", "/mnt/")):
            found.append(Path(where))
    return found
