"""`kezek doctor`: each configured device and dependency probed, with a fix per failure.

Every probe returns Check rows and never raises: an unplugged printer, a missing port or
a dead broker is a row that says what is wrong and how to fix it. Dependencies (the pin
factory, the clock check, where /proc is) are parameters so tests can pass fakes. One
module per group of probes: devices, announce, network, listening, machine, sdcard.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from edge.config import AppConfig
from edge.system.doctor.announce import check_announce
from edge.system.doctor.check import Check
from edge.system.doctor.devices import (check_gpio, check_printers, check_serial_port, check_simulated,
                                        serial_ports)
from edge.system.doctor.listening import check_ports
from edge.system.doctor.machine import (SERVICE_USER, check_clock, check_database, check_disk,
                                        check_service_user, check_temperature)
from edge.system.doctor.network import check_broker, check_hall
from edge.system.doctor.sdcard import check_sd_layout


@dataclass
class DoctorDeps:
    """What the probes use from the machine; tests replace parts of it."""

    pin_factory: Any = None
    clock_synced: Callable[[], bool] | None = None
    proc: Path = Path("/proc")
    thermal_root: Path | None = None
    service_user: str = SERVICE_USER
    snd_dir: Path = Path("/dev/snd")
    path: str | None = None  # PATH for programs such as aplay (None: the process's own)


def run_checks(config: AppConfig, state_dir: Path, db_path: Path,
               deps: DoctorDeps | None = None) -> list[Check]:
    deps = deps or DoctorDeps()
    rows: list[Check] = []
    rows += check_simulated(config)
    rows += check_printers(config, state_dir)
    rows += [check_serial_port(what, port, deps.proc) for what, port in serial_ports(config)]
    rows += check_gpio(config, deps.pin_factory)
    rows += check_announce(config, deps.snd_dir, deps.path)
    rows += check_hall(config, deps.proc)
    rows += check_broker(config)
    rows += check_ports(config, deps.proc)
    rows.append(check_clock(deps.clock_synced))
    rows.append(check_disk(state_dir, config.system.min_free_mb))
    rows += check_sd_layout(state_dir)   # the SD card's layout (issue 24)
    rows.append(check_database(db_path))
    extra: Iterable[Check | None] = (check_service_user(deps.service_user),
                                     check_temperature(config.system.cpu_temp_warn_c, deps.thermal_root))
    rows += [c for c in extra if c is not None]
    return rows


def render_table(rows: list[Check]) -> str:
    """CHECK / RESULT / DETAIL, with a `fix:` line under every failure."""
    width = max([len("CHECK")] + [len(r.name) for r in rows]) + 2
    lines = [f"{'CHECK':<{width}}{'RESULT':<8}DETAIL"]
    for r in rows:
        lines.append(f"{r.name:<{width}}{'ok' if r.ok else 'FAIL':<8}{r.detail}")
        if not r.ok and r.hint:
            lines.append(f"{'':<{width + 8}}fix: {r.hint}")
    failed = sum(not r.ok for r in rows)
    lines.append("")
    lines.append("all checks passed" if not failed else
                 f"{failed} of {len(rows)} checks failed")
    return "\n".join(lines)


__all__ = ["Check", "DoctorDeps", "render_table", "run_checks"]
