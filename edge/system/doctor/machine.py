"""`kezek doctor`'s probes of the machine: clock, disk, database, service user, temperature."""

from __future__ import annotations

import grp
import os
import pwd
import sqlite3
from pathlib import Path
from typing import Callable

from edge.system.doctor.check import Check
from edge.system.health import cpu_temperature_c, disk_free_mb

SERVICE_USER = "kezek"
# audio: ALSA's /dev/snd/* belong to group audio (the speaker for announcements).
SERVICE_GROUPS = ("gpio", "dialout", "lp", "audio")


def check_clock(synced: Callable[[], bool] | None = None) -> Check:
    if synced is None:
        from edge.clock import wall_clock_synced
        synced = wall_clock_synced
    if synced():
        return Check("clock", True, "synchronized (NTP)")
    return Check("clock", False, "not synchronized: times are marked unsynced until NTP sets it",
                 "check the network and `timedatectl timesync-status`; the Pi has no clock "
                 "battery, so after a power cut it needs NTP")


def check_disk(state_dir: Path, min_free_mb: int) -> Check:
    free = disk_free_mb(state_dir)
    if free is None:
        return Check("disk", False, f"cannot read the free space of {state_dir}",
                     "check that the state directory's disk is mounted")
    if state_dir.exists():
        try:
            readonly = bool(os.statvfs(state_dir).f_flag & os.ST_RDONLY)
        except OSError:
            readonly = False
        if readonly:
            return Check("disk", False, f"{state_dir} is on a read-only file system (the kernel "
                                        "does this after SD card errors; see dmesg)",
                         "reboot; if it happens again, replace the SD card and restore a backup "
                         "(docs/operations.md)")
        if not os.access(state_dir, os.W_OK | os.X_OK):
            return Check("disk", False, f"{state_dir} is not writable by this user",
                         f"sudo chown -R kezek:kezek {state_dir} && sudo chmod 750 {state_dir}")
    if free[0] < min_free_mb:
        return Check("disk", False, f"{free[0]} MB free of {free[1]} MB at {state_dir} "
                                    f"(minimum {min_free_mb} MB)",
                     "delete old files (journalctl --vacuum-size=100M) or use a larger SD card")
    return Check("disk", True, f"{free[0]} MB free of {free[1]} MB at {state_dir}")


def check_database(db_path: Path) -> Check:
    """PRAGMA integrity_check on a read-only connection; refuses a newer schema too."""
    from edge.storage.migrations import LATEST
    backups = db_path.parent / "backups"
    if not db_path.exists():
        return Check("database", True, f"{db_path} not created yet (the first start creates it)")
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error as e:
        return Check("database", False, f"{db_path}: cannot open: {e}",
                     f"check its owner (kezek) and mode; or restore a copy from {backups}")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        result = [r[0] for r in conn.execute("PRAGMA integrity_check(20)")]
    except sqlite3.Error as e:
        return Check("database", False, f"{db_path}: {e}",
                     f"the file is damaged: stop kezek, move it aside and restore a copy from "
                     f"{backups} (the SD card may be failing)")
    finally:
        conn.close()
    if result != ["ok"]:
        return Check("database", False, f"{db_path}: integrity check failed: {'; '.join(result[:3])}",
                     f"stop kezek, keep the file for analysis, restore a copy from {backups}; "
                     "replace the SD card")
    if version > LATEST:
        return Check("database", False, f"{db_path}: schema v{version} is newer than this kezek "
                                        f"(v{LATEST})",
                     "install the newer kezek again, or restore a backup from " + str(backups))
    return Check("database", True, f"{db_path}: integrity ok, schema v{version}")


def check_service_user(user: str = SERVICE_USER) -> Check | None:
    """The installed service user's groups (None when kezek is not installed as a service)."""
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return None
    member = {g.gr_name for g in grp.getgrall() if user in g.gr_mem}
    member.add(grp.getgrgid(pw.pw_gid).gr_name)
    missing = [g for g in SERVICE_GROUPS if g not in member]
    if missing:
        return Check("service user", False, f"{user} is not in group(s) {', '.join(missing)}",
                     f"sudo usermod -aG {','.join(missing)} {user}  (or run scripts/install.sh again)")
    return Check("service user", True, f"{user} in groups {', '.join(SERVICE_GROUPS)}")


def check_temperature(limit_c: float, thermal_root: Path | None = None) -> Check | None:
    temp = cpu_temperature_c(thermal_root) if thermal_root else cpu_temperature_c()
    if temp is None:
        return None
    if temp >= limit_c:
        return Check("cpu temperature", False, f"{temp} °C (limit {limit_c:g} °C)",
                     "give the case air, add a heatsink or fan; check the power supply")
    return Check("cpu temperature", True, f"{temp} °C")
