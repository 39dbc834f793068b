"""Transports against real endpoints: a pty pair for serial, a TCP server, files, a fake USB device."""

from __future__ import annotations

import os
import socket
import termios
import threading
import tty
from pathlib import Path
from typing import Any, Iterator

import pytest
from pydantic import TypeAdapter

from edge.config.printing import PrinterConfig
from edge.drivers.printing.transports.base import parse_status
from edge.drivers.printing.transports.devfile import FileTransport, renumbered_hint
from edge.drivers.printing.transports.network import NetworkTransport
from edge.drivers.printing.transports.serialport import SerialTransport
from edge.drivers.printing.transports.usb import UsbTransport
from edge.errors import PrinterError


def printer_cfg(**data: Any) -> Any:
    return TypeAdapter(PrinterConfig).validate_python(data)


class PtyPrinter:
    """The far end of a pty pair acting as a printer: records bytes, answers DLE EOT n."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        self.port = os.ttyname(self.slave)
        self.received = bytearray()
        self.status = {1: 0x12, 2: 0x12, 4: 0x12}
        self.silent = False
        self.reading = True
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pty-printer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import select
        while not self._stop.is_set():
            if not self.reading:
                self._stop.wait(0.02)
                continue
            r, _, _ = select.select([self.master], [], [], 0.05)
            if not r:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            self.received += chunk
            tail = bytes(self.received[-3:])
            if tail[:2] == b"\x10\x04" and not self.silent:
                os.write(self.master, bytes([self.status[tail[2]]]))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def pty_printer() -> Iterator[PtyPrinter]:
    p = PtyPrinter()
    yield p
    p.close()


def serial_transport(port: str, **kw: Any) -> SerialTransport:
    cfg = printer_cfg(type="serial", port=port, baudrate=115200, write_timeout_s=0.5,
                      read_timeout_s=0.2, **kw)
    return SerialTransport("kiosk", cfg)


def test_serial_opens_with_rtscts_write_timeout_and_lock(pty_printer):
    t = serial_transport(pty_printer.port)
    t.open()
    try:
        dev = t._device
        assert dev.rtscts is True and dev.dsrdtr is False and dev.xonxoff is False
        assert dev.write_timeout == 0.5 and dev.timeout == 0.2 and dev.baudrate == 115200
        assert termios.tcgetattr(dev.fd)[2] & termios.CRTSCTS   # set in the kernel, not only in Python
        with pytest.raises(PrinterError, match="cannot open the port"):
            serial_transport(pty_printer.port).open()          # exclusive: a second opener fails
    finally:
        t.close()


def device_transport(pty_printer: PtyPrinter) -> FileTransport:
    """A file printer on a device node with a back channel, as /dev/usb/lp0 is: the pty's
    slave side in raw mode (no line discipline), like a character device."""
    tty.setraw(pty_printer.slave)
    cfg = printer_cfg(type="file", path=pty_printer.port, status="poll", write_timeout_s=0.5,
                      read_timeout_s=0.2)
    return FileTransport("lp", cfg, Path(pty_printer.port))


# The same printer on a serial port, and behind a device node such as /dev/usb/lp0.
POLLING = pytest.mark.parametrize("connect", [lambda p: serial_transport(p.port), device_transport],
                                  ids=["serial", "file-device"])


@POLLING
def test_prints_and_reads_status(pty_printer, connect):
    t = connect(pty_printer)
    t.open()
    try:
        t.write(b"\x1b@hello\n")
        t.drain()
        assert t.status().ok
        pty_printer.status[4] = 0x12 | 0x60
        st = t.status()
        assert not st.ok and "out of paper" in st.detail
        assert pty_printer.received.startswith(b"\x1b@hello\n")
    finally:
        t.close()


@POLLING
def test_status_silence_is_not_ok(pty_printer, connect):
    pty_printer.silent = True
    t = connect(pty_printer)
    t.open()
    try:
        st = t.status()
        assert not st.ok and "no answer" in st.detail and 'status = "none"' in st.detail
    finally:
        t.close()


def test_serial_write_times_out_when_the_printer_takes_nothing(pty_printer):
    pty_printer.reading = False
    t = serial_transport(pty_printer.port)
    t.open()
    try:
        with pytest.raises(PrinterError, match="timed out"):
            t.write(b"\x00" * 4_000_000)
    finally:
        t.close()


def test_serial_unplug_and_replug_reopens_by_the_same_path(tmp_path):
    first = PtyPrinter()
    link = tmp_path / "usb-printer-if00"      # like /dev/serial/by-id/...
    link.symlink_to(first.port)
    t = serial_transport(str(link))
    t.open()
    try:
        t.write(b"one")
        first.close()                          # cable pulled: the other end is gone
        with pytest.raises(PrinterError):
            t.write(b"x" * 10_000)
            t.status()
        t.close()
        second = PtyPrinter()
        try:
            link.unlink()
            link.symlink_to(second.port)       # udev recreates the by-id link on replug
            t.open()
            t.write(b"two")
            t.drain()
            assert t.status().ok
            assert second.received.startswith(b"two")
        finally:
            t.close()
            second.close()
    finally:
        t.close()


class TcpPrinter:
    """A raw port-9100 printer on localhost: records bytes, answers DLE EOT n."""

    def __init__(self, *, silent: bool = False, reading: bool = True) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.silent = silent
        self.reading = reading
        self.conn: socket.socket | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tcp-printer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conn = conn
            conn.settimeout(0.1)
            while not self._stop.is_set():
                if not self.reading:
                    self._stop.wait(0.05)
                    continue
                try:
                    chunk = conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                self.received += chunk
                if self.received[-3:-1] == b"\x10\x04" and not self.silent:
                    conn.sendall(b"\x12")
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def net_transport(port: int) -> NetworkTransport:
    cfg = printer_cfg(type="network", host="127.0.0.1", port=port, write_timeout_s=0.5,
                      read_timeout_s=0.2, connect_timeout_s=0.5)
    return NetworkTransport("lobby", cfg)


def test_network_prints_and_polls_status():
    srv = TcpPrinter()
    t = net_transport(srv.port)
    try:
        t.open()
        t.write(b"\x1b@ticket")
        assert t.status().ok
        assert srv.received.startswith(b"\x1b@ticket")
    finally:
        t.close()
        srv.close()


def test_network_silent_printer_is_not_ok_and_refused_connection_is_an_error():
    srv = TcpPrinter(silent=True)
    t = net_transport(srv.port)
    try:
        t.open()
        st = t.status()
        assert not st.ok and "no answer" in st.detail
    finally:
        t.close()
        srv.close()
    with pytest.raises(PrinterError, match="cannot connect"):
        net_transport(srv.port).open()       # nobody listens there any more


def test_network_write_times_out_when_the_printer_stops_reading():
    srv = TcpPrinter(reading=False)
    t = net_transport(srv.port)
    try:
        t.open()
        with pytest.raises(PrinterError, match="timed out"):
            t.write(b"\x00" * 64_000_000)
    finally:
        t.close()
        srv.close()


def test_file_transport_appends_and_creates_in_the_state_dir(tmp_path):
    cfg = printer_cfg(type="file", path="tickets.bin")
    t = FileTransport("demo", cfg, tmp_path / "sub" / "tickets.bin")
    t.open()
    t.write(b"one")
    t.write(b"two")
    t.close()
    assert (tmp_path / "sub" / "tickets.bin").read_bytes() == b"onetwo"
    assert t.status().ok


def test_file_transport_write_timeout_on_a_blocked_device(tmp_path):
    fifo = tmp_path / "lp0"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)   # a device that never takes data
    cfg = printer_cfg(type="file", path=str(fifo), write_timeout_s=0.5)
    t = FileTransport("lp", cfg, fifo)
    try:
        t.open()
        with pytest.raises(PrinterError, match="timed out"):
            t.write(b"\x00" * 1_000_000)
    finally:
        t.close()
        os.close(reader)


def test_file_transport_never_creates_a_missing_device_node():
    cfg = printer_cfg(type="file", path="/dev/usb/lp-kezek-test-missing")
    t = FileTransport("lp", cfg, Path("/dev/usb/lp-kezek-test-missing"))
    with pytest.raises(PrinterError, match="cannot open"):
        t.open()
    assert not Path("/dev/usb/lp-kezek-test-missing").exists()


def test_file_pattern_follows_a_printer_that_comes_back_under_another_number(tmp_path):
    """usblp numbers printers in plug order: after a replug (or with a second USB printer
    plugged first) /dev/usb/lp0 can come back as lp1. A pattern finds it again."""
    cfg = printer_cfg(type="file", path=str(tmp_path / "lp*"))
    t = FileTransport("kiosk", cfg, tmp_path / "lp*")
    with pytest.raises(PrinterError, match=r"not found.*nothing matches .*lp\*"):
        t.open()                               # unplugged: nothing is created
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "lp0").write_bytes(b"")
    t.open()
    t.write(b"first")
    assert t.where.endswith("(now %s)" % (tmp_path / "lp0"))
    t.close()
    (tmp_path / "lp0").rename(tmp_path / "lp1")   # unplugged and back under another number
    t.open()
    t.write(b"second")
    t.close()
    assert (tmp_path / "lp1").read_bytes() == b"firstsecond"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["lp1"]
    (tmp_path / "lp2").write_bytes(b"")          # two printers match: never guess
    with pytest.raises(PrinterError, match=r"2 devices match .*lp1.*lp2.*udev"):
        t.open()


def test_a_missing_lp_node_names_the_one_that_is_there(tmp_path):
    (tmp_path / "lp1").write_bytes(b"")
    hint = renumbered_hint(tmp_path / "lp0")
    assert str(tmp_path / "lp1") in hint and 'lp*' in hint
    assert renumbered_hint(tmp_path / "printer") == ""


def test_file_status_poll_on_a_plain_file_is_a_config_error():
    with pytest.raises(ValueError, match='needs a device node such as /dev/usb/lp0.*status = "none"'):
        printer_cfg(type="file", path="tickets.bin", status="poll")
    assert printer_cfg(type="file", path="tickets.bin").status == "none"  # the default


class USBTimeoutError(Exception):
    """Named like pyusb's, which the transport recognises by name (pyusb is optional)."""


class FakeUsbDevice:
    def __init__(self) -> None:
        self.written = bytearray()
        self.detached = False
        self.stall = False
        self.gone = False
        self.reply = b""

    def is_kernel_driver_active(self, intf: int) -> bool:
        return not self.detached

    def detach_kernel_driver(self, intf: int) -> None:
        self.detached = True

    def set_configuration(self) -> None:
        pass

    def get_active_configuration(self) -> Any:
        class Ep:
            def __init__(self, addr: int) -> None:
                self.bEndpointAddress = addr
                self.bmAttributes = 0x02
        return {(0, 0): [Ep(0x81), Ep(0x02)]}

    def write(self, ep: int, data: bytes, timeout: int) -> int:
        assert ep == 0x02 and timeout == 500
        if self.gone:
            raise OSError(19, "No such device")
        if self.stall:
            raise USBTimeoutError("Operation timed out")
        self.written += data
        if data[:2] == b"\x10\x04":
            self.reply = b"\x12"
        return len(data)

    def read(self, ep: int, size: int, timeout: int) -> bytes:
        assert ep == 0x81
        reply, self.reply = self.reply, b""
        if not reply:
            raise USBTimeoutError("Operation timed out")
        return reply


def test_usb_finds_endpoints_detaches_usblp_and_maps_timeouts_and_unplug():
    dev = FakeUsbDevice()
    present = {"dev": dev}
    cfg = printer_cfg(type="usb", vendor_id=0x04B8, product_id=0x0E15, write_timeout_s=0.5)
    t = UsbTransport("kiosk", cfg, finder=lambda **kw: present["dev"])
    t.open()
    assert dev.detached
    t.write(b"\x1b@hi")
    assert t.status().ok
    dev.stall = True
    with pytest.raises(PrinterError, match="timed out"):
        t.write(b"x")
    dev.stall, dev.gone = False, True
    with pytest.raises(PrinterError, match="write failed"):
        t.write(b"x")
    t.close()
    present["dev"] = None
    with pytest.raises(PrinterError, match="not found"):
        t.open()
    present["dev"] = FakeUsbDevice()          # plugged back in
    t.open()
    t.write(b"again")
    assert present["dev"].written == b"again"
    t.close()


@pytest.mark.parametrize("printer,cause,paper,ok,detail", [
    (b"\x12", b"\x12", b"\x12", True, ""),
    (b"\x12", b"\x12", b"\x1e", True, "paper near end"),
    (b"\x1a", b"\x32", b"\x72", False, "out of paper"),
    (b"\x1a", b"\x16", b"\x12", False, "cover open"),
    (b"\x1a", b"\x52", b"\x12", False, "printer error"),
    (b"\x1a", b"\x12", b"\x12", False, "offline"),
    (b"", b"", b"", False, "no answer"),
    (b"\xff", b"\x12", b"\x12", False, "garbled"),
])
def test_status_bytes(printer, cause, paper, ok, detail):
    st = parse_status(printer, cause, paper)
    assert st.ok is ok and detail in st.detail
