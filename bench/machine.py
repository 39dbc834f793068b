"""A description of the machine the benchmarks ran on: CPU, cores, memory, disk, Python."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from pathlib import Path
from typing import Any


def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip().strip("\x00")
    except OSError:
        return None


def _cpu_model() -> str:
    text = _read("/proc/cpuinfo") or ""
    for key in ("model name", "Model", "Hardware"):
        for line in text.splitlines():
            if line.startswith(key) and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _mem_total_mb() -> int | None:
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return None


def disk_of(path: Path) -> dict[str, Any]:
    """Mount point, device, file system and (when the kernel says) the disk's model of `path`."""
    st = os.stat(path)
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    info: dict[str, Any] = {"path": str(path)}
    for line in (_read("/proc/self/mountinfo") or "").splitlines():
        fields = line.split()
        if len(fields) > 9 and fields[2] == f"{major}:{minor}":
            sep = fields.index("-")
            info.update(mount=fields[4], fstype=fields[sep + 1], source=fields[sep + 2])
            break
    block = Path(f"/sys/dev/block/{major}:{minor}")
    if block.exists():
        real = block.resolve()
        # A partition's queue/ and device/ live on its parent disk.
        disk = real if (real / "queue").exists() else real.parent
        rot = _read(disk / "queue" / "rotational")
        info["rotational"] = rot == "1" if rot is not None else None
        info["disk"] = disk.name
        model = _read(disk / "device" / "model") or _read(disk / "device" / "name")
        if model:
            info["model"] = model
    return info


def describe(data_dir: Path) -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "board": _read("/proc/device-tree/model"),
        "memory_mb": _mem_total_mb(),
        "kernel": platform.release(),
        "os": (dict(line.split("=", 1) for line in (_read("/etc/os-release") or "").splitlines()
                    if "=" in line).get("PRETTY_NAME", "").strip('"') or platform.platform()),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "disk": disk_of(data_dir),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
