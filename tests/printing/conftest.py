"""Fixtures for printing tests: configs with printers, a fake controller, an ESC/POS raster decoder."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from edge.config import AppConfig, parse_config

CENTER = {
    "site": "ast-con-01",
    "name": {"kk": "Астана қ. №1 ХҚКО", "ru": "ЦОН №1 г. Астана", "en": "PSC No. 1 Astana"},
    "timezone": "Asia/Almaty",
}
SERVICES = [
    {"id": "docs", "prefix": "A", "avg_minutes": 8,
     "names": {"kk": "Жеке куәлік және төлқұжат", "ru": "Удостоверение личности и паспорт",
               "en": "ID cards and passports"}},
    {"id": "realty", "prefix": "B",
     "names": {"kk": "Жылжымайтын мүлікті тіркеу", "ru": "Регистрация недвижимости"}},
]


def make_config(printers: dict[str, Any] | None = None, ticket: dict[str, Any] | None = None,
                services: list[dict[str, Any]] | None = None) -> AppConfig:
    data: dict[str, Any] = {
        "center": CENTER, "services": services or SERVICES,
        "windows": [{"number": 1, "services": {s["id"]: 1 for s in (services or SERVICES)}}],
        "printers": printers if printers is not None else {"kiosk": {"type": "fake"}},
    }
    if ticket is not None:
        data["ticket"] = ticket
    return parse_config(data, "test")


@pytest.fixture
def config_factory() -> Callable[..., AppConfig]:
    return make_config


# A visitor page's token as the controller makes one (22 URL-safe characters).
TOKEN = "q7Hc2LwZ0pXe_R4v-9sKbA"


def issued(ticket_id: int = 1, ticket: str = "A-001", printer: str | None = "kiosk",
           **extra: Any) -> dict[str, Any]:
    """ticket.issued event data as the engine emits it."""
    data = {"ticket_id": ticket_id, "ticket": ticket, "service": "docs", "category": "normal",
            "booked": False, "visit": f"2026-11-23/{ticket_id}", "day": "2026-11-23",
            "number": int(ticket.split("-")[1]), "ahead": 3, "wait_min": 24, "printer": printer,
            "issued_at": "2026-11-23T09:00:00", "token": TOKEN}
    data.update(extra)
    return data


@pytest.fixture
def issued_data() -> Callable[..., dict[str, Any]]:
    return issued


@dataclass
class _Event:
    type: str
    data: dict[str, Any]


@dataclass
class _Reply:
    text: str = ""
    ticket: Any = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Applied:
    command: Any
    reply: _Reply
    events: list[_Event]


class FakeController:
    """Records what the printer worker submits; answers PrintJobs from `jobs`."""

    def __init__(self) -> None:
        self.commands: list[Any] = []
        self.jobs: list[dict[str, Any]] = []
        self.listeners: list[Callable[[Any], None]] = []
        self.changed = threading.Condition()
        self.config: Any = None   # the running configuration, where a test needs one

    def subscribe(self, listener: Callable[[Any], None]) -> None:
        self.listeners.append(listener)

    def emit(self, type_: str, data: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener(_Applied(None, _Reply(), [_Event(type_, data)]))

    def submit(self, command: Any) -> "Future[Any]":
        fut: Future[Any] = Future()
        with self.changed:
            self.commands.append(command)
            name = type(command).__name__
            if name == "TicketPrinted" and command.ok:
                self.jobs = [j for j in self.jobs if j["ticket_id"] != command.ticket_id]
            if name == "VoidTicket":
                self.jobs = [j for j in self.jobs if j["ticket_id"] != command.ticket_id]
            self.changed.notify_all()
        fut.set_result(_Applied(command, _Reply(), []))
        return fut

    def call(self, command: Any, timeout: float = 10.0) -> Any:
        self.submit(command)
        return _Applied(command, _Reply(data={"jobs": [dict(j) for j in self.jobs]}), [])

    def of(self, name: str) -> list[Any]:
        with self.changed:
            return [c for c in self.commands if type(c).__name__ == name]

    def wait_for(self, predicate: Callable[["FakeController"], Any], timeout: float = 30.0) -> Any:
        # Also re-checked every 20 ms: some predicates look at the worker, not at commands.
        deadline = time.monotonic() + timeout
        with self.changed:
            while not (ok := predicate(self)) and time.monotonic() < deadline:
                self.changed.wait(0.02)
        assert ok, f"timed out; commands so far: {self.commands}"
        return ok


@pytest.fixture
def fake_controller() -> FakeController:
    return FakeController()


def decode_raster(data: bytes, width: int, memory: dict[bytes, Any] | None = None) -> "Any":
    """Rebuild the paper from ESC/POS bytes: GS v 0 images placed by ESC a, fed by ESC J;
    download graphics defined (GS ( L fn 83) into `memory` and printed by key (fn 85).

    Written from the ESC/POS command reference, independent of the renderer.
    """
    from PIL import Image
    memory = {} if memory is None else memory
    parts: list[tuple[int, int, Any]] = []
    y = 0
    align = 0
    i = 0
    while i < len(data):
        b = data[i]
        if data[i:i + 3] in (b"\x1d(L", b"\x1d8L"):
            size = 2 if data[i + 1] == 0x28 else 4
            n = int.from_bytes(data[i + 3:i + 3 + size], "little")
            body = data[i + 3 + size:i + 3 + size + n]
            assert body[0] == 0x30, body[:4]
            fn = body[1]
            if fn == 0x53:       # define: a kc1 kc2 b xL xH yL yH c data (1 = dot)
                w, h = body[6] + 256 * body[7], body[8] + 256 * body[9]
                img = Image.frombytes("1", (w, h), body[11:])
                memory[body[3:5]] = Image.eval(img.convert("L"), lambda v: 255 - v).convert("1")
            elif fn == 0x55:     # print kc1 kc2 1 1: full width, so at x = 0
                img = memory[body[2:4]]
                parts.append((0, y, img))
                y += img.height
            elif fn == 0x51:
                memory.clear()
            elif fn == 0x52:
                memory.pop(body[2:4], None)
            i += 3 + size + n
        elif b == 0x06:          # the host's ACK after a key list
            i += 1
        elif data[i:i + 2] == b"\x1b@":
            memory.clear()       # ESC @ clears download graphics
            i += 2
        elif data[i:i + 2] == b"\x1ba":
            align = data[i + 2] % 48
            i += 3
        elif data[i:i + 2] == b"\x1bJ":
            y += data[i + 2]
            i += 3
        elif data[i:i + 2] == b"\x1bd":     # print and feed n lines (before the cut)
            i += 3
        elif data[i:i + 2] == b"\x1dV":
            i += 3 if data[i + 2] in (0, 1, 48, 49) else 4
        elif data[i:i + 3] == b"\x1dv0":
            m, xl, xh, yl, yh = data[i + 3:i + 8]
            wb, h = xl + 256 * xh, yl + 256 * yh
            raw = data[i + 8:i + 8 + wb * h]
            img = Image.frombytes("1", (wb * 8, h), raw)
            img = Image.eval(img.convert("L"), lambda v: 255 - v).convert("1")  # 1 bits are black
            sx = 2 if m in (1, 3) else 1
            sy = 2 if m in (2, 3) else 1
            if (sx, sy) != (1, 1):
                img = img.resize((img.width * sx, img.height * sy), Image.NEAREST)
            x = {0: 0, 1: (width - img.width) // 2, 2: width - img.width}[align]
            parts.append((x, y, img))
            y += img.height
            i += 8 + wb * h
        else:
            raise AssertionError(f"unexpected byte 0x{b:02x} at {i}: {data[i:i + 8]!r}")
    page = Image.new("1", (width, max(1, y)), 1)
    for x, top, img in parts:
        page.paste(img, (x, top))
    return page


@pytest.fixture
def raster_decoder() -> Callable[[bytes, int], Any]:
    return decode_raster


GOLDEN = Path(__file__).parent / "golden"


def golden_bytes(name: str, data: bytes) -> bytes:
    """A stored golden file to compare with; KEZEK_REGEN_GOLDEN=1 rewrites it (after review)."""
    import os
    path = GOLDEN / name
    if os.environ.get("KEZEK_REGEN_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    if not path.exists():
        pytest.fail(f"golden file {path} is missing; review the output and run with "
                    f"KEZEK_REGEN_GOLDEN=1 to write it")
    return path.read_bytes()


@pytest.fixture
def golden() -> Callable[[str, bytes], bytes]:
    return golden_bytes
