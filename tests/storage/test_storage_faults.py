"""Storage faults on real broken disks: a full card, a card the kernel turned read-only,
damaged database files. Nothing saved may be lost, and nothing unsaved may be handed out."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from edge.clock import ManualClock
from edge.config import AppConfig
from edge.errors import StorageError
from edge.queue.commands import IssueTicket
from tests.conftest import Harness


def fill(folder: Path) -> Path:
    """Write a filler file until the disk is full; returns it (delete it to free space)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def card_errors(mnt: Path) -> None:
    """The kernel remounts the file system read-only, as after an SD card's I/O errors."""
    r = _mount("-o", "remount,abort", str(mnt))
    assert r.returncode == 0, r.stderr


def db_tickets(db: Path) -> list[tuple[int, str, str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT id, label, state FROM tickets ORDER BY id").fetchall()
    finally:
        conn.close()


def memory_tickets(h: Harness) -> list[tuple[int, str, str]]:
    return sorted((t.id, t.label, t.state.value) for t in h.engine.state.tickets.values())


def test_full_disk_refuses_the_ticket_names_the_fault_and_loses_nothing(
        small_disk: Path, demo_config: AppConfig, clock: ManualClock) -> None:
    db = small_disk / "kezek.db"
    h = Harness(demo_config, db, clock)
    try:
        first = h.call(IssueTicket(service="docs"))
        assert "A-001" in first.reply.text
        filler = fill(small_disk)
        with pytest.raises(StorageError) as refused:
            for _ in range(200):  # the WAL's free room goes first; then it must refuse
                h.call(IssueTicket(service="docs"))
        # The real fault, not "cannot rollback - no transaction is active".
        assert refused.value.kind == "full"
        assert "disk is full" in str(refused.value) and "free space" in str(refused.value)
        assert str(small_disk) in str(refused.value)
        # The engine's memory is what the database holds: the refused ticket is nowhere.
        assert memory_tickets(h) == db_tickets(db)
        assert h.store.last_seq == max(e.seq for e in h.store.outbox())
        saved = len(db_tickets(db))

        filler.unlink()
        after = h.call(IssueTicket(service="docs"))
        # The next number follows the last saved one: none skipped, none repeated.
        assert f"A-{saved + 1:03d}" in after.reply.text
        assert memory_tickets(h) == db_tickets(db)
        h.restart()
        assert memory_tickets(h) == db_tickets(db)
    finally:
        h.close()
