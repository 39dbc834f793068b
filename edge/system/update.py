"""Switching the service to another release, and back by itself when it does not come up.

The steps, each written to the update record (state folder's update.json) before it is
taken, so `kezek status`, the health sent to central and a person after a power cut all
see where an update stands:

    stopping -> backup -> starting -> (ready) -> done
                                   -> (not ready in time) -> rolling_back -> rolled_back
                                                                          -> rollback_failed

"Ready" is systemd's Type=notify READY=1: the database is open (migrated) and the
configured hardware started. The service is stopped before the backup, so the backup
holds every ticket; a rollback puts it back only when the new version changed the
schema (an older kezek refuses a newer database): otherwise the database is kept as the
new version left it, tickets issued meanwhile included.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from edge.system.releases import Release, Releases
from edge.system.units import UnitControl

logger = logging.getLogger("kezek.update")

RECORD_NAME = "update.json"
READY_TIMEOUT_S = 120.0   # the unit's TimeoutStartSec
SETTLE_S = 10.0           # ready, and still running this long after, with no restart
FINAL = ("done", "rolled_back", "rollback_failed", "failed")


@dataclass
class UpdateRecord:
    state: str
    from_version: str | None
    to_version: str
    from_release: str | None
    to_release: str
    started: str
    step_at: str
    detail: str = ""
    backup: str | None = None
    history: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state not in ("rolled_back", "rollback_failed", "failed")


def now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def read_record(state_dir: Path) -> UpdateRecord | None:
    try:
        raw = json.loads((Path(state_dir) / RECORD_NAME).read_text(encoding="utf-8"))
        return UpdateRecord(**raw)
    except (OSError, ValueError, TypeError):
        return None


def write_record(state_dir: Path, record: UpdateRecord) -> None:
    path = Path(state_dir) / RECORD_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(record), ensure_ascii=False, indent=1) + "\n",
                   encoding="utf-8")
    try:
        st = Path(state_dir).stat()
        if os.geteuid() == 0:
            os.chown(tmp, st.st_uid, st.st_gid)  # the service reads it
        os.chmod(tmp, 0o644)
    except OSError:
        pass
    os.replace(tmp, path)


def schema_of(db: Path) -> int | None:
    if not db.is_file():
        return None
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


@dataclass
class UpdateDeps:
    """What the updater does to the machine; tests pass fakes."""

    unit: UnitControl
    releases: Releases
    state_dir: Path
    db_path: Path
    backup: Callable[[Path, Path], Any]              # (db, target): an online backup
    restore: Callable[[Path, Path], Any]             # (backup, db): put it back
    schema: Callable[[Path], int | None] = schema_of
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    say: Callable[[str], None] = print


class Updater:
    def __init__(self, deps: UpdateDeps, *, ready_timeout_s: float = READY_TIMEOUT_S,
                 settle_s: float = SETTLE_S, poll_s: float = 0.5) -> None:
        self.d = deps
        self.ready_timeout_s = ready_timeout_s
        self.settle_s = settle_s
        self.poll_s = poll_s
        self.record: UpdateRecord | None = None

    def _step(self, state: str, detail: str = "") -> None:
        assert self.record is not None
        self.record.state = state
        self.record.step_at = now_text()
        self.record.detail = detail
        self.record.history.append(f"{self.record.step_at} {state}" + (f": {detail}" if detail else ""))
        write_record(self.d.state_dir, self.record)
        line = f"update {self.record.from_version} -> {self.record.to_version}: {state}" \
               + (f": {detail}" if detail else "")
        (logger.error if state in ("rolled_back", "rollback_failed", "failed") else
         logger.info)(line)
        self.d.say(line)

    def activate(self, new: Release) -> UpdateRecord:
        """Put `new` in service; roll back to the release in service now if it fails."""
        old = self.d.releases.current()
        stamp = now_text()
        self.record = UpdateRecord("stopping", old.version if old else None, new.version,
                                   str(old.path) if old else None, str(new.path), stamp, stamp)
        self._step("stopping", "the service finishes its ticket and saves its state")
        self.d.unit.stop()
        schema_before = self.d.schema(self.d.db_path)
        if schema_before is not None:
            target = self.d.state_dir / "backups" / (
                f"kezek-pre-update-{old.version if old else 'none'}-"
                f"{time.strftime('%Y%m%dT%H%M%S')}.db")
            self._step("backup", f"database schema v{schema_before} copied to {target}")
            self.d.backup(self.d.db_path, target)
            self.record.backup = str(target)
        self.d.releases.switch(new)
        self._step("starting", f"{new.path}; waiting up to {self.ready_timeout_s:g} s for ready")
        problem = self._start_and_wait()
        if problem is None:
            self._step("done", f"kezek {new.version} is ready")
            return self.record
        if old is None:
            self._step("failed", f"{problem}; no earlier release to go back to")
            return self.record
        self._step("rolling_back", f"{problem}; going back to {old.version}")
        self.d.unit.stop()
        self.d.releases.switch(old)
        schema_now = self.d.schema(self.d.db_path)
        if self.record.backup and schema_now != schema_before:
            self.d.restore(Path(self.record.backup), self.d.db_path)
            self.record.history.append(f"{now_text()} database schema v{schema_now} -> "
                                       f"v{schema_before}: restored {self.record.backup}")
        again = self._start_and_wait()
        if again is None:
            self._step("rolled_back", f"kezek {new.version} did not start ({problem}); "
                                      f"kezek {old.version} is running again")
        else:
            self._step("rollback_failed", f"kezek {old.version} did not start either: {again}; "
                                          "see journalctl -u kezek")
        return self.record

    def _start_and_wait(self) -> str | None:
        """Start the unit; None once it is ready and stays so, else what went wrong."""
        unit = self.d.unit
        unit.reset_failed()
        before = unit.state()
        unit.start()
        deadline = self.d.monotonic() + self.ready_timeout_s
        ready_since: float | None = None
        ready_pid = 0
        while True:
            st = unit.state()
            now = self.d.monotonic()
            if st.failed or st.restarts > before.restarts:
                when = "right after it was ready" if ready_since is not None else "while starting"
                return f"the service stopped {when} ({st.active}/{st.sub}" + \
                       (f", {st.result}" if st.result and st.result != "success" else "") + ")"
            if st.ready:
                if ready_since is None or st.main_pid != ready_pid:
                    if ready_since is not None:
                        return "the service restarted right after it was ready"
                    ready_since, ready_pid = now, st.main_pid
                if now - ready_since >= self.settle_s:
                    return None
            elif ready_since is not None:
                return f"the service stopped right after it was ready ({st.active}/{st.sub})"
            if ready_since is None and now >= deadline:
                return f"not ready within {self.ready_timeout_s:g} s ({st.active}/{st.sub})"
            self.d.sleep(self.poll_s)
