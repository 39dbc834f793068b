"""Storage faults on real broken disks: a full card, a card the kernel turned read-only,
damaged database files. Nothing saved may be lost, and nothing unsaved may be handed out."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
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
    r = subprocess.run(["mount", "-o", "remount,abort", str(mnt)], capture_output=True, text=True)
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


def _wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    import time
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_full_disk_is_logged_once_shown_in_status_and_its_alarm_reaches_the_outbox(
        small_disk: Path, demo_config: AppConfig, clock: ManualClock,
        caplog: pytest.LogCaptureFixture) -> None:
    from edge.system.health import HealthCollector
    db = small_disk / "kezek.db"
    h = Harness(demo_config, db, clock, tick_interval_s=0.02)
    try:
        h.controller.storage_probe_s = 0.3
        collector = HealthCollector(state_dir=small_disk, db_path=db, components={},
                                    min_free_mb=0,
                                    storage_fault=lambda: h.controller.storage_fault)
        h.call(IssueTicket(service="docs"))
        filler = fill(small_disk)
        with caplog.at_level("DEBUG", logger="edge.controller"):
            with pytest.raises(StorageError):
                for _ in range(200):
                    h.call(IssueTicket(service="docs"))
            for _ in range(3):
                with pytest.raises(StorageError):
                    h.call(IssueTicket(service="docs"))
            import time
            time.sleep(1.0)  # ~50 ticks and 3 alarm attempts while the disk is full
        errors = [r for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1, [r.getMessage() for r in errors]
        assert "disk is full" in errors[0].getMessage()
        health = collector.collect()
        assert health["ok"] is False
        assert health["storage"]["alarm"] == "storage.full"
        assert any("storage.full" in p and "free space" in p for p in health["problems"])
        assert memory_tickets(h) == db_tickets(db)

        filler.unlink()
        # No command needed: the alarm attempt itself finds that the disk takes writes.
        _wait_for(lambda: h.controller.storage_fault is None
                  and any(e.type == "alarm.cleared" for e in h.store.outbox()))
        _wait_for(lambda: "storage.full" not in h.controller.snapshot.alarms)
        events = [(e.type, e.data) for e in h.store.outbox() if e.type.startswith("alarm.")]
        assert [t for t, _ in events] == ["alarm.raised", "alarm.cleared"]
        raised = events[0][1]
        assert raised["alarm"] == "storage.full" and raised["severity"] == "critical"
        assert raised["refused"] >= 4 and raised["since_ms"] <= clock.read().wall_ms
        assert "disk is full" in raised["message"]
        assert collector.collect()["storage"] is None
        assert memory_tickets(h) == db_tickets(db)
    finally:
        h.close()


CONFIG = """
[center]
site = "storage-test"
name = { kk = "Сынақ орталығы", ru = "Тестовый центр" }
timezone = "Asia/Almaty"

[console]
enabled = true

[[services]]
id = "docs"
names = { kk = "Құжаттар", ru = "Документы" }
prefix = "A"

[[windows]]
number = 1
services = { docs = 1 }
"""


def kezek_run(state_dir: Path, tmp_path: Path, stdin: str = "quit\n") -> subprocess.CompletedProcess[str]:
    config = tmp_path / "kezek.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "run", "--config", str(config), "--state-dir",
         str(state_dir), "--log-level", "WARNING"],
        input=stdin, capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[2])


def test_start_on_a_read_only_card_exits_74_with_the_fault_and_fix(
        small_disk: Path, tmp_path: Path) -> None:
    first = kezek_run(small_disk, tmp_path, "ticket docs\nquit\n")
    assert first.returncode == 0 and "A-001" in first.stdout, first.stderr
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    r = kezek_run(small_disk, tmp_path)
    # 74: the unit does not restart on it (RestartPreventExitStatus=78 74), no restart loop.
    assert r.returncode == 74, r.stderr
    assert "Traceback" not in r.stderr
    assert "read-only" in r.stderr and "replace the card" in r.stderr
    assert str(small_disk) in r.stderr


def test_start_on_a_damaged_database_names_the_backup_to_restore(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = kezek_run(state, tmp_path, "ticket docs\nticket docs\nquit\n")
    assert first.returncode == 0, first.stderr
    db = state / "kezek.db"
    # A bad write in the middle of the file (a card going bad): pages the start does
    # not read used to pass unnoticed until a visitor's commit or the sync hit them.
    data = bytearray(db.read_bytes())
    assert len(data) > 12288
    data[4096 + 100:12288] = b"\xaa" * (12288 - 4096 - 100)
    db.write_bytes(bytes(data))
    r = kezek_run(state, tmp_path)
    assert r.returncode == 74, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert "damaged" in r.stderr and str(state / "backups") in r.stderr

    db.write_bytes(bytes(data[:3000]))  # truncated by a power cut
    r = kezek_run(state, tmp_path)
    assert r.returncode == 74 and "damaged" in r.stderr, r.stderr


def test_doctor_names_a_read_only_state_folder(small_disk: Path) -> None:
    from edge.system.doctor.machine import check_disk
    assert check_disk(small_disk, 0).ok
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    check = check_disk(small_disk, 0)
    assert not check.ok
    assert "read-only" in check.detail and "replace the SD card" in check.hint


def test_card_turned_read_only_while_running_refuses_and_keeps_memory_equal_to_disk(
        ext4_disk: Path, demo_config: AppConfig, clock: ManualClock) -> None:
    db = ext4_disk / "kezek.db"
    h = Harness(demo_config, db, clock)
    try:
        assert "A-001" in h.call(IssueTicket(service="docs")).reply.text
        card_errors(ext4_disk)
        with pytest.raises(StorageError) as refused:
            h.call(IssueTicket(service="docs"))
        assert refused.value.kind in ("readonly", "io"), refused.value
        assert "fix:" in str(refused.value) and "replace the card" in str(refused.value)
        assert h.controller.storage_fault is not None
        assert [t.label for t in h.engine.state.tickets.values()] == ["A-001"]
    finally:
        h.close()
    # What was saved before the card failed is still there (read without writing).
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert [r[0] for r in conn.execute("SELECT label FROM tickets")] == ["A-001"]
    finally:
        conn.close()


def test_start_on_a_full_card_says_full_and_exits_75_so_systemd_tries_again(
        small_disk: Path, tmp_path: Path) -> None:
    first = kezek_run(small_disk, tmp_path, "ticket docs\nquit\n")
    assert first.returncode == 0 and "A-001" in first.stdout, first.stderr
    filler = fill(small_disk)
    r = kezek_run(small_disk, tmp_path)
    # SQLite says "disk I/O error" (it cannot grow the -shm file): the card is full, not
    # failing, and freeing space must bring the queue back without a person restarting it.
    assert r.returncode == 75, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    assert "disk is full" in r.stderr and "free space" in r.stderr, r.stderr
    filler.unlink()
    again = kezek_run(small_disk, tmp_path, "ticket docs\nquit\n")
    assert again.returncode == 0 and "A-002" in again.stdout, again.stderr


@pytest.mark.heavy(seconds=15)
def test_start_while_another_program_holds_the_database_locked_exits_75(tmp_path: Path) -> None:
    # A `sqlite3` shell (or a backup tool) holding an exclusive lock at boot is over in a
    # moment: systemd must try again, not leave the center without a queue.
    state = tmp_path / "state"
    assert kezek_run(state, tmp_path, "ticket docs\nquit\n").returncode == 0
    holder = sqlite3.connect(state / "kezek.db", isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("CREATE TABLE IF NOT EXISTS held (x)")
        r = kezek_run(state, tmp_path)
    finally:
        holder.close()
    assert r.returncode == 75, (r.returncode, r.stderr)
    assert "locked by another program" in r.stderr and "Traceback" not in r.stderr


def test_the_unit_restarts_on_75_but_not_on_74_or_78() -> None:
    text = (Path(__file__).resolve().parents[2] / "systemd" / "kezek.service").read_text()
    prevent = [line for line in text.splitlines() if line.startswith("RestartPreventExitStatus=")]
    assert len(prevent) == 1 and set(prevent[0].split("=", 1)[1].split()) == {"78", "74"}
    from edge.exits import STORAGE_EXIT, STORAGE_RETRY_EXIT
    assert (STORAGE_EXIT, STORAGE_RETRY_EXIT) == (74, 75)


def test_a_storage_alarm_left_raised_by_a_stop_mid_recovery_is_cleared_once_at_the_next_start(
        tmp_path: Path, demo_config: AppConfig, clock: ManualClock) -> None:
    from edge.queue.commands import RecordEvent
    db = tmp_path / "kezek.db"
    h = Harness(demo_config, db, clock)
    try:
        # What the 10 s probe stores when the card takes a write again; its alarm.cleared
        # follows as the next command, which a stop (or the card refusing again) can lose.
        h.call(RecordEvent("alarm.raised", {"alarm": "storage.full", "severity": "critical",
                                            "message": "the disk is full", "refused": 3},
                           source="storage"))
        assert "storage.full" in h.controller.snapshot.alarms
        h.restart()  # this start opens and writes: the card works
        _wait_for(lambda: "storage.full" not in h.controller.snapshot.alarms)
        h.restart()
        assert "storage.full" not in h.controller.snapshot.alarms
        kinds = [e.type for e in h.store.outbox() if e.data.get("alarm") == "storage.full"]
        assert kinds == ["alarm.raised", "alarm.cleared"]
    finally:
        h.close()


def test_a_group_that_fills_the_disk_is_applied_one_by_one_and_loses_nothing(
        small_disk: Path, demo_config: AppConfig, clock: ManualClock,
        caplog: pytest.LogCaptureFixture) -> None:
    """Risk: commands decided together and applied in memory before their shared commit;
    the commit fails on a full card and the engine keeps tickets the file never saw."""
    from tests.holding import Held
    db = small_disk / "kezek.db"
    h = Held(demo_config, db, clock)
    try:
        h.hold()
        fill(small_disk)
        futs = [h.controller.submit(IssueTicket(service="docs")) for _ in range(30)]
        with caplog.at_level("WARNING", logger="edge.controller"):
            h.release.set()
            outcomes = []
            for f in futs:
                try:
                    outcomes.append(f.result(30).reply.ticket.label)  # type: ignore[union-attr]
                except StorageError as e:
                    assert e.kind == "full"
                    outcomes.append("refused")
        assert any("could not be committed together" in r.getMessage() for r in caplog.records)
        assert "refused" in outcomes
        issued = [o for o in outcomes if o != "refused"]
        # Applied one by one after the failed group: numbers follow on, none skipped.
        assert issued == [f"A-{n:03d}" for n in range(3, 3 + len(issued))]
        assert sorted((t.id, t.label, t.state.value)
                      for t in h.engine.state.tickets.values()) == db_tickets(db)
        assert h.store.last_seq == max(e.seq for e in h.store.outbox())
    finally:
        h.close()
