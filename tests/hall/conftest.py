"""Fixtures for the hall tests: a hall server on the real controller, and headless Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from edge.config.hall import HallConfig
from edge.hall.server import HallServer
from tests.browser import Chromium, start_chromium, wait_until

__all__ = ["Chromium", "wait_until"]


def hall_config(**over: Any) -> HallConfig:
    base: dict[str, Any] = {"enabled": True, "bind": "127.0.0.1", "port": 0,
                            "keepalive_s": 1.0, "retry_ms": 500}
    base.update(over)
    return HallConfig(**base)


@pytest.fixture
def make_hall(harness: Any) -> Iterator[Callable[..., HallServer]]:
    """Start hall servers on the harness's real controller; all stopped at the end."""
    started: list[HallServer] = []

    def make(**over: Any) -> HallServer:
        server = HallServer(hall_config(**over), harness.controller,
                            harness.config.center.name.as_dict(), harness.clock,
                            harness.config.center.timezone)
        server.start()
        started.append(server)
        assert server.wait_serving(30), server.health()
        return server

    yield make
    for s in started:
        s.stop(2.0)


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Chromium]:
    browser = start_chromium(tmp_path)
    yield browser
    browser.close()
