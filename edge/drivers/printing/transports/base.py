"""The transport base: chunked writes with a timeout, DLE EOT status decoded strictly.

Each transport is a python-escpos printer class (so its ESC/POS helpers work on it) whose
open/_raw/_read are our own: python-escpos sets no write timeout on serial or USB, no
RTS/CTS, and trusts a silent printer's status. Every failure becomes a PrinterError that
names the printer and the fix; the worker then closes and reopens (replug recovers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from escpos.escpos import Escpos

from edge.errors import PrinterError

DLE_EOT = b"\x10\x04"


@dataclass(frozen=True)
class PrinterStatus:
    ok: bool
    detail: str = ""
    paper_low: bool = False


def _valid(b: bytes) -> bool:
    # Every DLE EOT reply byte has bits 1 and 4 set and bits 0 and 7 clear.
    return len(b) >= 1 and (b[0] & 0x93) == 0x12


def parse_status(printer: bytes, cause: bytes, paper: bytes) -> PrinterStatus:
    """Decode the replies to DLE EOT 1 (printer), 2 (offline cause) and 4 (paper sensor).

    An empty or malformed reply is NOT taken as "fine" (python-escpos does that).
    """
    for name, reply in (("printer", printer), ("offline cause", cause), ("paper", paper)):
        if not reply:
            return PrinterStatus(False, f"no answer to the {name} status query: printer off, "
                                        f"cable loose, or a model that cannot report status "
                                        f"(then set status = \"none\")")
        if not _valid(reply):
            return PrinterStatus(False, f"garbled {name} status reply 0x{reply[0]:02x}: check the "
                                        f"baud rate and cable")
    if paper[0] & 0x60 or cause[0] & 0x20:
        return PrinterStatus(False, "out of paper: load a new roll")
    if cause[0] & 0x04:
        return PrinterStatus(False, "cover open: close the printer cover")
    if cause[0] & 0x40:
        return PrinterStatus(False, "printer error (cutter jam or head too hot): open, clear, "
                                    "close the cover or switch it off and on")
    if printer[0] & 0x08:
        return PrinterStatus(False, "printer is offline")
    low = bool(paper[0] & 0x0C)
    return PrinterStatus(True, "paper near end" if low else "", paper_low=low)


class Transport(Escpos):
    """Base: chunked writes with a timeout, DLE EOT status with a read timeout."""

    can_poll = False
    chunk = 4096

    def __init__(self, name: str, *, profile: str = "default", write_timeout_s: float = 5.0,
                 read_timeout_s: float = 0.5) -> None:
        super().__init__(profile=profile)
        self.name = name
        self.write_timeout_s = write_timeout_s
        self.read_timeout_s = read_timeout_s
        # python-escpos' lazy auto-open is not used: open() is explicit. What it holds is
        # the transport's own (a pyserial port, a socket, a file descriptor, ...).
        self._device: Any = None

    @property
    def device_name(self) -> str:
        return f"printer:{self.name}"

    def error(self, problem: str, hint: str = "") -> PrinterError:
        return PrinterError(f"printer {self.name} ({self.where})", problem, hint)

    @property
    def where(self) -> str:
        return "?"

    @property
    def is_open(self) -> bool:
        return self._device is not None

    def write(self, data: bytes) -> None:
        """Send `data` in chunks; each chunk must be taken within write_timeout_s."""
        for i in range(0, len(data), self.chunk):
            self._raw(data[i:i + self.chunk])

    def drain(self) -> None:
        """Wait until the bytes left this machine (serial); raise if the printer holds them."""

    def end_job(self) -> None:
        """A whole ticket was sent (the fake records it)."""

    def query(self, n: int) -> bytes:
        self._discard_input()
        self._raw(DLE_EOT + bytes([n]))
        return self._read()

    def ask(self, command: bytes, *, end: bytes, limit: int, timeout: float) -> bytes:
        """Send a query with a multi-byte reply and read up to `end` (after its first 3
        bytes), `limit` bytes or `timeout` seconds; b"" when the printer says nothing."""
        self._discard_input()
        self._raw(command)
        deadline = time.monotonic() + timeout
        reply = b""
        while len(reply) < limit and end not in reply[3:]:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            chunk = self._read_some(left)
            if not chunk:
                break
            reply += chunk
        return reply

    def _read_some(self, timeout: float) -> bytes:
        """Whatever reply bytes arrive within `timeout` (at least one, or b"")."""
        return self._read()

    def status(self) -> PrinterStatus:
        if not self.can_poll:
            return PrinterStatus(True, "")
        return parse_status(self.query(1), self.query(2), self.query(4))

    def _discard_input(self) -> None:
        """Drop stale bytes so a late reply is not read as the answer to a new query."""

    def close(self) -> None:  # python-escpos calls it from __del__ too: must be idempotent
        dev = self._device
        self._device = None
        if dev:
            self._close(dev)

    def _close(self, dev: Any) -> None:
        pass
