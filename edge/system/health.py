"""The health snapshot: CPU temperature, disk free, outbox depth and each device's state.

Used by the status socket, the Prometheus metrics and (if it likes) the sync link's
health message. Every probe is cheap and never raises: a missing sensor is `None`.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path
from typing import Any, Callable, Mapping

logger = logging.getLogger(__name__)

THERMAL_ROOT = Path("/sys/class/thermal")


def cpu_temperature_c(thermal_root: Path = THERMAL_ROOT) -> float | None:
    """The CPU's temperature in °C from the kernel's thermal zones, None without a sensor."""
    zones = sorted(thermal_root.glob("thermal_zone*"))
    # The Pi's SoC sensor is 'cpu-thermal'; elsewhere take the first zone that reads.
    zones.sort(key=lambda z: _read(z / "type") not in ("cpu-thermal", "x86_pkg_temp"))
    for zone in zones:
        raw = _read(zone / "temp")
        if raw and raw.lstrip("-").isdigit():
            return round(int(raw) / 1000, 1)  # millidegrees
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def disk_free_mb(path: Path) -> tuple[int, int] | None:
    """(free, total) MB on the file system holding `path` (or its nearest existing parent)."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        usage = shutil.disk_usage(p)
    except OSError:
        return None
    return usage.free // 2**20, usage.total // 2**20


def outbox_depth(db_path: Path) -> int | None:
    """Events not yet acknowledged by central, counted on a read-only connection."""
    if not Path(db_path).exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=0.5)
    except sqlite3.Error:
        return None
    try:
        return int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
    except sqlite3.Error as e:
        logger.debug("outbox depth unavailable: %s", e)
        return None
    finally:
        conn.close()


def component_health(components: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each component's health() dict; one that fails reports the failure, not the caller."""
    out: dict[str, dict[str, Any]] = {}
    for name, component in components.items():
        try:
            out[name] = dict(component.health())
        except Exception as e:  # a broken driver must not break `kezek status`
            out[name] = {"ok": False, "detail": f"health() failed: {type(e).__name__}: {e}"}
    return out


class HealthCollector:
    """Builds the health snapshot of one running service."""

    def __init__(self, *, state_dir: Path, db_path: Path, components: Mapping[str, Any],
                 min_free_mb: int = 200, cpu_temp_warn_c: float = 80.0,
                 thermal_root: Path = THERMAL_ROOT, skip: tuple[str, ...] = (),
                 storage_fault: Callable[[], Any] | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.db_path = Path(db_path)
        self.components = components
        self.min_free_mb = min_free_mb
        self.cpu_temp_warn_c = cpu_temp_warn_c
        self.thermal_root = thermal_root
        self._skip = skip  # components not reported (the status server itself)
        # The controller's StorageFault (or None): commits refused right now. Not a probe of
        # the file: only a real commit knows whether the card takes writes.
        self._storage_fault = storage_fault or (lambda: None)

    def collect(self) -> dict[str, Any]:
        problems: list[str] = []
        temp = cpu_temperature_c(self.thermal_root)
        if temp is not None and temp >= self.cpu_temp_warn_c:
            problems.append(f"CPU at {temp} °C (limit {self.cpu_temp_warn_c:g} °C): "
                            "check the case's ventilation and the Pi's power supply")
        disk = disk_free_mb(self.state_dir)
        if disk is not None and disk[0] < self.min_free_mb:
            problems.append(f"only {disk[0]} MB free on the disk of {self.state_dir} "
                            f"(minimum {self.min_free_mb} MB): free space or replace the SD card")
        fault = self._storage_fault()
        if fault is not None:
            problems.append(f"storage ({fault.alarm}): {fault.failures} commands refused "
                            f"since the fault began: {fault.message}")
        # A copy first: a part the guard brings up late registers while this reads
        # (edge/optional.py), and a dict must not change size under its iteration.
        devices = component_health({k: v for k, v in list(self.components.items())
                                    if k not in self._skip})
        for name, h in devices.items():
            if h.get("ok") is False:
                detail = h.get("detail") or h.get("state") or "not working"
                problems.append(f"{name}: {detail}")
        return {
            "ok": not problems,
            "cpu_temp_c": temp,
            "disk_free_mb": disk[0] if disk else None,
            "disk_total_mb": disk[1] if disk else None,
            "outbox_depth": outbox_depth(self.db_path),
            "storage": None if fault is None else {
                "alarm": fault.alarm, "kind": fault.kind, "since_ms": fault.since_ms,
                "refused": fault.failures, "message": fault.message},
            "devices": devices,
            "problems": problems,
        }
