"""A printer as a file or device node (/dev/usb/lp0, or a pattern): writes bounded by poll()."""

from __future__ import annotations

import errno
import glob
import os
import re
import select
import time
from pathlib import Path
from typing import Any

from edge.drivers.printing.transports.base import Transport


def renumbered_hint(path: Path) -> str:
    """For a missing /dev/usb/lpN: the lp nodes present now (the printer came back under
    another number, which usblp gives in plug order), and how to stop depending on it."""
    if not re.fullmatch(r"lp\d+", path.name):
        return ""
    others = sorted(str(p) for p in path.parent.glob("lp*") if p != path)
    if not others:
        return ""
    return (f"{', '.join(others)} is there instead: the printer came back under another "
            f"number; with one USB printer set path = \"{path.parent}/lp*\", with several "
            f"add a udev rule (docs/printing.md)")


class FileTransport(Transport):
    """A file or character device (/dev/usb/lp0): non-blocking writes bounded by poll().

    The path may be a pattern (/dev/usb/lp*): looked up again at every (re)open, so a USB
    printer that comes back as lp1 after a replug is found; two matches are an error.
    """

    def __init__(self, name: str, cfg: Any, path: Path, **kw: Any) -> None:
        super().__init__(name, profile=cfg.profile, write_timeout_s=cfg.write_timeout_s,
                         read_timeout_s=cfg.read_timeout_s, **kw)
        self.path = path
        self._opened: Path | None = None   # what the pattern matched at the last open
        # A device node opened read-write answers DLE EOT like a serial port (usblp passes
        # the printer's replies through read()).
        self.can_poll = cfg.status == "poll"

    @property
    def where(self) -> str:
        if self._opened is not None and self._opened != self.path:
            return f"file {self.path} (now {self._opened})"
        return f"file {self.path}"

    def _resolve(self) -> Path:
        pattern = str(self.path)
        if not glob.has_magic(pattern):
            return self.path
        found = sorted(glob.glob(pattern))
        if not found:
            raise self.error(f"not found: nothing matches {pattern}",
                             "printer off or unplugged; `ls /dev/usb/` should list it")
        if len(found) > 1:
            raise self.error(f"{len(found)} devices match {pattern} ({', '.join(found)})",
                             "several printers are plugged in: give this one a fixed name "
                             "with a udev rule (docs/printing.md) and set path to it")
        return Path(found[0])

    def open(self, raise_not_found: bool = True) -> None:
        self.close()
        self._opened = None
        path = self._resolve()
        flags = (os.O_RDWR if self.can_poll else os.O_WRONLY) | os.O_APPEND | os.O_NONBLOCK \
            | os.O_NOCTTY
        # Never create a plain file where an unplugged device node should be (nor one
        # named after a pattern).
        if not str(path).startswith("/dev/") and path == self.path:
            flags |= os.O_CREAT
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._device = os.open(path, flags, 0o644)
        except OSError as e:
            hint = (renumbered_hint(path) if e.errno == errno.ENOENT else "") or (
                "check the device is plugged in and the service user may write it (group lp)")
            raise self.error(f"cannot open: {e.strerror}", hint) from None
        self._opened = path

    def _raw(self, msg: bytes) -> None:
        if self._device is None:
            raise self.error("not connected")
        fd = self._device
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        view = memoryview(msg)
        deadline = time.monotonic() + self.write_timeout_s
        while view:
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(int(left * 1000)):
                raise self.error(f"write timed out after {self.write_timeout_s:g} s",
                                 "printer busy, off or out of paper")
            try:
                n = os.write(fd, view)
            except BlockingIOError:
                continue
            except OSError as e:
                raise self.error(f"write failed: {e.strerror}", _unplugged_hint(e)) from None
            view = view[n:]

    def _read(self) -> bytes:
        return self._poll_read(1, self.read_timeout_s)  # b"" is silence: parse_status says what that means

    def _read_some(self, timeout: float) -> bytes:
        return self._poll_read(256, timeout)

    def _poll_read(self, size: int, timeout: float) -> bytes:
        """Up to `size` reply bytes within `timeout`, or b"" (no status asked, or silence)."""
        if not self.can_poll:
            return b""
        if self._device is None:
            raise self.error("not connected")
        poller = select.poll()
        poller.register(self._device, select.POLLIN)
        if not poller.poll(int(timeout * 1000)):
            return b""
        try:
            return os.read(self._device, size)
        except BlockingIOError:
            return b""
        except OSError as e:
            raise self.error(f"read failed: {e.strerror}", _unplugged_hint(e)) from None

    def _discard_input(self) -> None:
        while self.can_poll and self._device is not None:
            try:
                if not os.read(self._device, 256):
                    return
            except BlockingIOError:
                return
            except OSError as e:
                raise self.error(f"read failed: {e.strerror}", "device unplugged?") from None

    def _close(self, dev: Any) -> None:
        try:
            os.close(dev)
        except OSError:
            pass


def _unplugged_hint(e: OSError) -> str:
    # usblp answers ENODEV (or EIO mid-transfer) once the printer is unplugged.
    return "device unplugged?" if e.errno in (errno.ENODEV, errno.EIO) else ""
