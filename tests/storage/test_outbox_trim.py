"""The outbox trim (sync disabled) on a card that is full: one clear line, not a traceback
per attempt, quiet retries, and one line when it works again."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

import pytest

from edge.clock import ManualClock
from edge.config import AppConfig
from edge.queue.commands import IssueTicket
from edge.sync.trim import OutboxTrim
from tests.conftest import Harness
from tests.storage.test_storage_faults import fill


def _wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_trim_on_a_full_card_says_so_once_retries_quietly_and_says_when_it_works(
        small_disk: Path, demo_config: AppConfig, clock: ManualClock,
        caplog: pytest.LogCaptureFixture) -> None:
    db = small_disk / "kezek.db"
    h = Harness(demo_config, db, clock)
    trim = OutboxTrim(db, h.controller, cap=10, policy="drop_oldest", retry_s=0.05)
    try:
        for _ in range(15):
            h.call(IssueTicket(service="docs"))
        over = len(h.store.outbox())
        assert over > 10
        # An empty WAL: the trim's delete must grow it, and the card has no room for that.
        h.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        filler = fill(small_disk)
        with caplog.at_level(logging.DEBUG, logger="edge.sync.trim"):
            trim.start()
            _wait_for(lambda: trim.failures >= 5)  # it keeps trying on its own
            told = [r for r in caplog.records if r.levelno >= logging.WARNING]
            assert len(told) == 1, [r.getMessage() for r in told]
            assert told[0].exc_info is None, "a traceback for a full card"
            line = told[0].getMessage()
            assert "disk is full" in line and "free space" in line and str(small_disk) in line
            assert "storage.outbox_cap" in line
            health = trim.health()
            assert health["ok"] is False and "disk is full" in health["last_error"]
            assert health["detail"] == health["last_error"]  # what `kezek status` lists
            assert len(h.store.outbox()) == over  # nothing deleted half-way

            caplog.clear()
            filler.unlink()
            _wait_for(lambda: trim.dropped > 0)
            _wait_for(lambda: trim.health()["ok"])
            again = [r.getMessage() for r in caplog.records
                     if r.levelno >= logging.WARNING and "works again" in r.getMessage()]
            assert len(again) == 1, [r.getMessage() for r in caplog.records]
        _wait_for(lambda: len(h.store.outbox()) <= 11)
    finally:
        trim.stop()
        h.close()
