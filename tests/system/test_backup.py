"""`kezek backup` / `kezek restore` on real SQLite files, while the controller writes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edge.cli import main
from edge.queue import commands as c
from edge.storage.migrations import LATEST
from edge.sync.lock import lock_path
from edge.system.backup import BackupError, online_backup, plan_restore, removable_mounts, summarize

ROOT = Path(__file__).resolve().parents[2]


def tickets_in(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0])
    finally:
        conn.close()


def box_config(tmp_path: Path, state: Path) -> Path:
    """The demo center, with its state folder at `state`."""
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    path = tmp_path / "center.toml"
    path.write_text(text.replace('state_dir = "state"', f'state_dir = "{state}"'), encoding="utf-8")
    return path


def test_a_backup_taken_while_the_controller_commits_is_complete_and_consistent(
        harness, tmp_path: Path) -> None:
    """Risk: a file copy of a live WAL database misses the commits still in the WAL, or
    tears a page; the online backup must hold every ticket committed before it started."""
    for _ in range(5):
        harness.call(c.IssueTicket("docs"))
    assert Path(str(harness.db_path) + "-wal").exists()  # the commits are still in the WAL
    stop = threading.Event()
    issued = [5]

    def writer() -> None:
        while not stop.is_set():
            harness.call(c.IssueTicket("realty"))
            issued[0] += 1

    thread = threading.Thread(target=writer, name="test-writer")
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while issued[0] < 15 and time.monotonic() < deadline:
            time.sleep(0.01)  # the writer is committing: the backup starts in its stream
        before = issued[0]
        summary = online_backup(harness.db_path, tmp_path / "out" / "copy.db")
    finally:
        stop.set()
        thread.join(30)
    assert summary.tickets >= before and summary.schema == LATEST
    copy = tmp_path / "out" / "copy.db"
    assert tickets_in(copy) == summary.tickets
    assert not Path(str(copy) + "-wal").exists()  # a plain file, safe on a stick
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert not (tmp_path / "out" / "copy.db.partial").exists()


def test_backup_command_writes_into_a_folder_and_says_what_it_holds(
        harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    harness.call(c.IssueTicket("docs"))
    config = box_config(tmp_path, harness.db_path.parent)
    usb = tmp_path / "usb"
    usb.mkdir()
    assert main(["backup", "--config", str(config), "--to", str(usb)]) == 0
    out = capsys.readouterr().out
    written = list(usb.glob("kezek-demo-ast-01-edge-1-*.db"))
    assert len(written) == 1 and f"backup written: {written[0]}" in out
    assert "1 tickets" in out and tickets_in(written[0]) == 1


def test_backup_without_a_database_says_where_it_looked(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    config = box_config(tmp_path, tmp_path / "empty")
    assert main(["backup", "--config", str(config), "--to", str(tmp_path / "x.db")]) == 1
    err = capsys.readouterr().err
    assert "no database to back up" in err and "storage.state_dir" in err
    assert not (tmp_path / "x.db").exists()


def test_restore_refuses_to_write_under_a_running_service(
        harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Risk: a restore replacing kezek.db under a running service: the service keeps
    writing into the replaced file (or its WAL onto the new one) and the restore is lost."""
    harness.call(c.IssueTicket("docs"))
    state = harness.db_path.parent
    backup = tmp_path / "b.db"
    online_backup(harness.db_path, backup)
    harness.call(c.IssueTicket("docs"))
    config = box_config(tmp_path, state)
    # Another process holds the service's identity lock, as a running `kezek run` does.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | "
         "os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); "
         "sys.stdin.read()", str(lock_path(state / "kezek.db"))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        # --force: the refusal must be the running service, not the newer state.
        assert main(["restore", str(backup), "--config", str(config), "--force"]) == 1
    finally:
        holder.communicate("", timeout=30)
    err = capsys.readouterr().err
    assert "the service is running" in err and "systemctl stop kezek" in err
    assert "--stop-service" in err
    assert tickets_in(harness.db_path) == 2


def test_restore_refuses_an_older_backup_over_a_newer_state_without_force(
        harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    harness.call(c.IssueTicket("docs"))
    backup = tmp_path / "b.db"
    online_backup(harness.db_path, backup)
    for _ in range(3):
        harness.call(c.IssueTicket("docs"))
    harness.close()  # the service stopped, its WAL left as after a crash
    state = harness.db_path.parent
    config = box_config(tmp_path, state)
    assert main(["restore", str(backup), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "the state here is newer than the backup" in err and "--force" in err
    assert tickets_in(harness.db_path) == 4

    assert main(["restore", str(backup), "--config", str(config), "--force"]) == 0
    out = capsys.readouterr().out
    # The old WAL is gone: SQLite would replay it onto the restored file.
    assert not Path(str(harness.db_path) + "-wal").exists()
    assert tickets_in(harness.db_path) == 1
    kept = list((state / "backups").glob("kezek-before-restore-*.db"))
    assert len(kept) == 1 and tickets_in(kept[0]) == 4 and str(kept[0]) in out
    harness._open()  # the service starts on the restored file, numbers go on from it
    assert harness.call(c.IssueTicket("docs")).reply.ticket.label == "A-002"


def test_restore_of_a_newer_backup_needs_no_force_and_keeps_the_replaced_state(
        harness, tmp_path: Path) -> None:
    harness.call(c.IssueTicket("docs"))
    old = tmp_path / "old.db"
    online_backup(harness.db_path, old)
    harness.call(c.IssueTicket("docs"))
    newer = tmp_path / "newer.db"
    online_backup(harness.db_path, newer)
    harness.close()
    plan = plan_restore(newer, harness.db_path, LATEST)
    assert plan.refusal is None
    assert main(["restore", str(old), "--config", str(box_config(tmp_path, harness.db_path.parent)),
                 "--force"]) == 0
    assert main(["restore", str(newer), "--config",
                 str(box_config(tmp_path, harness.db_path.parent))]) == 0
    assert tickets_in(harness.db_path) == 2
    harness._open()


def test_restore_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError, match="is it a Kezek database"):
        summarize(junk)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(BackupError, match="not a Kezek queue database"):
        summarize(other)
    future = tmp_path / "future.db"
    conn = sqlite3.connect(future)
    conn.executescript("CREATE TABLE meta (key, value); CREATE TABLE tickets (issued_ms);"
                       f"PRAGMA user_version={LATEST + 1};")
    conn.close()
    with pytest.raises(BackupError, match="newer than this kezek"):
        plan_restore(future, tmp_path / "kezek.db", LATEST)


def test_usb_sticks_are_found_in_the_mount_table(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/mmcblk0p2 / ext4 rw 0 0\nproc /proc proc rw 0 0\n"
                      "/dev/sda1 /media/pi/KEZEK\\040USB vfat rw 0 0\n"
                      "tmpfs /run tmpfs rw 0 0\n")
    assert removable_mounts(mounts) == [Path("/media/pi/KEZEK USB")]


def test_a_damaged_database_is_moved_aside_with_force(harness, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Risk: the one time a restore is needed most (a damaged card) it refuses to work."""
    harness.call(c.IssueTicket("docs"))
    backup = tmp_path / "b.db"
    online_backup(harness.db_path, backup)
    harness.close()
    with open(harness.db_path, "r+b") as f:  # a power cut during a bad write
        f.seek(0)
        f.write(b"\0" * 4096)
    config = box_config(tmp_path, harness.db_path.parent)
    assert main(["restore", str(backup), "--config", str(config)]) == 1
    assert "cannot be read" in capsys.readouterr().err
    assert main(["restore", str(backup), "--config", str(config), "--force"]) == 0
    damaged = list((harness.db_path.parent / "backups").glob("kezek-damaged-*.db"))
    assert len(damaged) == 1 and damaged[0].read_bytes()[:4096] == b"\0" * 4096
    assert tickets_in(harness.db_path) == 1
    harness._open()
