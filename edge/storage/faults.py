"""What a failed SQLite or file operation means for the person who must fix the card.

One place turns sqlite3 / OSError failures into a StorageError whose `kind` says which
fault it is (full, readonly, corrupt, io, busy, missing) and whose message names the path and the fix,
so the console, the log, `kezek status` and the alarm all say the same thing.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from edge.errors import StorageError

OPERATIONS_DOC = "docs/operations.md, \"When the SD card is full, read-only or damaged\""

# SQLite's primary result codes (the low byte of sqlite_errorcode).
_SQLITE_KIND = {
    13: "full",       # SQLITE_FULL
    8: "readonly",    # SQLITE_READONLY
    3: "readonly",    # SQLITE_PERM
    11: "corrupt",    # SQLITE_CORRUPT
    26: "corrupt",    # SQLITE_NOTADB
    10: "io",         # SQLITE_IOERR
    14: "io",         # SQLITE_CANTOPEN
    5: "busy",        # SQLITE_BUSY
    6: "busy",        # SQLITE_LOCKED
}
_ERRNO_KIND = {errno.ENOSPC: "full", errno.EDQUOT: "full", errno.EROFS: "readonly",
               errno.EACCES: "readonly", errno.EPERM: "readonly", errno.EIO: "io",
               errno.ENOENT: "io"}


def fix_for(kind: str, path: Path) -> str:
    """What the IT person does about `kind` at `path` (one sentence, for messages)."""
    folder = Path(path).parent
    backups = folder / "backups"
    return {
        "full": f"free space on the disk of {folder} (old logs: `sudo journalctl "
                f"--vacuum-size=50M`; `kezek doctor` shows what is free); the queue saves "
                "again by itself once there is room",
        "readonly": f"{folder} cannot be written: the kernel remounts the SD card read-only "
                    "after card errors (see `dmesg`); reboot, and if it happens again replace "
                    f"the card and restore a backup from {backups}; if the folder's owner or "
                    f"mode was changed, give it back to the service user "
                    f"(`sudo chown -R kezek:kezek {folder}`)",
        "corrupt": f"the database file is damaged: stop the service and restore the newest "
                   f"backup from {backups} ({OPERATIONS_DOC})",
        "io": f"the SD card reports errors or a file of {folder} vanished (see `dmesg`); "
              "restart the service (`sudo systemctl restart kezek`); if it happens again "
              f"replace the card and restore a backup from {backups}",
        "busy": "another program holds the database locked; stop it",
        "missing": f"find what deleted or moved files of {folder} and stop it; the log "
                   "says where the queue's data was saved",
    }.get(kind, f"run `kezek doctor` ({OPERATIONS_DOC})")


# Faults that can pass by themselves: another program's lock ends, a card error clears, a
# state folder on a USB stick is mounted a few seconds after boot, someone frees space. At
# start these exit 75 and systemd tries again; readonly (the kernel's read-only remount
# lasts until a reboot, a folder's owner does not change by itself) and corrupt need a
# person and exit 74, which the unit does not restart on.
TRANSIENT_KINDS = frozenset({"busy", "io", "full"})

# Below this much free space a "disk I/O error" is the full card: SQLite reports a failed
# growth of its -shm or -wal file as SQLITE_IOERR_*, not as SQLITE_FULL.
_NEARLY_FULL_BYTES = 64 * 1024


def _disk_is_full(path: Path) -> bool:
    for folder in (Path(path).parent, Path(path).parent.parent):
        try:
            st = os.statvfs(folder)
        except OSError:
            continue
        return st.f_bavail * st.f_frsize < _NEARLY_FULL_BYTES
    return False


_WHAT = {"full": "the disk is full", "readonly": "it cannot be written (read-only)",
         "corrupt": "the file is damaged", "io": "the SD card reports an I/O error",
         "busy": "it is locked by another program",
         "missing": "a file of the database was deleted or moved while the service ran"}


def kind_of(error: BaseException) -> str:
    """The fault kind of a sqlite3 or OS error ("" when it is none of the known ones)."""
    if isinstance(error, StorageError):
        return error.kind
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        if isinstance(code, int) and (code & 0xFF) in _SQLITE_KIND:
            return _SQLITE_KIND[code & 0xFF]
        text = str(error).lower()
        for needle, kind in (("full", "full"), ("readonly", "readonly"),
                             ("read-only", "readonly"), ("malformed", "corrupt"),
                             ("not a database", "corrupt"), ("disk i/o", "io")):
            if needle in text:
                return kind
        return ""
    if isinstance(error, OSError):
        return _ERRNO_KIND.get(error.errno or 0, "")
    return ""


def storage_error(error: BaseException, path: Path, doing: str) -> StorageError:
    """A StorageError for `error` while `doing` (e.g. "cannot save the command") at `path`."""
    if isinstance(error, StorageError):
        return error
    kind = kind_of(error)
    if kind == "io" and _disk_is_full(path):
        kind = "full"
    what = _WHAT.get(kind, str(error))
    return StorageError(f"{path}: {doing}: {what} ({error}); fix: {fix_for(kind, path)}", kind)
