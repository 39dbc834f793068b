"""`kezek update`'s steps with a fake unit: switch, ready or roll back, the queue intact."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from edge.queue import commands as c
from edge.system.backup import online_backup, restore
from edge.system.releases import MARKER, Release, Releases, find_wheel, ReleaseError, wheel_version
from edge.system.units import UnitState
from edge.system.update import Updater, UpdateDeps, read_record
from edge.system.update_status import UpdateState


class FakeUnit:
    """A Type=notify unit whose behaviour depends on the release in service:
    'good' is ready after two polls, 'crash' exits at start (Restart= tries again),
    'slow' never gets ready, 'flaky' is ready once and then dies, 'migrate-crash'
    changes the database schema and then exits."""

    name = "kezek.service"

    def __init__(self, releases: Releases, db: Path) -> None:
        self.releases = releases
        self.db = db
        self.running = False
        self.polls = 0
        self.restarts = 0
        self.pid = 100
        self.log: list[str] = []

    def behaviour(self) -> str:
        current = self.releases.current()
        assert current is not None
        return current.version.split("+")[1]

    def start(self) -> None:
        self.running, self.polls = True, 0
        self.pid += 1
        self.log.append(f"start {self.releases.current().version}")  # type: ignore[union-attr]
        if self.behaviour() == "migrate-crash":
            conn = sqlite3.connect(self.db)
            conn.execute("PRAGMA user_version=99")
            conn.close()

    def stop(self) -> None:
        self.running = False
        self.log.append("stop")

    def reset_failed(self) -> None:
        pass

    def state(self) -> UnitState:
        if not self.running:
            return UnitState("inactive", "dead")
        self.polls += 1
        kind = self.behaviour()
        if kind == "good" and self.polls > 2:
            return UnitState("active", "running", self.pid)
        if kind in ("crash", "migrate-crash"):
            self.restarts += 1
            return UnitState("activating", "auto-restart", 0, self.restarts, "exit-code")
        if kind == "flaky":
            if self.polls == 2:
                return UnitState("active", "running", self.pid)
            if self.polls > 2:
                return UnitState("failed", "failed", 0, self.restarts, "exit-code")
        return UnitState("activating", "start", self.pid)


def make_release(releases: Releases, version: str) -> Release:
    path = releases.dir / version
    (path / "bin").mkdir(parents=True)
    (path / MARKER).write_text(json.dumps({"version": version}))
    return releases.load(path)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def sleep(self, s: float) -> None:
        self.t += s

    def monotonic(self) -> float:
        return self.t


@pytest.fixture
def box(tmp_path: Path, harness) -> dict[str, Any]:
    for _ in range(3):
        harness.call(c.IssueTicket("docs"))
    harness.close()  # the service in service, stopped by the fake's stop()
    releases = Releases(tmp_path / "opt")
    old = make_release(releases, "0.1+good")
    releases.switch(old)
    unit = FakeUnit(releases, harness.db_path)
    unit.running = True
    clock = Clock()
    said: list[str] = []
    deps = UpdateDeps(unit=unit, releases=releases, state_dir=harness.db_path.parent,
                      db_path=harness.db_path, backup=online_backup,
                      restore=lambda saved, db: restore(saved, db),
                      sleep=clock.sleep, monotonic=clock.monotonic, say=said.append)
    return {"releases": releases, "old": old, "unit": unit, "deps": deps, "said": said,
            "db": harness.db_path, "harness": harness}


def tickets(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0])
    finally:
        conn.close()


def test_an_update_that_becomes_ready_stays_switched(box: dict[str, Any]) -> None:
    new = make_release(box["releases"], "0.2+good")
    record = Updater(box["deps"], settle_s=3, poll_s=0.5).activate(new)
    assert record.state == "done" and record.ok
    assert box["releases"].current() == new
    assert box["unit"].log == ["stop", "start 0.2+good"]
    # Stopped first, then backed up: the backup holds every ticket.
    assert record.backup and tickets(Path(record.backup)) == 3
    assert [h.split(" ", 1)[1].split(":")[0] for h in record.history] == \
        ["stopping", "backup", "starting", "done"]
    assert read_record(box["db"].parent) == record
    assert any("0.1+good -> 0.2+good: done" in line for line in box["said"])


@pytest.mark.parametrize("kind, why", [
    ("crash", "the service stopped while starting"),
    ("slow", "not ready within 30 s"),
    ("flaky", "the service stopped right after it was ready"),
])
def test_an_update_that_does_not_come_up_goes_back_by_itself(
        box: dict[str, Any], kind: str, why: str) -> None:
    """Risk: a new version that exits at start (or hangs) leaves the center without a
    queue until someone comes with a keyboard."""
    new = make_release(box["releases"], f"0.2+{kind}")
    record = Updater(box["deps"], ready_timeout_s=30, settle_s=3).activate(new)
    assert record.state == "rolled_back" and not record.ok
    assert why in record.detail and "kezek 0.1+good is running again" in record.detail
    assert box["releases"].current() == box["old"]
    assert box["unit"].log[-1] == "start 0.1+good" and box["unit"].running
    assert tickets(box["db"]) == 3  # the queue is as it was
    # Nothing restored: the schema was not changed, so nothing issued meanwhile is lost.
    assert not any("restored" in h for h in record.history)
    health = UpdateState(box["db"].parent).health()
    assert health["ok"] is False and health["state"] == "rolled_back"
    assert "0.1+good -> 0.2+" in health["detail"] and why in health["detail"]


def test_a_rollback_after_a_schema_change_restores_the_backup(box: dict[str, Any]) -> None:
    new = make_release(box["releases"], "0.2+migrate-crash")
    record = Updater(box["deps"], settle_s=3).activate(new)
    assert record.state == "rolled_back"
    conn = sqlite3.connect(box["db"])
    assert conn.execute("PRAGMA user_version").fetchone()[0] != 99
    conn.close()
    assert tickets(box["db"]) == 3
    assert any("database schema v99 -> " in h and "restored" in h for h in record.history)


def test_when_the_old_version_fails_too_the_record_says_so(box: dict[str, Any]) -> None:
    releases = box["releases"]
    bad_old = make_release(releases, "0.1+crash")
    releases.switch(bad_old)
    new = make_release(releases, "0.2+crash")
    record = Updater(box["deps"], settle_s=3).activate(new)
    assert record.state == "rollback_failed" and "journalctl -u kezek" in record.detail


def test_releases_switch_atomically_and_prune_keeps_current_and_previous(tmp_path: Path) -> None:
    releases = Releases(tmp_path / "opt")
    made = [make_release(releases, f"0.{i}") for i in range(1, 6)]
    releases.switch(made[3])
    assert releases.link.is_symlink() and not Path(releases.link).readlink().is_absolute()
    gone = releases.prune(keep=3, protect=[made[2]])
    assert releases.current() == made[3]
    assert {r.version for r in releases.all()} == {"0.3", "0.4", "0.5"}
    assert len(gone) == 2
    assert releases.new_path("0.4").name == "0.4-2"


def test_wheels_are_found_by_name(tmp_path: Path) -> None:
    wheel = tmp_path / "kezek_edge-0.2.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    (tmp_path / "pydantic-2.0-py3-none-any.whl").write_bytes(b"")
    assert find_wheel(tmp_path) == wheel and wheel_version(wheel) == "0.2.0"
    with pytest.raises(ReleaseError, match="not a kezek-edge wheel"):
        find_wheel(tmp_path / "pydantic-2.0-py3-none-any.whl")
    with pytest.raises(ReleaseError, match="no kezek_edge"):
        find_wheel(tmp_path / "empty") if (tmp_path / "empty").mkdir() is None else None


def wait_for(predicate, timeout: float = 60.0):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_supervised_process_is_ready_only_after_it_says_ready_over_the_notify_socket(
        tmp_path: Path) -> None:
    """The 'process' supervisor (an image's chroot) gives ready the unit's meaning:
    READY=1 over $NOTIFY_SOCKET, not 'the process exists'."""
    import sys
    from edge.system.units import ProcessUnit
    gate = tmp_path / "go"
    script = ("import os, sys, time\n"
              "while not os.path.exists(sys.argv[1]): time.sleep(0.02)\n"
              "from edge.system.notify import Notifier\n"
              "Notifier().ready('up')\n"
              "time.sleep(120)\n")
    unit = ProcessUnit([sys.executable, "-c", script, str(gate)], tmp_path / "pid")
    unit.start()
    try:
        assert wait_for(lambda: unit.state().active == "activating")
        assert not unit.state().ready
        gate.write_text("")
        st = wait_for(lambda: (s := unit.state()).ready and s)
        assert st.main_pid == int((tmp_path / "pid").read_text())
    finally:
        unit.stop()
    assert unit.state().active == "inactive" and not (tmp_path / "pid").exists()

    crash = ProcessUnit([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "pid2")
    crash.start()
    st = wait_for(lambda: (s := crash.state()).failed and s)
    assert st.result == "exit-code 3"
    crash.reset_failed()
    assert crash.state().active == "inactive"


def test_the_last_update_shows_in_status_and_in_the_health_sent_to_central(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from edge.system.health import HealthCollector
    from edge.system.status import render_text
    from edge.system.update import UpdateRecord, write_record
    from edge.system.update_status import build
    from edge.wiring import BUILDERS

    assert any(module == "edge.system.update_status" for module, *_ in BUILDERS)
    assert build(SimpleNamespace(state_dir=tmp_path)) == []  # never updated: nothing shown
    write_record(tmp_path, UpdateRecord(
        "rolled_back", "0.1.0", "0.2.0", "/opt/kezek/releases/0.1.0", "/opt/kezek/releases/0.2.0",
        "2026-12-07T17:00:00+0500", "2026-12-07T17:01:00+0500",
        detail="kezek 0.2.0 did not start (the service stopped while starting)"))
    components = {c.name: c for c in build(SimpleNamespace(state_dir=tmp_path))}
    health = HealthCollector(state_dir=tmp_path, db_path=tmp_path / "kezek.db",
                             components=components).collect()
    update = health["devices"]["update"]
    assert update["ok"] is False and update["state"] == "rolled_back"
    assert update["from"] == "0.1.0" and update["to"] == "0.2.0"
    assert any(p.startswith("update: kezek ") and "0.1.0 -> 0.2.0: rolled_back" in p
               and "did not start" in p for p in health["problems"])
    text = render_text({"service": {}, "queue": {}, "health": health})
    assert re.search(r"^  update\s+DOWN\s+kezek .*rolled_back", text, re.M)
