"""A printer on a serial port: pyserial with a write timeout, RTS/CTS and an exclusive lock."""

from __future__ import annotations

import termios
import time
from typing import Any

from edge.drivers.printing.transports.base import Transport


class SerialTransport(Transport):
    """pyserial opened by us: write timeout, RTS/CTS, exclusive lock, DSR/DTR off."""

    def __init__(self, name: str, cfg: Any, **kw: Any) -> None:
        super().__init__(name, profile=cfg.profile, write_timeout_s=cfg.write_timeout_s,
                         read_timeout_s=cfg.read_timeout_s, **kw)
        self.cfg = cfg
        self.can_poll = cfg.status == "poll"
        # At most about half the timeout's worth of bytes per write call, so a healthy but
        # slow line never trips the timeout; a stalled printer (CTS low) does.
        self.chunk = max(16, min(4096, int(cfg.baudrate / 10 * cfg.write_timeout_s / 2)))

    @property
    def where(self) -> str:
        return f"serial {self.cfg.port}"

    def open(self, raise_not_found: bool = True) -> None:
        import serial
        self.close()
        try:
            self._device = serial.Serial(
                port=self.cfg.port, baudrate=self.cfg.baudrate, bytesize=self.cfg.bytesize,
                parity=self.cfg.parity, stopbits=self.cfg.stopbits, timeout=self.read_timeout_s,
                write_timeout=self.write_timeout_s, rtscts=self.cfg.rtscts,
                xonxoff=self.cfg.xonxoff, dsrdtr=False, exclusive=True)
        except (serial.SerialException, ValueError, OSError) as e:
            raise self.error(f"cannot open the port: {e}",
                             "check the cable and the port name (ls /dev/serial/by-id/), and that "
                             "the service user is in group dialout") from None

    def _raw(self, msg: bytes) -> None:
        import serial
        if self._device is None:
            raise self.error("not connected")
        try:
            n = self._device.write(msg)
        except serial.SerialTimeoutException:
            raise self.error(f"write timed out after {self.write_timeout_s:g} s",
                             "printer busy, off or out of paper (CTS held low)") from None
        except (serial.SerialException, OSError) as e:
            raise self.error(f"write failed: {e}", "cable unplugged?") from None
        if n is not None and n < len(msg):
            raise self.error(f"only {n} of {len(msg)} bytes were written", "printer busy or off")

    def _read(self) -> bytes:
        import serial
        if self._device is None:
            raise self.error("not connected")
        try:
            return bytes(self._device.read(1))
        except (serial.SerialException, OSError) as e:
            raise self.error(f"read failed: {e}", "cable unplugged?") from None

    def _read_some(self, timeout: float) -> bytes:
        import serial
        if self._device is None:
            raise self.error("not connected")
        try:
            self._device.timeout = timeout
            first = bytes(self._device.read(1))
            return first + bytes(self._device.read(self._device.in_waiting)) if first else b""
        except (serial.SerialException, OSError) as e:
            raise self.error(f"read failed: {e}", "cable unplugged?") from None
        finally:
            if self._device is not None:
                self._device.timeout = self.read_timeout_s

    def _discard_input(self) -> None:
        if self._device is not None:
            try:
                self._device.reset_input_buffer()
            except (OSError, termios.error) as e:
                raise self.error(f"port failed: {e}", "cable unplugged?") from None

    def drain(self) -> None:
        deadline = time.monotonic() + self.write_timeout_s
        while self._device is not None:
            try:
                if not self._device.out_waiting:
                    return
            except (OSError, termios.error) as e:
                raise self.error(f"port failed: {e}", "cable unplugged?") from None
            if time.monotonic() > deadline:
                raise self.error(f"the printer took no data for {self.write_timeout_s:g} s",
                                 "printer busy, off or out of paper (CTS held low)")
            time.sleep(0.01)

    def _close(self, dev: Any) -> None:
        import serial
        try:
            dev.reset_output_buffer()  # never block on a dead printer while closing
        except (OSError, termios.error, serial.SerialException):
            pass  # the port is gone already (unplugged)
        try:
            dev.close()
        except (OSError, termios.error, serial.SerialException):
            pass
