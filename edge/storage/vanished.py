"""Database files deleted or moved while the service runs, and saving what they held.

SQLite writes through the descriptors it opened, not through the names: after `rm
kezek.db-wal`, `rm -rf /var/lib/kezek` or an unmounted disk, every commit still succeeds
into a deleted file and is lost at the next start (a power cut for the WAL; any restart for
the database itself). So the names are compared with the files opened at start (device and
inode, three stat calls) and, once one differs, commits are refused and what the open
connection holds is saved where a start finds it again:

- the -wal or -shm file deleted: a TRUNCATE checkpoint copies every committed page into the
  database file (still the right one), then a restart makes new ones;
- the database file itself gone: a full copy (SQLite's backup API, from the open connection)
  written back to its path, the state folder made again if needed, then a restart; if that
  path cannot be written (under systemd the state folder cannot be recreated from inside
  the service), a copy in `rescue_dir` (the service's runtime folder, /run/kezek) that the
  IT person puts back by hand, while the service keeps running and keeps the data.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

from edge.errors import StorageError

logger = logging.getLogger(__name__)

# A failed save (the folder not there yet, a reader holding the WAL) is tried again this
# often, not at every check: a checkpoint waits up to busy_timeout on the loop's thread.
RETRY_S = 10.0
_SUFFIXES = ("", "-wal", "-shm")
_FileId = tuple[int, int]


def _file_id(path: str) -> _FileId | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


class VanishedFiles:
    """Owned by the store; check() runs on the controller's thread."""

    def __init__(self, path: Path, conn: sqlite3.Connection, rescue_dir: Path | None) -> None:
        self.path = Path(path)
        self.conn = conn
        self.rescue_dir = Path(rescue_dir) if rescue_dir is not None else None
        # After the start's reads in WAL mode the -wal and -shm files exist; one that does
        # not (a read-only open by a tool) is simply not watched.
        self._opened = {suffix: _file_id(f"{self.path}{suffix}") for suffix in _SUFFIXES}
        self.error: StorageError | None = None
        self.gone = ""                 # which file: "" (the database), "-wal" or "-shm"
        self.saved_in_place = False    # every commit is back at self.path
        self.copy: Path | None = None  # or a copy of them is here
        self._next_try = 0.0

    def check(self) -> StorageError | None:
        if self.error is None:
            gone = self._first_gone()
            if gone is None:
                return None
            self.gone = gone
            self._next_try = 0.0
        if not self.saved_in_place and time.monotonic() >= self._next_try:
            self._next_try = time.monotonic() + RETRY_S
            self._save()
        return self.error

    def _first_gone(self) -> str | None:
        for suffix, opened in self._opened.items():
            if opened is None:
                continue
            try:
                now = _file_id(f"{self.path}{suffix}")
            except OSError:
                continue  # an unreadable card: the commits report it, not this check
            if now != opened:
                return suffix
        return None

    # -- saving what the open files hold ---------------------------------------------
    def _save(self) -> None:
        problem = ""
        try:
            if self.gone:
                self._checkpoint()
            else:
                self._write_back()
            self.saved_in_place = True
        except (sqlite3.Error, OSError) as e:
            problem = str(e)
            if not self.gone and self.copy is None and self.rescue_dir is not None:
                try:
                    self.copy = self._write_copy()
                except (sqlite3.Error, OSError) as copy_error:
                    problem += f"; a copy to {self.rescue_dir} failed too: {copy_error}"
        self.error = StorageError(self._message(problem), "missing")

    def _checkpoint(self) -> None:
        # The database file is the right one: copy every frame of the (deleted) WAL into it.
        busy, log, done = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy or log != done:
            raise sqlite3.OperationalError(
                f"the checkpoint copied {done} of {log} pages (a reader holds the WAL)")

    def _write_back(self) -> None:
        if os.path.lexists(self.path):
            # Another file is there now (a restored backup, a new database): it is not
            # overwritten; the IT person chooses (the copy is kept apart).
            raise FileExistsError(f"{self.path} is now another file; it is left as it is")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".rescue")
        self._backup_to(tmp)
        os.replace(tmp, self.path)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)  # the rename itself must survive a power cut
        finally:
            os.close(fd)

    def _write_copy(self) -> Path:
        assert self.rescue_dir is not None
        target = self.rescue_dir / f"{self.path.stem}-rescued-{time.strftime('%Y%m%dT%H%M%S')}.db"
        self._backup_to(target)
        return target

    def _backup_to(self, target: Path) -> None:
        target.unlink(missing_ok=True)
        dest = sqlite3.connect(str(target))
        try:
            # From the open connection: it still reads the deleted files, WAL included.
            self.conn.backup(dest)
        finally:
            dest.close()

    def _message(self, problem: str) -> str:
        folder = self.path.parent
        name = f"{self.path}{self.gone}"
        if self.gone:
            what = (f"{name} was deleted while the service ran (SQLite went on writing into "
                    "the deleted file, and a power cut would have lost every ticket since)")
        else:
            what = (f"{name} was deleted or moved while the service ran (its state folder "
                    f"{folder} removed or renamed, or its disk unmounted)")
        stop_it = (f"find what deletes files in {folder} (a clean-up script, a cron job, a "
                   "person) and stop it: Kezek's files there must stay")
        if self.saved_in_place:
            where = "into the database file" if self.gone else f"back to {self.path}"
            return (f"{what}; everything saved so far was written {where}, nothing is lost; "
                    f"the service restarts to continue with it; fix: {stop_it}")
        held = (f"{what}; commands are refused, and this running service holds every saved "
                f"ticket: DO NOT stop or restart it before they are back on the card "
                f"(it could not save them: {problem})")
        if self.copy is not None:
            return (f"{held}; a copy of everything is at {self.copy}; fix: put it back and "
                    f"restart: `sudo install -d -o kezek -g kezek -m 750 {folder} && sudo "
                    f"install -o kezek -g kezek -m 640 {self.copy} {self.path} && sudo "
                    f"systemctl restart kezek`; then {stop_it}")
        return (f"{held}; fix: make {folder} writable again (remount its disk, or `sudo "
                f"install -d -o kezek -g kezek -m 750 {folder}`): the service tries again "
                f"every {RETRY_S:.0f} s and restarts by itself once saved; then {stop_it}")
