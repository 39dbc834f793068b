"""A printer in memory for tests and the demo: status replies, download graphics, faults."""

from __future__ import annotations

import threading
import time
from typing import Any

from edge.drivers.printing.simulator import PrinterModel
from edge.drivers.printing.stored import ACK, KEY_LIST
from edge.drivers.printing.transports.base import DLE_EOT, Transport


class FakeTransport(Transport):
    """A printer in memory that answers DLE EOT like a real one; tests and the demo drive it.

    Knobs: plugged, online, paper ("ok" / "low" / "out"), cover_open, silent (no status
    replies), fail_after (bytes accepted before it is "unplugged" mid-ticket), stall (writes
    time out), delay_s (a slow printer), gate (a threading.Event each ticket write waits
    for: a printer that is busy until the test lets it go). Download graphics (GS ( L)
    are kept by `model` (simulator.PrinterModel): `model.graphics_supported = False` is
    a printer without them, `model.power_cycle()` one switched off and on.
    """

    can_poll = True

    def __init__(self, name: str, keep: int = 50, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.keep = keep
        self.lock = threading.Lock()
        self.plugged = True
        self.online = True
        self.paper = "ok"
        self.cover_open = False
        self.silent = False
        self.stall = False
        self.delay_s = 0.0
        self.fail_after: int | None = None
        self.gate: threading.Event | None = None
        self.current = bytearray()      # bytes of the ticket being sent
        self.tickets: list[bytes] = []  # whole tickets, oldest first
        self.opens = 0
        self.model = PrinterModel()
        self._reply = b""

    @property
    def where(self) -> str:
        return "fake"

    def open(self, raise_not_found: bool = True) -> None:
        self.close()
        if not self.plugged:
            raise self.error("not found", "plug the printer in")
        self.opens += 1
        self._device = True
        self.current = bytearray()

    def _raw(self, msg: bytes) -> None:
        if self._device is None:
            raise self.error("not connected")
        if not self.plugged:
            raise self.error("write failed: device gone", "unplugged?")
        if msg.startswith(DLE_EOT) and len(msg) == 3:
            self._reply = b"" if self.silent else self._status_byte(msg[2])
            return
        if msg in (KEY_LIST, ACK):   # queries and their handshake are not ticket bytes
            reply = self.model.feed(msg)
            self._reply = b"" if self.silent else reply
            return
        if self.gate is not None:
            self.gate.wait()
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.stall:
            raise self.error(f"write timed out after {self.write_timeout_s:g} s", "printer busy")
        with self.lock:
            if self.fail_after is not None and len(self.current) + len(msg) > self.fail_after:
                self.current += msg[:max(0, self.fail_after - len(self.current))]
                self.plugged = False
                raise self.error("write failed: device gone", "unplugged?")
            self.current += msg
            self.model.feed(msg)

    def _read(self) -> bytes:
        reply, self._reply = self._reply, b""
        return reply

    def _read_some(self, timeout: float) -> bytes:
        return self._read()

    def _status_byte(self, n: int) -> bytes:
        b = 0x12
        if n == 1 and (not self.online or self.cover_open or self.paper == "out"):
            b |= 0x08
        if n == 2:
            b |= (0x04 if self.cover_open else 0) | (0x20 if self.paper == "out" else 0)
        if n == 4:
            b |= {"ok": 0, "low": 0x0C, "out": 0x6C}[self.paper]
        return bytes([b])

    def end_job(self) -> None:
        with self.lock:
            self.tickets.append(bytes(self.current))
            del self.tickets[:-self.keep]
            self.current = bytearray()

    def _close(self, dev: Any) -> None:
        self.current = bytearray()
