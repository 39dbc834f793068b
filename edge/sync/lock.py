"""One process per database: an exclusive flock on `<database>.lock` beside the database.

`kezek run` takes it before it opens (or migrates) the database; the sync link takes it
again (the same process gets the same lock back). A second process on the same database
refuses to start, whatever identity (center.site / center.device) its config gives: two
processes on one database hand out the same ticket numbers and the second one's outbox
rows collide with the first's (`UNIQUE constraint failed: outbox.seq`). The kernel frees
the lock when the process ends, even on kill -9.

Two processes with one identity on different databases (another folder, another machine)
cannot see each other's lock: the broker then takes the session from one whenever the
other connects, which the link reports as the alarm `sync.identity` (edge/sync/identity.py).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path

from edge.errors import KezekError

logger = logging.getLogger(__name__)


class DatabaseInUse(KezekError):
    """Another running process already uses this database."""


class DatabaseLock:
    """A held lock; release() (or process exit, even kill -9) frees it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        with _registry_lock:
            if self._fd is None:
                return
            _held.pop(_key(self.path), None)
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


_registry_lock = threading.Lock()
_held: dict[str, DatabaseLock] = {}


def lock_path(db_path: Path) -> Path:
    return Path(db_path).with_name(Path(db_path).name + ".lock")


def _key(path: Path) -> str:
    # One key per file however it is named (a relative --state-dir, a symlinked folder).
    return os.path.realpath(path)


def acquire_database_lock(db_path: Path) -> DatabaseLock:
    """Take (or get back, within this process) the database's lock; DatabaseInUse if taken."""
    path = lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = _key(path)
    with _registry_lock:
        held = _held.get(key)
        if held is not None and held.held:
            return held
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                other = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            finally:
                os.close(fd)
            # No advice to change center.device here: with another identity the second
            # process would still open this same database.
            raise DatabaseInUse(
                f"{db_path}: another Kezek process (pid {other}) already runs on this "
                f"database; two processes on one database would hand out the same ticket "
                f"numbers. Stop the other one first (systemctl stop kezek, or `quit` on its "
                f"console); `kezek status` shows what the running one does") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        lock = DatabaseLock(path, fd)
        _held[key] = lock
        logger.debug("database lock %s taken", path)
        return lock
