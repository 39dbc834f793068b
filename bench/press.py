"""Button press to first byte at the printer, for a raster Kazakh ticket.

The whole service as `kezek run` builds it (App + wiring): a gpiozero MockFactory ticket
button -> controller (SQLite commit) -> printer worker (raster render with DejaVu Sans,
ESC/POS image) -> a raw TCP "printer" on localhost that timestamps every byte it gets.

A ticket button acts on release (a press held past hold_s is a different action), so
the clock starts when the pin is released. debounce_ms, min_interval_s and the chatter
guard are relaxed so that presses can follow each other quickly; they add no latency.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import demo_config_dict
from edge.config import parse_config
from edge.sim.stats import summary_ms

PIN = 17
CUT = b"\x1dV"   # GS V: the cut that ends every ticket


class TcpSink:
    """A port-9100 printer that records when each chunk of bytes arrived."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.chunks: list[tuple[int, bytes]] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-printer-sink", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except socket.timeout:
                continue
            conn.settimeout(0.2)
            with conn:
                while not self._stop.is_set():
                    try:
                        data = conn.recv(65536)
                    except socket.timeout:
                        continue
                    if not data:
                        break
                    with self.arrived:
                        self.chunks.append((time.perf_counter_ns(), data))
                        self.arrived.notify_all()

    def mark(self) -> int:
        with self.lock:
            return len(self.chunks)

    def wait_ticket(self, start: int, timeout: float) -> tuple[int, int]:
        """(arrival ns of the first byte after chunk `start`, bytes of the ticket)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                got = b"".join(d for _, d in self.chunks[start:])
                if CUT in got:
                    return self.chunks[start][0], len(got)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no complete ticket at the printer after {timeout} s "
                                       f"({len(got)} bytes)")
                self.arrived.wait(left)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.server.close()


def bench_config(port: int) -> Any:
    data = demo_config_dict()
    # Only the parts on the way from the button to the paper.
    for section in ("hall", "kiosk", "panel", "announce", "boards", "sync", "ticket"):
        data.pop(section, None)
    data["console"] = {"enabled": False}
    data["printers"] = {"entrance": {"type": "network", "host": "127.0.0.1", "port": port,
                                     "mode": "raster", "paper_mm": 80, "status": "none"}}
    data["gpio"] = {"pin_factory": "mock", "buttons": [{
        "kind": "ticket", "pin": PIN, "service": "docs", "printer": "entrance",
        "debounce_ms": 0, "min_interval_s": 0, "chatter_presses": 100,
        "chatter_window_s": 0.001}]}
    return parse_config(data, "bench press-to-print config")


def run(dir_: Path, presses: int) -> dict[str, Any]:
    from edge.service import App  # the whole service: imported only when this bench runs

    sink = TcpSink()
    app = App(bench_config(sink.port), dir_ / "press-state", stdout=io.StringIO())
    loop = threading.Thread(target=app.run, name="bench-controller", daemon=True)
    samples: list[int] = []
    sizes: list[int] = []
    try:
        app.start_components()
        loop.start()
        gpio = next(c for c in app.components if c.name == "gpio")
        pin = gpio.pin_factory.pin(PIN)
        for i in range(presses + 3):
            start = sink.mark()
            pin.drive_low()     # pressed (pull-up button: active low)
            pin.drive_high()    # released: the press counts now
            released = time.perf_counter_ns()
            first, size = sink.wait_ticket(start, timeout=10)
            if i >= 3:  # the first tickets load the font and open the connection
                samples.append(first - released)
                sizes.append(size)
            time.sleep(0.01)
    finally:
        app.stop()
        if loop.is_alive():
            loop.join(5)
        sink.close()
    out = summary_ms(samples)
    out["printer_bytes_per_ticket"] = round(sum(sizes) / len(sizes)) if sizes else 0
    return out
