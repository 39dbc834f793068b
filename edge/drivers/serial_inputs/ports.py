"""Opening serial ports with timeouts, telling a missing port early, and a reconnecting reader."""

from __future__ import annotations

import logging
import os
import queue
from typing import Any, Callable

from edge.errors import DeviceError
from edge.backoff import Backoff
from edge.worker import Worker

logger = logging.getLogger(__name__)

_FRAMING = {"8N1": (8, "N", 1), "7E1": (7, "E", 1), "8E1": (8, "E", 1), "7O1": (7, "O", 1),
            "8O1": (8, "O", 1)}


def is_url(port: str) -> bool:
    return "://" in port


def present_ports() -> list[str]:
    """Serial ports the machine has now, stable by-id names first (for error hints)."""
    found: list[str] = []
    by_id = "/dev/serial/by-id"
    if os.path.isdir(by_id):
        found += sorted(os.path.join(by_id, n) for n in os.listdir(by_id))
    try:
        from serial.tools import list_ports
        found += sorted(p.device for p in list_ports.comports())
    except Exception:  # listing is only a hint; never fail the error message on it
        logger.debug("could not list serial ports", exc_info=True)
    return found


def check_present(port: str, key: str) -> None:
    """DeviceError when a device path does not exist (URLs such as loop:// are not checked)."""
    if is_url(port) or os.path.exists(port):
        return
    ports = present_ports()
    raise DeviceError(f"serial port {port} ({key})", "not found",
                      "plug the adapter in or fix the path; ports present now: "
                      + (", ".join(ports) if ports else "none"))


def open_port(port: str, baudrate: int, *, framing: str = "8N1", read_timeout: float = 0.1,
              write_timeout: float = 1.0) -> Any:
    """An open pyserial port; both timeouts are set (pyserial's default blocks forever)."""
    import serial

    bytesize, parity, stopbits = _FRAMING[framing]
    kwargs: dict[str, Any] = {"baudrate": baudrate, "bytesize": bytesize, "parity": parity,
                              "stopbits": stopbits, "timeout": read_timeout,
                              "write_timeout": write_timeout}
    if not is_url(port):
        kwargs["exclusive"] = True   # two programs on one line garble each other's bytes
    return serial.serial_for_url(port, **kwargs)


class SerialLink:
    """One serial port read and written by one named thread; reopens it after an unplug.

    `on_data(bytes)` and `on_state(up, detail)` run on that thread; send() may be called
    from anywhere (it only enqueues).
    """

    def __init__(self, name: str, port: str, baudrate: int, *, on_data: Callable[[bytes], None],
                 on_state: Callable[[bool, str], None], reconnect_s: float = 2.0,
                 on_idle: Callable[[], None] | None = None) -> None:
        self.name = name
        self.port = port
        self.baudrate = baudrate
        self._on_data = on_data
        self._on_state = on_state
        self._on_idle = on_idle
        self._reconnect_s = reconnect_s
        self._backoff = Backoff(reconnect_s, reconnect_s)   # a fixed retry interval
        self._out: "queue.Queue[bytes]" = queue.Queue()
        self.worker = Worker(f"kezek-{name}", self._run)
        self._ser: Any = None
        self.up: bool | None = None      # None until the first open or failure
        self.opens = 0
        self.last_error = ""

    def start(self) -> None:
        self.worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.worker.stop(timeout)
        self._close()

    def send(self, data: bytes) -> None:
        self._out.put(data)

    def _close(self) -> None:
        if self._ser is not None:
            try:
                self._ser.close()
            except Exception:  # closing a vanished device may fail; it is gone either way
                logger.debug("%s: close failed", self.name, exc_info=True)
            self._ser = None

    def _run(self) -> None:
        import serial

        while not self.worker.stopped:
            if self._ser is None:
                try:
                    self._ser = open_port(self.port, self.baudrate)
                except (serial.SerialException, OSError, ValueError) as e:
                    self._lost(f"cannot open {self.port}: {e}")
                    self.worker.sleep(self._backoff.next())
                    continue
                self._backoff.reset()
                self.opens += 1
                # Replies queued while the port was away are stale: drop them.
                while not self._out.empty():
                    self._out.get_nowait()
                if self.up is not True:
                    self.up = True
                    logger.info("%s: %s open", self.name, self.port)
                    self._on_state(True, "")
            try:
                while not self._out.empty():
                    self._ser.write(self._out.get_nowait())
                data = self._ser.read(256)
            except (serial.SerialException, OSError) as e:
                self._close()
                self._lost(f"{self.port} lost: {e}")
                self.worker.sleep(self._backoff.next())
                continue
            try:
                if data:
                    self._on_data(data)
                elif self._on_idle is not None:
                    self._on_idle()
            except Exception:  # a parser bug must not stop the port
                logger.exception("%s: handling input failed", self.name)

    def _lost(self, detail: str) -> None:
        self.last_error = detail
        if self.up is not False:         # report a change once, not every retry
            self.up = False
            logger.warning("%s: %s; retrying every %g s", self.name, detail, self._reconnect_s)
            self._on_state(False, detail)
