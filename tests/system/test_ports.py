"""`kezek ports` on pty pairs: a printer that answers DLE EOT, keypads and a scanner that send."""

from __future__ import annotations

import os
import select
import threading
import tomllib
import tty
from pathlib import Path
from typing import Iterator

import pytest

from edge.config import parse_config
from edge.system.ports import Port, classify, find_printers, find_serial, render, survey
from tests.conftest import demo_config_dict


class Pty:
    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.name = os.ttyname(self.slave)

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


class EscPosPrinter(threading.Thread):
    """Answers DLE EOT 1 with 'online, no error' (0x12), as a thermal printer does."""

    def __init__(self, pty: Pty) -> None:
        super().__init__(name="test-printer", daemon=True)
        self.pty, self.stop = pty, threading.Event()

    def run(self) -> None:
        seen = b""
        while not self.stop.is_set():
            ready, _, _ = select.select([self.pty.master], [], [], 0.05)
            if ready:
                seen += os.read(self.pty.master, 64)
                if b"\x10\x04\x01" in seen:
                    seen = b""
                    os.write(self.pty.master, b"\x12")


@pytest.fixture
def devices(tmp_path: Path) -> Iterator[dict[str, Pty]]:
    ptys = {name: Pty() for name in ("printer", "keypad", "frames", "scanner", "silent")}
    by_id = tmp_path / "dev" / "serial" / "by-id"
    by_id.mkdir(parents=True)
    for name, p in ptys.items():
        (by_id / f"usb-Test_{name}-if00-port0").symlink_to(p.name)
    printer = EscPosPrinter(ptys["printer"])
    printer.start()
    yield ptys
    printer.stop.set()
    printer.join(10)
    for p in ptys.values():
        p.close()


def test_ports_tells_a_printer_keypads_and_a_scanner_apart_and_prints_their_config(
        tmp_path: Path, devices: dict[str, Pty]) -> None:
    dev = tmp_path / "dev"
    ports = find_serial(dev / "serial" / "by-id", dev)
    assert len(ports) == 5 and all(p.stable and "/serial/by-id/" in p.path for p in ports)

    def press_and_scan(quiet: list[Port]) -> None:
        # Asked while listening: what the IT person does when `kezek ports` says so.
        assert {Path(p.path).name for p in quiet} == {
            f"usb-Test_{n}-if00-port0" for n in ("keypad", "frames", "scanner", "silent")}
        # Pressed again and again until the listening ends: the port is opened (and its
        # input flushed, as pyserial does) a moment after this message.
        threading.Thread(target=keep_pressing, name="test-presses", daemon=True).start()

    done = threading.Event()

    def keep_pressing() -> None:
        while not done.wait(0.05):
            os.write(devices["keypad"].master, b"3 next\r\n")
            os.write(devices["frames"].master, b"\x01\x02\x31\x07")
            os.write(devices["scanner"].master, b"BK-2026-000123\r")

    try:
        found = survey(ports, [], listen_s=3, bauds=(9600,), on_listen=press_and_scan)
    finally:
        done.set()
    by_name = {Path(p.path).name.split("_")[1].split("-")[0]: p for p in found}
    assert by_name["printer"].guess == "printer" and "0x12 at 9600 baud" in by_name["printer"].evidence
    assert by_name["keypad"].guess == "keypad-lines"
    assert by_name["frames"].guess == "keypad-frames" and by_name["frames"].addresses == [2]
    assert by_name["scanner"].guess == "scanner" and "BK-2026" not in by_name["scanner"].evidence
    assert by_name["silent"].guess == "unknown"

    text = render(found)
    assert "probably: ticket printer" in text and "probably: QR/barcode scanner" in text
    # The lines to paste make a valid config together with a center's.
    lines = "\n".join("\n".join(p.config_lines()) for p in found if p.guess != "unknown")
    raw = demo_config_dict()
    for key in ("printers", "gpio", "console", "boards", "announce"):
        raw.pop(key, None)
    extra = tomllib.loads(lines)
    raw.update(extra)
    config = parse_config(raw, "pasted")
    assert config.printers["kiosk"].port == by_name["printer"].path  # type: ignore[union-attr]
    kinds = sorted((s.type, getattr(s, "protocol", "")) for s in config.gpio.serial_inputs)
    assert kinds == [("keypad", "frames"), ("keypad", "lines"), ("scanner", "")]


@pytest.mark.parametrize("data, guess", [
    (b"2 done\n", "keypad-lines"),
    (b"call A-017\r", "keypad-lines"),
    (b"\xff\x00\x01\x05\x34\x07", "keypad-frames"),
    (b"https://queue.example.kz/b/XYZ\r\n", "scanner"),
    (b"\x00\xff\xfe", "unknown"),
    (b"", "unknown"),
])
def test_what_a_device_sent_is_classified(data: bytes, guess: str) -> None:
    assert classify(data)[0] == guess


def test_usb_printers_are_found_by_class_or_vendor(tmp_path: Path) -> None:
    sysfs = tmp_path / "sys"
    epson = sysfs / "1-1.2"
    epson.mkdir(parents=True)
    (epson / "idVendor").write_text("04b8\n")
    (epson / "idProduct").write_text("0e15\n")
    (epson / "product").write_text("TM-T20II\n")
    (epson / "serial").write_text("X4PF012345\n")
    mouse = sysfs / "1-1.3"
    (mouse / "1-1.3:1.0").mkdir(parents=True)
    (mouse / "idVendor").write_text("046d\n")
    (mouse / "idProduct").write_text("c077\n")
    (mouse / "1-1.3:1.0" / "bInterfaceClass").write_text("03\n")
    clone = sysfs / "1-1.4"
    (clone / "1-1.4:1.0").mkdir(parents=True)
    (clone / "idVendor").write_text("28e9\n")
    (clone / "idProduct").write_text("0289\n")
    (clone / "1-1.4:1.0" / "bInterfaceClass").write_text("07\n")
    dev = tmp_path / "dev"
    (dev / "usb").mkdir(parents=True)
    (dev / "usb" / "lp0").write_text("")
    found = find_printers(dev, sysfs)
    assert [p.kind for p in found] == ["usblp", "usb", "usb"]
    assert found[1].config_lines()[:4] == ["[printers.kiosk]", 'type = "usb"',
                                           "vendor_id = 0x04b8", "product_id = 0x0e15"]
    assert 'serial_number = "X4PF012345"' in found[1].config_lines()
    assert found[2].evidence == "USB printer class"
    assert 'path = "' + str(dev / "usb" / "lp0") + '"' in found[0].config_lines()


def test_nothing_found_says_what_to_do() -> None:
    assert "/dev/serial/by-id/" in render([])
