"""A printer on the network: raw TCP (port 9100) with connect, write and read timeouts."""

from __future__ import annotations

import socket
from typing import Any

from edge.drivers.printing.transports.base import Transport


class NetworkTransport(Transport):
    """Raw TCP (port 9100) with connect, write and read timeouts."""

    def __init__(self, name: str, cfg: Any, **kw: Any) -> None:
        super().__init__(name, profile=cfg.profile, write_timeout_s=cfg.write_timeout_s,
                         read_timeout_s=cfg.read_timeout_s, **kw)
        self.cfg = cfg
        self.can_poll = cfg.status == "poll"

    @property
    def where(self) -> str:
        return f"tcp {self.cfg.host}:{self.cfg.port}"

    def open(self, raise_not_found: bool = True) -> None:
        self.close()
        try:
            sock = socket.create_connection((self.cfg.host, self.cfg.port),
                                            timeout=self.cfg.connect_timeout_s)
        except OSError as e:
            raise self.error(f"cannot connect: {e}",
                             "check the printer is on, its IP address, and the network cable") from None
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self._device = sock

    def _raw(self, msg: bytes) -> None:
        if self._device is None:
            raise self.error("not connected")
        self._device.settimeout(self.write_timeout_s)
        try:
            self._device.sendall(msg)
        except socket.timeout:
            raise self.error(f"write timed out after {self.write_timeout_s:g} s",
                             "printer busy, off or out of paper") from None
        except OSError as e:
            raise self.error(f"connection lost: {e}", "printer switched off or network down?") from None

    def _read(self) -> bytes:
        return self._recv(1, self.read_timeout_s)

    def _read_some(self, timeout: float) -> bytes:
        return self._recv(256, timeout)

    def _recv(self, size: int, timeout: float) -> bytes:
        """Up to `size` reply bytes within `timeout`; b"" on silence, an error on a closed line."""
        if self._device is None:
            raise self.error("not connected")
        self._device.settimeout(timeout)
        try:
            data = self._device.recv(size)
        except socket.timeout:
            return b""
        except OSError as e:
            raise self.error(f"connection lost: {e}", "printer switched off or network down?") from None
        if data == b"":
            raise self.error("the printer closed the connection", "printer restarted or switched off?")
        return data

    def _discard_input(self) -> None:
        if self._device is None:
            return
        self._device.setblocking(False)
        try:
            while self._device.recv(256):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as e:
            raise self.error(f"connection lost: {e}") from None
        finally:
            if self._device is not None:
                self._device.setblocking(True)

    def _close(self, dev: Any) -> None:
        try:
            dev.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        dev.close()
