"""Finding the hardware: every serial port and USB printer, what it probably is, its config lines.

Serial ports are named by their stable /dev/serial/by-id/ path (a /dev/ttyUSB0 can be
another device after a replug). Each port is first asked for an ESC/POS status (DLE EOT
1): a ticket printer answers one byte of the form 0xx1xx10. A port that does not answer
is then listened to: a keypad sends a command line ("3 next") or a 4-byte frame
[0x01, address, key, 0x07], a scanner a line of printable text. Only a press or a scan
while listening tells them apart; the person running `kezek ports` is asked to do one.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

DLE_EOT_PRINTER = b"\x10\x04\x01"
BAUDS = (9600, 19200, 38400, 115200)
KEYPAD_LINE = re.compile(r"^\s*(\d{1,3}\s+)?(next|call|call_next|recall|noshow|no_show|start|"
                         r"done|finish|park|return|transfer|pause|resume|open|close|rate)\b",
                         re.IGNORECASE)
FRAME = re.compile(rb"\x01(.)(.)\x07", re.DOTALL)
# Printer vendors whose devices declare no printer class (as in systemd/99-kezek-printers.rules).
PRINTER_VENDORS = {0x04B8: "Epson", 0x1D90: "Citizen", 0x0519: "Star", 0x1504: "Bixolon",
                   0x0416: "Winbond (Xprinter clones)", 0x0FE6: "ICS (clones)"}


@dataclass
class Port:
    """One device found, and what the probes learned about it."""

    path: str                   # the path to put in the config (stable when there is one)
    device: str                 # the kernel's node (/dev/ttyUSB0, /dev/usb/lp0)
    kind: str = "serial"        # serial | usblp | usb
    stable: bool = True
    vendor_id: int | None = None
    product_id: int | None = None
    serial_number: str | None = None
    product: str = ""
    guess: str = "unknown"      # printer | keypad-lines | keypad-frames | scanner | unknown
    baudrate: int | None = None
    evidence: str = ""
    addresses: list[int] = field(default_factory=list)

    def config_lines(self) -> list[str]:
        """TOML to paste into the center's config."""
        if self.guess == "printer" or self.kind in ("usblp", "usb"):
            name = "kiosk"
            if self.kind == "usb":
                lines = [f"[printers.{name}]", 'type = "usb"',
                         f"vendor_id = 0x{self.vendor_id or 0:04x}",
                         f"product_id = 0x{self.product_id or 0:04x}"]
                if self.serial_number:
                    lines.append(f'serial_number = "{self.serial_number}"')
                return lines
            if self.kind == "usblp":
                return [f"[printers.{name}]", 'type = "file"', f'path = "{self.path}"',
                        'status = "poll"  # "none" if this printer cannot answer over USB']
            return [f"[printers.{name}]", 'type = "serial"', f'port = "{self.path}"',
                    f"baudrate = {self.baudrate or 9600}"]
        head = ["[[gpio.serial_inputs]]"]
        baud = [] if (self.baudrate or 9600) == 9600 else [f"baudrate = {self.baudrate}"]
        if self.guess == "keypad-lines":
            return head + ['type = "keypad"', f'port = "{self.path}"', 'protocol = "lines"'] + baud
        if self.guess == "keypad-frames":
            mapping = ", ".join(f"{a} = {a}" for a in self.addresses) or "1 = 1"
            return head + ['type = "keypad"', f'port = "{self.path}"', 'protocol = "frames"',
                           f"addresses = {{ {mapping} }}   # unit address -> window number"] + baud
        if self.guess == "scanner":
            return head + ['type = "scanner"', f'port = "{self.path}"', 'printer = "kiosk"'] + baud
        return [f"# {self.path}: not recognised; press a key or scan a code while "
                "`kezek ports --listen 20` runs"]


# -- finding ------------------------------------------------------------------------------

def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def find_serial(by_id: Path = Path("/dev/serial/by-id"), dev: Path = Path("/dev")) -> list[Port]:
    """Every serial port: by its by-id path, then any tty that has none (a Pi's UART)."""
    ports: list[Port] = []
    seen: set[str] = set()
    if by_id.is_dir():
        for link in sorted(by_id.iterdir()):
            target = os.path.realpath(link)
            seen.add(target)
            ports.append(Port(str(link), target, product=link.name))
    for pattern in ("ttyUSB*", "ttyACM*", "serial0", "serial1"):
        for node in sorted(dev.glob(pattern)):
            real = os.path.realpath(node)
            if real in seen:
                continue
            seen.add(real)
            stable = node.name.startswith("serial")  # the Pi's fixed UART names
            ports.append(Port(str(node), real, stable=stable,
                              evidence="" if stable else "no /dev/serial/by-id path"))
    return ports


def find_printers(dev: Path = Path("/dev"), sysfs: Path = Path("/sys/bus/usb/devices")) -> list[Port]:
    """USB printers: /dev/usb/lp* nodes (kernel driver) and raw USB printers (libusb)."""
    found = [Port(str(n), str(n), kind="usblp", stable=False,
                  evidence="the kernel's usblp numbering can change with two printers")
             for n in sorted((dev / "usb").glob("lp*"))]
    if sysfs.is_dir():
        for d in sorted(sysfs.iterdir()):
            vendor, product = _read(d / "idVendor"), _read(d / "idProduct")
            if not vendor or not product:
                continue
            vid, pid = int(vendor, 16), int(product, 16)
            printer_class = any(_read(i / "bInterfaceClass") == "07" for i in d.glob(f"{d.name}:*"))
            if not printer_class and vid not in PRINTER_VENDORS:
                continue
            name = " ".join(x for x in (_read(d / "manufacturer"), _read(d / "product")) if x)
            found.append(Port(f"usb {vid:04x}:{pid:04x}", str(d), kind="usb",
                              vendor_id=vid, product_id=pid,
                              serial_number=_read(d / "serial") or None,
                              product=name or PRINTER_VENDORS.get(vid, ""), guess="printer",
                              evidence="USB printer class" if printer_class
                              else f"vendor {PRINTER_VENDORS[vid]}"))
    return found


# -- probing ------------------------------------------------------------------------------

def is_printer_status(byte: int) -> bool:
    """DLE EOT n answers have bit 1 and bit 4 set, bit 0 and bit 7 clear."""
    return byte & 0x93 == 0x12


Opener = Callable[[str, int], object]


def _open_serial(path: str, baud: int) -> object:
    import serial
    return serial.Serial(path, baudrate=baud, timeout=0.1, write_timeout=1, exclusive=True)


def ask_printer(port: Port, bauds: Iterable[int] = BAUDS, reply_s: float = 0.5,
                opener: Opener = _open_serial) -> None:
    """Send DLE EOT 1 at each speed; a status byte back makes it a printer."""
    for baud in bauds:
        try:
            s = opener(port.path, baud)
        except Exception as e:  # busy, gone, permission
            port.evidence = f"cannot open: {e}"
            return
        try:
            s.reset_input_buffer()  # type: ignore[attr-defined]
            s.write(DLE_EOT_PRINTER)  # type: ignore[attr-defined]
            deadline = time.monotonic() + reply_s
            while time.monotonic() < deadline:
                data = s.read(1)  # type: ignore[attr-defined]
                if data and is_printer_status(data[0]):
                    port.guess, port.baudrate = "printer", baud
                    port.evidence = f"answered DLE EOT with 0x{data[0]:02x} at {baud} baud"
                    return
        except Exception as e:
            port.evidence = f"error while asking: {e}"
            return
        finally:
            s.close()  # type: ignore[attr-defined]


def classify(data: bytes) -> tuple[str, str, list[int]]:
    """(guess, evidence, frame addresses) from what a device sent while we listened."""
    frames = FRAME.findall(data)
    if frames:
        addresses = sorted({a[0] for a, _ in frames})
        return ("keypad-frames", f"sent {len(frames)} frame(s) [01 addr key 07] from unit(s) "
                                 f"{', '.join(map(str, addresses))}", addresses)
    for raw in re.split(rb"[\r\n]+", data):
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            continue
        if KEYPAD_LINE.match(line):
            return "keypad-lines", f"sent the command line {line[:40]!r}", []
        if all(32 <= ord(ch) < 127 for ch in line):
            return "scanner", f"sent a {len(line)}-character code", []  # never the code: an IIN?
    if data:
        return "unknown", f"sent {len(data)} bytes that are neither lines nor frames", []
    return "unknown", "no answer to DLE EOT, nothing heard while listening", []


def listen(ports: list[Port], seconds: float, opener: Opener = _open_serial) -> None:
    """Listen on every port at once for `seconds` (at the port's or 9600 baud)."""
    def one(port: Port) -> None:
        try:
            s = opener(port.path, port.baudrate or 9600)
        except Exception as e:
            port.evidence = f"cannot open: {e}"
            return
        data = b""
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                data += s.read(256)  # type: ignore[attr-defined]
                guess, _, _ = classify(data)
                if guess != "unknown" and (data.endswith((b"\r", b"\n", b"\x07"))):
                    break
        except Exception as e:
            port.evidence = f"error while listening: {e}"
            return
        finally:
            s.close()  # type: ignore[attr-defined]
        port.guess, port.evidence, port.addresses = classify(data)

    threads = [threading.Thread(target=one, args=(p,), name=f"kezek-ports-{i}")
               for i, p in enumerate(ports)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 10)


def survey(serial_ports: list[Port], printers: list[Port], *, listen_s: float,
           bauds: Iterable[int] = BAUDS, opener: Opener = _open_serial,
           on_listen: Callable[[list[Port]], None] = lambda ports: None) -> list[Port]:
    """Ask every serial port for a printer status, then listen on those that said nothing."""
    for port in serial_ports:
        ask_printer(port, bauds, opener=opener)
    quiet = [p for p in serial_ports if p.guess == "unknown" and not p.evidence.startswith("cannot")]
    if quiet and listen_s > 0:
        on_listen(quiet)
        listen(quiet, listen_s, opener)
    return serial_ports + printers


def render(ports: list[Port]) -> str:
    if not ports:
        return ("no serial ports and no USB printers found. Plug the devices in (a USB-serial "
                "adapter shows up in /dev/serial/by-id/), then run kezek ports again")
    out: list[str] = []
    for p in ports:
        what = {"printer": "ticket printer", "keypad-lines": "operator keypad (text lines)",
                "keypad-frames": "operator keypad (4-byte frames)", "scanner": "QR/barcode scanner",
                "unknown": "not recognised"}[p.guess]
        out.append(f"{p.path}")
        out.append(f"  device: {p.device}" + (f"  ({p.product})" if p.product and
                                               p.product not in p.path else ""))
        out.append(f"  probably: {what}" + (f" — {p.evidence}" if p.evidence else ""))
        if not p.stable:
            out.append("  note: not a stable path; it may change after a replug or reboot")
        out.append("  config:")
        out.extend(f"    {line}" for line in p.config_lines())
        out.append("")
    return "\n".join(out).rstrip()
