"""Fixtures for the kiosk tests: a center with bookings and an IIN secret on the real
controller, its notice bus, the kiosk page, the hall screen, and headless Chromium."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from edge.clock import ManualClock
from edge.config import AppConfig, parse_config
from edge.config.hall import HallConfig
from edge.hall.server import HallServer
from edge.kiosk.notices import Notices
from edge.kiosk.server import KioskServer
from edge.queue import commands as c
from edge.queue.bookings import iin_hmac
from tests.browser import Chromium, start_chromium
from tests.conftest import DEMO_CONFIG, Harness
from tests.iin import make_iin, wrong_check_digit

__all__ = ["make_iin", "wrong_check_digit"]

SECRET = "kezek-kiosk-test-secret-0123456789abcdef"
TODAY = "2026-11-23"          # the Monday of the root conftest's clock (09:00, Asia/Almaty)
IIN = make_iin("90010130012")


def kiosk_data(secret_file: Path, **kiosk: Any) -> dict[str, Any]:
    data = tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))
    data["console"] = {"enabled": False}
    data["bookings"] = {"iin_secret_file": str(secret_file)}
    data["kiosk"] = {"enabled": True, "bind": "127.0.0.1", "port": 0, "printer": "kiosk",
                     "keepalive_s": 1.0, "retry_ms": 500, **kiosk}
    return data


class Submitted:
    """The real controller, with every command submitted to it recorded on the way."""

    def __init__(self, controller: Any) -> None:
        self.controller = controller
        self.commands: list[Any] = []

    def submit(self, command: Any) -> Any:
        self.commands.append(command)
        return self.controller.submit(command)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.controller, name)


class Kiosk:
    """A center's controller with the notice bus, the kiosk page and (if asked) the hall."""

    def __init__(self, harness: Harness, kiosk_cfg: Any, show_s: float) -> None:
        self.harness = harness
        self.notices = Notices(harness.controller, harness.config, harness.clock,
                               show_s={"refused": show_s, "info": show_s})
        self.notices.start()
        self.seen: list[Any] = []
        self.notices.subscribe(self.seen.append)
        self.submitted = Submitted(harness.controller)
        self.server = KioskServer(kiosk_cfg, self.submitted, self.notices, harness.clock,
                                  harness.config.center.name.as_dict())
        self.server.start()
        assert self.server.wait_serving(30), self.server.health()
        self.hall: HallServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.address
        return f"http://{host}:{port}/"

    def start_hall(self) -> HallServer:
        cfg = HallConfig(enabled=True, bind="127.0.0.1", port=0, keepalive_s=1.0, retry_ms=500)
        h = self.harness
        self.hall = HallServer(cfg, h.controller, h.config.center.name.as_dict(), h.clock,
                               h.config.center.timezone, notices=self.notices)
        self.hall.start()
        assert self.hall.wait_serving(30), self.hall.health()
        return self.hall

    def book(self, code: str, iin: str, slot: str = "09:15", service: str = "docs") -> None:
        entry = {"code": code, "service": service, "date": TODAY, "slot_start": slot,
                 "slot_minutes": 15, "iin_hmac": iin_hmac(SECRET.encode(), iin)}
        self.harness.call(c.LoadBookings(bookings=(entry,), version=None))

    def tickets(self) -> list[Any]:
        return sorted(self.harness.engine.state.tickets.values(), key=lambda t: t.id)

    def stop(self) -> None:
        self.server.stop(2.0)
        if self.hall is not None:
            self.hall.stop(2.0)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    p = tmp_path / "iin_secret"
    p.write_text(SECRET + "\n", encoding="utf-8")
    p.chmod(0o600)
    return p


@pytest.fixture
def make_kiosk(tmp_path: Path, clock: ManualClock, secret_file: Path
               ) -> Iterator[Callable[..., Kiosk]]:
    """make_kiosk(**kiosk_keys, edit=fn(data), show_s=notices' time up) -> a running Kiosk
    on a real controller. Notices stay up 30 s: a loaded machine still sees them."""
    made: list[tuple[Harness, Kiosk]] = []

    def make(edit: Callable[[dict[str, Any]], None] | None = None, show_s: float = 30.0,
             **kiosk: Any) -> Kiosk:
        data = copy.deepcopy(kiosk_data(secret_file, **kiosk))
        if edit is not None:
            edit(data)
        config: AppConfig = parse_config(data, "kiosk test")
        harness = Harness(config, tmp_path / f"kezek-{len(made)}.db", clock)
        k = Kiosk(harness, config.kiosk, show_s)
        made.append((harness, k))
        return k

    yield make
    for harness, k in made:
        k.stop()
        harness.close()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """One browser for a module's tests (each opens the page anew): it starts in seconds."""
    browser = start_chromium(tmp_path_factory.mktemp("kiosk-browser"))
    # A kiosk's touch screen stands upright: full HD, portrait.
    browser.send("Emulation.setDeviceMetricsOverride", width=1080, height=1920,
                 deviceScaleFactor=1, mobile=False)
    yield browser
    browser.close()
