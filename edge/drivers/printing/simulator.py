"""A simulated ESC/POS printer: answers status and graphics queries, optionally behind a pty.

`PrinterModel` reads the byte stream Kezek sends (in any chunks) and answers what a real
printer would: DLE EOT status, and the download-graphics key list (GS ( L fn 80) from
the images defined (fn 83), deleted (fn 81/82) and cleared (ESC @, power-off) so far.
`PtyPrinter` puts it on the far end of a pseudo-terminal and takes the bytes at a set
baud rate (10 bits a byte, 8N1), so a serial printer, its status polls and the time a
ticket takes on the line can be tried without hardware: the tests and `python -m bench`
use it. It prints nothing; it counts tickets (cuts) and when their last byte arrived.
"""

from __future__ import annotations

import errno
import os
import select
import threading
import time
import tty

ESC, GS, DLE = 0x1B, 0x1D, 0x10
# ESC commands by length (with ESC itself); the ones Kezek's encoders and python-escpos'
# set()/cut() send. Anything else after ESC is taken as a 3-byte command.
_ESC_LEN = {ord("@"): 2, ord("2"): 2}


class PrinterModel:
    """The printer side of the protocol; `feed()` returns the bytes it answers."""

    def __init__(self, *, graphics: bool = True) -> None:
        self.graphics_supported = graphics
        self.graphics: dict[bytes, tuple[int, int]] = {}    # key -> (width, height)
        self.paper = "ok"          # "ok", "low", "out"
        self.cuts = 0
        self.printed_keys: list[bytes] = []
        self.missing_prints = 0    # fn 85 for a key not defined: prints nothing
        self._buf = bytearray()
        self._handshake = False    # a key-list block was sent: the next byte is ACK/NAK/CAN

    def power_cycle(self) -> None:
        """Off and on: RAM graphics are gone."""
        self.graphics.clear()
        self._handshake = False

    def feed(self, data: bytes) -> bytes:
        self._buf += data
        out = bytearray()
        while self._buf:
            used, reply = self._one()
            if used == 0:
                break   # an incomplete command: wait for more bytes
            del self._buf[:used]
            out += reply
        return bytes(out)

    def _one(self) -> tuple[int, bytes]:
        b = self._buf
        if self._handshake:
            self._handshake = False
            if b[0] in (0x06, 0x15, 0x18):
                return 1, b""
        if b[0] == DLE:
            if len(b) < 3:
                return 0, b""
            return 3, self._status(b[2]) if b[1] == 0x04 else b""
        if b[0] == ESC:
            if len(b) < 2:
                return 0, b""
            n = _ESC_LEN.get(b[1], 3)
            if len(b) < n:
                return 0, b""
            if b[1] == ord("@"):
                self.graphics.clear()   # ESC @ clears download graphics
            return n, b""
        if b[0] == GS:
            return self._gs()
        return 1, b""   # text or LF

    def _gs(self) -> tuple[int, bytes]:
        b = self._buf
        if len(b) < 2:
            return 0, b""
        op = b[1]
        if op == ord("v"):                      # GS v 0 m xL xH yL yH data
            if len(b) < 8:
                return 0, b""
            n = 8 + (b[4] + 256 * b[5]) * (b[6] + 256 * b[7])
            return (n, b"") if len(b) >= n else (0, b"")
        if op == ord("V"):                      # cut
            if len(b) < 3:
                return 0, b""
            n = 3 if b[2] in (0, 1, 48, 49) else 4
            if len(b) < n:
                return 0, b""
            self.cuts += 1
            return n, b""
        if op in (ord("("), ord("8")):          # GS ( x pL pH ... / GS 8 L p1..p4 ...
            size = 4 if op == ord("8") else 2
            if len(b) < 3 + size:
                return 0, b""
            n = 3 + size + int.from_bytes(b[3:3 + size], "little")
            if len(b) < n:
                return 0, b""
            body = bytes(b[3 + size:n])
            return n, self._graphics(body) if b[2] == ord("L") else b""
        return (3, b"") if len(b) >= 3 else (0, b"")   # GS ! n, GS B n, ...

    def _graphics(self, body: bytes) -> bytes:
        if not self.graphics_supported or len(body) < 2 or body[0] != 0x30:
            return b""
        fn = body[1]
        if fn == 0x50:                          # key list
            self._handshake = True
            return b"\x37\x73\x40" + b"".join(sorted(self.graphics)) + b"\x00"
        if fn == 0x51:                          # delete all
            self.graphics.clear()
        elif fn == 0x52:                        # delete one
            self.graphics.pop(body[2:4], None)
        elif fn == 0x53 and len(body) >= 11:    # define (raster)
            self.graphics[body[3:5]] = (body[6] + 256 * body[7], body[8] + 256 * body[9])
        elif fn == 0x55:                        # print
            key = body[2:4]
            if key in self.graphics:
                self.printed_keys.append(key)
            else:
                self.missing_prints += 1
        return b""

    def _status(self, n: int) -> bytes:
        b = 0x12
        if n == 1 and self.paper == "out":
            b |= 0x08
        if n == 2 and self.paper == "out":
            b |= 0x20
        if n == 4:
            b |= {"ok": 0, "low": 0x0C, "out": 0x6C}[self.paper]
        return bytes([b])


class PtyPrinter:
    """A printer on a pty: open `path` as its serial port; bytes are taken at `baud`."""

    def __init__(self, baud: int = 115200, model: PrinterModel | None = None) -> None:
        self.baud = baud
        self.model = model or PrinterModel()
        self.master, self._slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self.received = 0
        self.cut_times: list[float] = []    # perf_counter() when each cut's last byte arrived
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pty-printer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        line_free = time.perf_counter()
        idle = True
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                idle = True
                continue
            try:
                data = os.read(self.master, 64)   # small reads: the pacing stays fine-grained
            except OSError as e:
                if e.errno == errno.EIO:          # the port is closed on the other side
                    time.sleep(0.01)
                    continue
                raise
            # Each byte takes 10 bit times on the wire; the printer has it only then. Bytes
            # that were already waiting follow the previous ones back to back (this thread
            # waking late must not look like a quiet line).
            start = max(line_free, time.perf_counter()) if idle else line_free
            line_free = start + len(data) * 10 / self.baud
            delay = line_free - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            with self._changed:
                cuts = self.model.cuts
                reply = self.model.feed(data)
                self.received += len(data)
                if self.model.cuts > cuts:
                    self.cut_times.append(line_free)
                self._changed.notify_all()
            if reply:
                os.write(self.master, reply)
            idle = not select.select([self.master], [], [], 0)[0]

    def wait_cuts(self, count: int, timeout: float = 10.0) -> float:
        """Wait until `count` tickets were cut; the time the last one's last byte arrived."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.cut_times) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.cut_times)} of {count} tickets arrived "
                                       f"at the pty printer in {timeout} s")
                self._changed.wait(left)
            return self.cut_times[count - 1]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
