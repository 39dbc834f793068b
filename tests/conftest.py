"""Shared fixtures: a real controller on a real SQLite file, driven by a manual clock."""

from __future__ import annotations

import datetime as dt
import io
import tomllib
from pathlib import Path
from typing import Any, Iterator

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


def demo_config_dict() -> dict[str, Any]:
    return tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))


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
