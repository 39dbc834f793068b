"""Stopping the service object while its loop runs on another thread."""

from __future__ import annotations

import io
import logging
import threading
import tomllib
from pathlib import Path

from edge.config import AppConfig, parse_config
from edge.queue import commands as c
from edge.service import App

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo.toml"


def test_stop_while_the_loop_runs_elsewhere_ends_the_loop_before_closing_the_store(
        tmp_path: Path, caplog) -> None:
    """Risk: stop() closed the database while the loop, on another thread, still ran; its
    next tick found the files "deleted", logged the storage alarm's 'DO NOT stop or
    restart' message and refused commands (seen at the end of every press benchmark)."""
    data = {**tomllib.loads(DEMO.read_text(encoding="utf-8")), "console": {"enabled": False}}
    data.pop("hall", None)
    data.pop("kiosk", None)
    data.pop("announce", None)
    config: AppConfig = parse_config(data, "demo without console, hall, voice")
    app = App(config, tmp_path / "state", stdout=io.StringIO())
    app.start_components()
    loop = threading.Thread(target=app.run, name="test-loop", daemon=True)
    loop.start()
    assert app.controller.call(c.IssueTicket("docs")).reply.ticket is not None
    with caplog.at_level(logging.WARNING):
        app.stop()
        loop.join(5)
    assert not loop.is_alive()
    assert app.controller.storage_fault is None
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
