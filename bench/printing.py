"""Paper in the visitor's hand: ticket bytes, render CPU, press to last byte, service rate.

Four measurements of issue 20, in one run:

- bytes per raster Kazakh ticket (demo layout, 80 mm): whole, and with the fixed parts
  kept in the printer (stored graphics), and what that is at 115200 baud;
- CPU per ticket of the renderer (thread CPU time, every ticket with new numbers, so the
  changing rows and the QR code are drawn each time);
- button release -> last byte of the ticket at a serial printer on a pty pair whose far
  end takes bytes at 115200 baud (edge.drivers.printing.simulator.PtyPrinter), through
  the whole service (App + wiring: GPIO MockFactory button, controller, SQLite, printer
  worker with its status polls and graphics checks), with stored graphics and without;
- the whole service's tickets/s with the demo's file printer against no printer: IssueTicket
  one after another from a client thread, until every ticket is printed (or issued).
"""

from __future__ import annotations

import io
import statistics
import threading
import time
from pathlib import Path
from typing import Any, Callable

from bench.common import demo_config_dict
from edge.config import AppConfig, parse_config
from edge.sim.stats import summary_ms

PIN = 17
BAUD = 115200


def _base() -> dict[str, Any]:
    data = demo_config_dict()
    # Only the parts on the way from the button to the paper.
    for section in ("hall", "announce", "boards", "sync", "gpio", "kiosk", "panel"):
        data.pop(section, None)
    for s in data["services"]:
        s["range"] = [1, 9999]
    data["console"] = {"enabled": False}
    return data


def _jobs(config: AppConfig, n: int, printer: str) -> list[Any]:
    """Tickets as the engine hands them over, every one with new numbers."""
    from edge.drivers.printing.content import TicketJob
    from edge.queue.tokens import new_token   # a new token each: the QR is drawn every time
    services = [s for s in config.services]
    jobs = []
    for i in range(n):
        svc = services[i % len(services)]
        jobs.append(TicketJob(ticket_id=i + 1, ticket=f"{svc.prefix}-{i + 1:03d}", service=svc.id,
                              category="pensioner" if i % 5 == 4 else "normal", number=i + 1,
                              ahead=i % 97, wait_min=(i * 7) % 240, printer=printer,
                              issued_at=f"2026-11-23T{9 + i // 3600 % 9:02d}:{i // 60 % 60:02d}:00",
                              token=new_token()))
    return jobs


def ticket_bytes(config: AppConfig) -> dict[str, Any]:
    from edge.drivers.printing.content import sample_job
    from edge.drivers.printing.render import render
    out: dict[str, Any] = {}
    for sid, category, booked in (("docs", "normal", False), ("benefits", "pensioner", False),
                                  ("realty", "normal", True)):
        job = sample_job(config, sid, printer="kiosk", category=category, booked=booked)
        r = render(job, config, "kiosk")
        sent = sum(len(p) if isinstance(p, bytes) else 10 for p in r.stored or ())
        images = [p for p in r.stored or () if not isinstance(p, bytes)]
        out[f"{job.ticket} {category}{' booked' if booked else ''}"] = {
            "whole": len(r.whole), "stored": sent,
            "images_kept": len(images), "image_bytes_once": sum(len(i.data) for i in images),
            "whole_s_115200": round(len(r.whole) * 10 / BAUD, 3),
            "stored_s_115200": round(sent * 10 / BAUD, 3)}
    return out


def render_cpu(config: AppConfig, n: int) -> dict[str, Any]:
    from edge.drivers.printing.render import render
    for job in _jobs(config, 30, "kiosk"):          # fonts, fixed blocks, QR templates
        render(job, config, "kiosk")
    jobs = _jobs(config, n + 30, "kiosk")[30:]
    samples = []
    for job in jobs:
        t0 = time.thread_time_ns()
        render(job, config, "kiosk")
        samples.append(time.thread_time_ns() - t0)
    out = summary_ms(samples)
    out["what"] = "thread CPU time of render() (layout, changing rows, QR, both byte forms)"
    return out


def _press_config(port: str, stored: str) -> AppConfig:
    data = _base()
    data["printers"] = {"kiosk": {"type": "serial", "port": port, "baudrate": BAUD,
                                  "mode": "raster", "paper_mm": 80, "stored_graphics": stored,
                                  # A pty shows no transmit queue (out_waiting is 0), so the
                                  # status query after a ticket waits behind the ticket's
                                  # bytes at the paced far end; a real port drains first.
                                  "read_timeout_s": 2.0}}
    data["gpio"] = {"pin_factory": "mock", "buttons": [{
        "kind": "ticket", "pin": PIN, "service": "docs", "printer": "kiosk",
        "debounce_ms": 0, "min_interval_s": 0, "chatter_presses": 100,
        "chatter_window_s": 0.001}]}
    return parse_config(data, "bench printing (pty serial printer)")


def press_to_last_byte(dir_: Path, presses: int, stored: str) -> dict[str, Any]:
    """Release -> the cut's last byte at a 115200-baud pty printer, whole service."""
    from edge.drivers.printing.simulator import PtyPrinter
    from edge.service import App
    printer = PtyPrinter(BAUD)
    app = App(_press_config(printer.path, stored), dir_, stdout=io.StringIO())
    loop = threading.Thread(target=app.run, name="bench-controller", daemon=True)
    samples: list[int] = []
    try:
        app.start_components()
        loop.start()
        gpio = next(c for c in app.components if c.name == "gpio")
        worker = next(c for c in app.components if c.name == "printer:kiosk")
        _wait(lambda: worker.health()["ok"], 10, "the pty printer to be ready")
        pin = gpio.pin_factory.pin(PIN)
        warm = 3
        fallbacks = 0
        for i in range(presses + warm):
            done = len(printer.cut_times)
            pin.drive_low()
            pin.drive_high()    # released: the press counts now
            released = time.perf_counter()
            last = printer.wait_cuts(done + 1, timeout=20)
            if i >= warm:      # the first tickets open the port and fill the printer's memory
                samples.append(int((last - released) * 1e9))
            # A visitor takes the paper: the printer is idle a moment (the worker defines
            # what the first ticket lacked only then), and every press is a fresh ticket.
            _wait(lambda: worker.printed >= i + 1, 10, "the ticket to be confirmed")
            if i == warm - 1 and worker.graphics is not None:
                _wait(lambda: not worker.graphics.owed, 30, "the printer's memory to be filled")
                fallbacks = worker.graphics.fallbacks
            time.sleep(0.05)
        graphics = worker.graphics
        out = summary_ms(samples)
        out.update({"graphics": graphics.describe() if graphics else "off",
                    "whole_tickets_measured": (graphics.fallbacks - fallbacks) if graphics else 0})
        return out
    finally:
        _stop(app, loop)
        printer.close()


def _stop(app: Any, loop: threading.Thread) -> None:
    """Stop as the service does (components first, then the loop): a printer's last note
    is then committed, not refused by a loop that ended under it."""
    if loop.is_alive():
        app.request_stop()
        loop.join(15)
    app.stop()


def _wait(cond: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(0.002)


def _service_rate(dir_: Path, n: int, printing: bool) -> dict[str, float]:
    from edge.queue.commands import IssueTicket
    from edge.service import App
    data = _base()
    if not printing:
        data["printers"] = {}
    app = App(parse_config(data, "bench printing rate"), dir_, stdout=io.StringIO())
    loop = threading.Thread(target=app.run, name="bench-controller", daemon=True)
    try:
        app.start_components()
        loop.start()
        worker = next((c for c in app.components if c.name == "printer:kiosk"), None)
        if worker is not None:
            _wait(lambda: worker.health()["ok"], 10, "the file printer to be ready")
        cmd = IssueTicket(service="docs", printer="kiosk" if printing else None, source="bench")
        t0 = time.perf_counter()
        for _ in range(n):
            app.controller.call(cmd, timeout=10)
        issued = time.perf_counter()
        if worker is not None:
            _wait(lambda: worker.printed >= n, 120, "every ticket to be printed")
        end = time.perf_counter()
        return {"issued_per_s": n / (issued - t0), "done_per_s": n / (end - t0)}
    finally:
        _stop(app, loop)


def service_rate(dir_: Path, n: int, rounds: int) -> dict[str, Any]:
    """Printing off and on, alternately, `rounds` times each; medians compared, and each
    round's own on / off (the spread: the two share the machine's load only that closely)."""
    off, on = [], []
    for r in range(rounds):
        off.append(_service_rate(dir_ / f"off-{r}", n, False))
        on.append(_service_rate(dir_ / f"on-{r}", n, True))
    off_rate = statistics.median(x["done_per_s"] for x in off)
    on_rate = statistics.median(x["done_per_s"] for x in on)
    per_round = [round(a["done_per_s"] / b["done_per_s"], 3) for a, b in zip(on, off)]
    return {"tickets": n, "rounds": rounds, "off_per_s": round(off_rate, 1),
            "on_printed_per_s": round(on_rate, 1),
            "on_issued_per_s": round(statistics.median(x["issued_per_s"] for x in on), 1),
            "ratio": round(on_rate / off_rate, 3) if off_rate else 0.0,
            "round_ratios": per_round}


def run(dir_: Path, presses: int, tickets: int, rounds: int = 3) -> dict[str, Any]:
    config = parse_config(_base(), "bench printing (demo layout)")
    return {
        "bytes": ticket_bytes(config),
        "render_cpu": render_cpu(config, max(50, tickets)),
        "press_stored": press_to_last_byte(dir_ / "press-stored", presses, "auto"),
        "press_whole": press_to_last_byte(dir_ / "press-whole", max(3, presses // 4), "off"),
        "service_rate": service_rate(dir_ / "rate", tickets, rounds),
    }
