"""One process per device: an exclusive flock on a lock file in the state directory.

`kezek run` takes it before opening the database; the MQTT link takes it again (the
same process gets the same lock back). A second process with the same identity and
state directory refuses to start. Two machines with the same identity cannot share a
file lock: the broker then takes the session over, which the link reports as the alarm
`sync.identity` (see docs/sync.md).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path

from edge.errors import KezekError

logger = logging.getLogger(__name__)


class IdentityInUse(KezekError):
    """Another running process already serves this site/device from this state directory."""


class IdentityLock:
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
            _held.pop(str(self.path), None)
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


_registry_lock = threading.Lock()
_held: dict[str, IdentityLock] = {}


def lock_path(state_dir: Path, site: str, device: str) -> Path:
    return Path(state_dir) / f"kezek-{site}-{device}.lock"


def acquire_identity_lock(state_dir: Path, site: str, device: str) -> IdentityLock:
    """Take (or get back, within this process) the device's lock; IdentityInUse if taken."""
    path = lock_path(state_dir, site, device)
    key = str(path)
    with _registry_lock:
        held = _held.get(key)
        if held is not None and held.held:
            return held
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                other = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            finally:
                os.close(fd)
            raise IdentityInUse(
                f"site {site!r} device {device!r}: another Kezek process (pid {other}) already "
                f"runs with state directory {path.parent}; stop it first "
                f"(systemctl stop kezek) or give this one another center.device") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        lock = IdentityLock(path, fd)
        _held[key] = lock
        logger.debug("identity lock %s taken", path)
        return lock
