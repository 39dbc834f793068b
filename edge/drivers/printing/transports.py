"""Connections to printers (USB, serial, network, file, fake): bytes out with a timeout, status in.

Each transport is a python-escpos printer class (so its ESC/POS helpers work on it) whose
open/_raw/_read are our own: python-escpos sets no write timeout on serial or USB, no
RTS/CTS, and trusts a silent printer's status. Every failure becomes a PrinterError that
names the printer and the fix; the worker then closes and reopens (replug recovers).
"""

from __future__ import annotations

import errno
import glob
import logging
import os
import re
import select
import socket
import termios
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from escpos.escpos import Escpos

from edge.errors import PrinterError

logger = logging.getLogger(__name__)

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
        if self._device is None:
            raise self.error("not connected")
        self._device.settimeout(self.read_timeout_s)
        try:
            data = self._device.recv(1)
        except socket.timeout:
            return b""
        except OSError as e:
            raise self.error(f"connection lost: {e}", "printer switched off or network down?") from None
        if data == b"":
            raise self.error("the printer closed the connection", "printer restarted or switched off?")
        return data

    def _read_some(self, timeout: float) -> bytes:
        if self._device is None:
            raise self.error("not connected")
        self._device.settimeout(timeout)
        try:
            data = self._device.recv(256)
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
                raise self.error(f"write failed: {e.strerror}",
                                 "device unplugged?" if e.errno in (errno.ENODEV, errno.EIO) else "") from None
            view = view[n:]

    def _read(self) -> bytes:
        if not self.can_poll:
            return b""
        if self._device is None:
            raise self.error("not connected")
        poller = select.poll()
        poller.register(self._device, select.POLLIN)
        if not poller.poll(int(self.read_timeout_s * 1000)):
            return b""  # silence: parse_status says what that means
        try:
            return os.read(self._device, 1)
        except BlockingIOError:
            return b""
        except OSError as e:
            raise self.error(f"read failed: {e.strerror}",
                             "device unplugged?" if e.errno in (errno.ENODEV, errno.EIO) else "") from None

    def _read_some(self, timeout: float) -> bytes:
        if not self.can_poll:
            return b""
        if self._device is None:
            raise self.error("not connected")
        poller = select.poll()
        poller.register(self._device, select.POLLIN)
        if not poller.poll(int(timeout * 1000)):
            return b""
        try:
            return os.read(self._device, 256)
        except BlockingIOError:
            return b""
        except OSError as e:
            raise self.error(f"read failed: {e.strerror}",
                             "device unplugged?" if e.errno in (errno.ENODEV, errno.EIO) else "") from None

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


class UsbTransport(Transport):
    """pyusb bulk endpoints with a timeout on every write and read; reopened after a replug."""

    def __init__(self, name: str, cfg: Any, finder: Callable[..., Any] | None = None, **kw: Any) -> None:
        super().__init__(name, profile=cfg.profile, write_timeout_s=cfg.write_timeout_s,
                         read_timeout_s=cfg.read_timeout_s, **kw)
        self.cfg = cfg
        self.can_poll = cfg.status == "poll"
        self._finder = finder
        self._out_ep = cfg.out_ep
        self._in_ep = cfg.in_ep

    @property
    def where(self) -> str:
        return f"usb {self.cfg.vendor_id:04x}:{self.cfg.product_id:04x}"

    def _find(self) -> Any:
        if self._finder is not None:
            return self._finder(idVendor=self.cfg.vendor_id, idProduct=self.cfg.product_id)
        try:
            import usb.core
        except ImportError:
            raise self.error("pyusb is not installed", "pip install pyusb (and libusb-1.0-0)") from None
        kwargs: dict[str, Any] = {"idVendor": self.cfg.vendor_id, "idProduct": self.cfg.product_id}
        if self.cfg.serial_number:
            kwargs["serial_number"] = self.cfg.serial_number
        return usb.core.find(**kwargs)

    def open(self, raise_not_found: bool = True) -> None:
        self.close()
        try:
            dev = self._find()
        except Exception as e:  # pyusb raises its own errors and NoBackendError (ValueError)
            raise self.error(f"USB lookup failed: {e}", "is libusb-1.0-0 installed?") from None
        if dev is None:
            raise self.error("not found", "printer off or unplugged; `lsusb` should list it")
        try:
            try:
                if dev.is_kernel_driver_active(0):
                    dev.detach_kernel_driver(0)  # usblp holds it otherwise
            except NotImplementedError:
                pass
            try:
                dev.set_configuration()
            except Exception as e:  # already configured by the kernel: busy is fine
                logger.debug("printer %s: set_configuration: %s", self.name, e)
            if self._out_ep is None or (self._in_ep is None and self.can_poll):
                self._find_endpoints(dev)
        except Exception as e:
            raise self.error(f"cannot claim the device: {e}",
                             "add a udev rule giving the service user access (MODE=0660, GROUP=lp)") from None
        self._device = dev

    def _find_endpoints(self, dev: Any) -> None:
        intf = dev.get_active_configuration()[(0, 0)]
        for ep in intf:
            addr = ep.bEndpointAddress
            if (ep.bmAttributes & 0x03) != 0x02:
                continue  # bulk only
            if addr & 0x80 and self._in_ep is None:
                self._in_ep = addr
            elif not addr & 0x80 and self._out_ep is None:
                self._out_ep = addr
        if self._out_ep is None:
            raise ValueError("no bulk OUT endpoint; set out_ep")

    def _raw(self, msg: bytes) -> None:
        if self._device is None:
            raise self.error("not connected")
        try:
            n = self._device.write(self._out_ep, msg, int(self.write_timeout_s * 1000))
        except Exception as e:  # usb.core.USBError / USBTimeoutError (pyusb is optional)
            if "timeout" in type(e).__name__.lower() or "timed out" in str(e).lower():
                raise self.error(f"write timed out after {self.write_timeout_s:g} s",
                                 "printer busy, off or out of paper") from None
            raise self.error(f"write failed: {e}", "unplugged?") from None
        if n is not None and n < len(msg):
            raise self.error(f"only {n} of {len(msg)} bytes were taken", "printer busy")

    def _read(self) -> bytes:
        if self._device is None:
            raise self.error("not connected")
        if self._in_ep is None:
            return b""
        try:
            return bytes(self._device.read(self._in_ep, 16, int(self.read_timeout_s * 1000)))[-1:]
        except Exception as e:
            if "timeout" in type(e).__name__.lower() or "timed out" in str(e).lower():
                return b""
            raise self.error(f"read failed: {e}", "unplugged?") from None

    def _read_some(self, timeout: float) -> bytes:
        if self._device is None:
            raise self.error("not connected")
        if self._in_ep is None:
            return b""
        try:
            return bytes(self._device.read(self._in_ep, 64, max(1, int(timeout * 1000))))
        except Exception as e:
            if "timeout" in type(e).__name__.lower() or "timed out" in str(e).lower():
                return b""
            raise self.error(f"read failed: {e}", "unplugged?") from None

    def _close(self, dev: Any) -> None:
        try:
            import usb.util
            usb.util.dispose_resources(dev)
        except Exception as e:  # unplugged device or no pyusb: nothing left to free
            logger.debug("printer %s: dispose: %s", self.name, e)


def make_transport(name: str, cfg: Any, state_dir: Path) -> Transport:
    """The transport for one [printers.NAME] section."""
    if cfg.type == "serial":
        return SerialTransport(name, cfg)
    if cfg.type == "network":
        return NetworkTransport(name, cfg)
    if cfg.type == "usb":
        return UsbTransport(name, cfg)
    if cfg.type == "file":
        path = cfg.path if cfg.path.is_absolute() else state_dir / cfg.path
        return FileTransport(name, cfg, path)
    from edge.drivers.printing.fake import FakeTransport
    return FakeTransport(name, keep=cfg.keep, profile=cfg.profile, write_timeout_s=cfg.write_timeout_s)
