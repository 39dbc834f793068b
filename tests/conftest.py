"""Shared fixtures: a real controller on a real SQLite file, driven by a manual clock."""

from __future__ import annotations

import datetime as dt
import io
import time
import tomllib
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from edge.clock import ManualClock
from edge.config import AppConfig, parse_config
from edge.config.domain import domain_from_config
from edge.controller import Controller
from edge.queue.engine import QueueEngine
from edge.storage.store import QueueStore

ROOT = Path(__file__).resolve().parents[1]
DEMO_CONFIG = ROOT / "config" / "demo.toml"
# 2026-11-23 09:00 in Asia/Almaty (UTC+5), a Monday.
MONDAY_9AM_MS = int(dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.timezone.utc).timestamp() * 1000)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `heavy(seconds=N)` run first, the longest first. scripts/test.sh runs
    the suite on every core (pytest-xdist, --dist worksteal): started first, the long ones
    overlap the many short ones instead of one of them running alone at the end."""
    def weight(item: pytest.Item) -> float:
        mark = item.get_closest_marker("heavy")
        return -float(mark.kwargs.get("seconds", 15)) if mark else 0.0
    items.sort(key=weight)   # stable: the rest keep their order


def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll until check() is truthy and return its value; fail naming `what` after
    `timeout` s. The deadline is generous (CI machines are loaded); it returns at once."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def demo_config_dict() -> dict[str, Any]:
    return tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))


# The smallest valid config file: one service at one window (config tests add to it).
MINIMAL_CONFIG = """\
[center]
site = "t-01"
name = { kk = "Орталық", ru = "Центр" }

[[services]]
id = "docs"
names = { kk = "Құжаттар", ru = "Документы" }
prefix = "A"

[[windows]]
number = 1
services = { docs = 2 }
"""


@pytest.fixture
def demo_config() -> AppConfig:
    return parse_config(demo_config_dict(), str(DEMO_CONFIG))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_9AM_MS)


class Harness:
    """A controller on a real database file; restart() reopens it as after a crash."""

    def __init__(self, config: AppConfig, db_path: Path, clock: ManualClock, *,
                 tick_interval_s: float = 1.0) -> None:
        self.config = config
        self.db_path = db_path
        self.clock = clock
        self.tick_interval_s = tick_interval_s
        self._open()

    def _open(self) -> None:
        self.store = QueueStore(self.db_path)
        services, windows, policies = domain_from_config(self.config)
        self.engine = QueueEngine(services, windows, self.config.center.timezone, policies,
                                  self.store.load())
        self.controller = Controller(self.engine, self.store, self.clock, config=self.config,
                                     tick_interval_s=self.tick_interval_s)
        self.controller.start()

    def call(self, command: Any):
        return self.controller.call(command, timeout=10)

    def restart(self) -> None:
        self.close()
        self._open()

    def reboot_without_rtc(self, boot: str = "boot-2") -> int:
        """Power off now and boot again later, as a Pi without a battery clock does: it
        starts on the wall time it saved at shutdown (returned), unsynced, until NTP answers."""
        self.close()
        saved = self.clock.wall_ms
        self.clock.reboot(boot, wall_ms=saved, synced=False)
        self._open()
        return saved

    def close(self) -> None:
        self.controller.stop()
        self.store.close()


@pytest.fixture
def harness(tmp_path: Path, demo_config: AppConfig, clock: ManualClock) -> Iterator[Harness]:
    h = Harness(demo_config, tmp_path / "kezek.db", clock)
    yield h
    h.close()


@pytest.fixture
def text_out() -> io.StringIO:
    return io.StringIO()
