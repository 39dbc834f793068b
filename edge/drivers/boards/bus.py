"""One bus (a serial line with boards on it): its transport and the one thread that writes it.

Everything on an RS-485 line shares it, so one writer per bus sends frames one at a time
with a gap between them. The queue holds board addresses, not frames: a board is rendered
from its latest content when its turn comes, so an unplugged bus never builds a backlog,
and after a reconnect every board is refreshed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from edge.config.boards import BoardConfig
from edge.drivers.boards.codecs import Codec
from edge.backoff import Backoff
from edge.worker import Worker

logger = logging.getLogger(__name__)

BLINK_HALF_PERIOD_S = 0.5     # software blink: text 0.5 s, blank 0.5 s
NOTICE_PAGE_S = 2.0           # a one-row board shows a notice's languages in turn


class Transport(Protocol):
    @property
    def is_open(self) -> bool: ...

    def open(self) -> None: ...

    def write(self, frame: bytes) -> None: ...

    def close(self) -> None: ...


class SerialTransport:
    """A real serial port (pyserial), opened with a write timeout."""

    def __init__(self, port: str, baudrate: int, framing: str, write_timeout_s: float) -> None:
        self.port, self.baudrate, self.framing = port, baudrate, framing
        self.write_timeout_s = write_timeout_s
        self._ser: Any = None

    @property
    def is_open(self) -> bool:
        return self._ser is not None

    def open(self) -> None:
        from edge.drivers.serial_inputs.ports import open_port

        self._ser = open_port(self.port, self.baudrate, framing=self.framing,
                              write_timeout=self.write_timeout_s)

    def write(self, frame: bytes) -> None:
        self._ser.write(frame)
        self._ser.flush()

    def close(self) -> None:
        if self._ser is not None:
            try:
                self._ser.close()
            except Exception:  # the device may be gone already
                logger.debug("closing %s failed", self.port, exc_info=True)
            self._ser = None


class FakeTransport:
    """Records frames (tests, the demo); `unplugged = True` makes it fail like a lost port."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.frames: list[bytes] = []
        self.unplugged = False
        self.is_open = False
        self._lock = threading.Lock()

    def open(self) -> None:
        if self.unplugged:
            raise OSError("fake bus unplugged")
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.is_open = True

    def write(self, frame: bytes) -> None:
        if self.unplugged:
            self.is_open = False
            raise OSError("write failed: fake bus unplugged")
        with self._lock:
            self.frames.append(frame)
        if self.path is not None:
            with open(self.path, "a", encoding="ascii") as f:
                f.write(frame.hex(" ") + "\n")

    def close(self) -> None:
        self.is_open = False

    def sent(self) -> list[bytes]:
        with self._lock:
            return list(self.frames)


@dataclass
class BoardState:
    """What one board should show now; changed under the bus lock, rendered by the writer."""

    config: BoardConfig
    rows: list[str]
    blink_until: float | None = None
    blink_start: float = 0.0
    next_due: float | None = None
    frames: int = 0
    shown: list[str] = field(default_factory=list)
    # A visitor notice over the queue's rows for a while: pages shown in turn, then gone.
    notice_pages: list[list[str]] = field(default_factory=list)
    notice_start: float = 0.0
    notice_until: float = 0.0


class BusWriter:
    """The thread that owns one bus: (re)opens it, renders and sends frames, blinks."""

    def __init__(self, name: str, transport: Transport, codec: Codec, boards: list[BoardConfig], *,
                 gap_s: float, blink_s: float, reconnect_s: float,
                 on_state: Callable[[bool, str], None],
                 now: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.transport = transport
        self.codec = codec
        self.gap_s = gap_s
        self.blink_s = blink_s
        self.reconnect_s = reconnect_s
        self._backoff = Backoff(reconnect_s, reconnect_s)   # a fixed retry interval
        self._on_state = on_state
        self._now = now
        self.boards = {b.address: BoardState(b, [b.idle_text] * b.rows) for b in boards}
        self._lock = threading.Lock()
        self._queue: "queue.Queue[int | None]" = queue.Queue()
        self.worker = Worker(f"kezek-board-{name}", self._run)
        self.up: bool | None = None
        self.last_error = ""
        self.frames_sent = 0
        self.write_errors = 0
        self._next_open = 0.0

    # -- any thread: only state changes and enqueueing ------------------------------
    def show(self, address: int, rows: list[str], *, blink: bool = False) -> None:
        with self._lock:
            b = self.boards[address]
            if rows == b.rows and not blink:
                return
            b.rows = list(rows)
            if blink and self.blink_s > 0:
                now = self._now()
                b.blink_start, b.blink_until = now, now + self.blink_s
        self._queue.put(address)

    def notice(self, address: int, pages: list[list[str]], show_s: float) -> None:
        """Show `pages` (one after another, NOTICE_PAGE_S each) instead of the board's rows
        for `show_s` seconds; show_s = 0 ends a notice shown now."""
        with self._lock:
            b = self.boards[address]
            now = self._now()
            b.notice_pages = [list(p) for p in pages] if show_s > 0 else []
            b.notice_start, b.notice_until = now, now + show_s
        self._queue.put(address)

    def start(self) -> None:
        self.worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.worker.request_stop()
        self._queue.put(None)
        self.worker.stop(timeout)
        self.transport.close()

    def health(self) -> dict[str, Any]:
        with self._lock:
            boards = {a: {"rows": list(b.rows), "shown": list(b.shown), "frames": b.frames}
                      for a, b in self.boards.items()}
        return {"ok": bool(self.up) and self.worker.ok, "up": self.up,
                "error": (self.worker.problem() or "") if self.up else self.last_error,
                "frames": self.frames_sent, "write_errors": self.write_errors, "boards": boards}

    # -- the writer thread ------------------------------------------------------------
    def _run(self) -> None:
        dirty: set[int] = set(self.boards)            # show the idle text at start
        while not self.worker.stopped:
            try:
                item = self._queue.get(timeout=self._wait_s())
                if item is not None:
                    dirty.add(item)
                while True:
                    item = self._queue.get_nowait()
                    if item is not None:
                        dirty.add(item)
            except queue.Empty:
                pass
            if self.worker.stopped:
                break
            now = self._now()
            with self._lock:
                dirty |= {a for a, b in self.boards.items()
                          if b.next_due is not None and now >= b.next_due}
            if not dirty:
                continue
            if not self.transport.is_open and not self._reopen(now):
                continue                                # all boards get refreshed on reopen
            dirty = self._send(dirty)

    def _wait_s(self) -> float:
        now = self._now()
        with self._lock:
            dues = [b.next_due for b in self.boards.values() if b.next_due is not None]
        waits = [d - now for d in dues]
        if not self.transport.is_open:
            waits.append(self._next_open - now)
        return min([1.0] + [max(0.01, w) for w in waits])

    def _reopen(self, now: float) -> bool:
        if now < self._next_open:
            return False
        try:
            self.transport.open()
        except Exception as e:  # pyserial raises SerialException/OSError/ValueError
            self._next_open = now + self._backoff.next()
            self._report(False, f"cannot open: {e}")
            return False
        self._backoff.reset()
        self._report(True, "")
        return True

    def _send(self, dirty: set[int]) -> set[int]:
        """Send one frame per dirty board; returns what is left to send (after a failure)."""
        for address in sorted(dirty):
            if self.worker.stopped:
                return set()
            try:
                frame, rows = self._render(address, self._now())
            except Exception:  # a codec bug skips this board, never the bus
                logger.exception("board bus %s: cannot render board %s", self.name, address)
                continue
            try:
                self.transport.write(frame)
            except Exception as e:  # a lost board must never stop the writer (or the calls)
                self.write_errors += 1
                self.transport.close()
                self._next_open = self._now() + self._backoff.next()
                self._report(False, f"write failed: {e}")
                return set(self.boards)     # everything again once the line is back
            self.frames_sent += 1
            with self._lock:
                b = self.boards[address]
                b.frames += 1
                b.shown = rows
            self.worker.sleep(self.gap_s)
        return set()

    def _render(self, address: int, now: float) -> tuple[bytes, list[str]]:
        with self._lock:
            b = self.boards[address]
            rows, blink = list(b.rows), False
            b.next_due = None
            if b.notice_pages and now < b.notice_until:
                page = int((now - b.notice_start) / NOTICE_PAGE_S)
                rows = b.notice_pages[page % len(b.notice_pages)]
                b.next_due = min(b.notice_until, b.notice_start + (page + 1) * NOTICE_PAGE_S) \
                    if len(b.notice_pages) > 1 else b.notice_until
            elif b.notice_pages:
                b.notice_pages = []           # over: the queue's rows again
                b.blink_until = None
            elif b.blink_until is not None and now < b.blink_until:
                if self.codec.native_blink:
                    blink = True
                    b.next_due = b.blink_until
                else:
                    phase = int((now - b.blink_start) / BLINK_HALF_PERIOD_S)
                    if phase % 2:
                        rows = [""] * len(rows)
                    b.next_due = min(b.blink_until,
                                     b.blink_start + (phase + 1) * BLINK_HALF_PERIOD_S)
            else:
                b.blink_until = None
            cfg = b.config
        frame = self.codec.encode(address, rows, charset=cfg.charset, width=cfg.width, blink=blink)
        return frame, rows

    def _report(self, up: bool, detail: str) -> None:
        if detail:
            self.last_error = detail
        if self.up is up:
            return
        self.up = up
        if up:
            logger.info("board bus %s: open", self.name)
        else:
            logger.warning("board bus %s: %s; retrying every %g s", self.name, detail,
                           self.reconnect_s)
        try:
            self._on_state(up, detail)
        except Exception:  # reporting must not stop the writer
            logger.exception("board bus %s: status report failed", self.name)
