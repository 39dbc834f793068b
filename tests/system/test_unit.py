"""The systemd unit and udev rule: systemd-analyze accepts the unit, and it keeps its promises."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

UNIT = ROOT / "systemd" / "kezek.service"
RULES = ROOT / "systemd" / "99-kezek-printers.rules"
EXEC = "/opt/kezek/venv/bin/kezek"


def directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def verify(unit_text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """systemd-analyze verify on a copy whose ExecStart points at an existing program."""
    fake = tmp_path / "kezek"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    copy = tmp_path / "kezek.service"
    copy.write_text(unit_text.replace(EXEC, str(fake)))
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing: apt-get install systemd"
    return subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True,
                          text=True, timeout=60)


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    result = verify(UNIT.read_text(), tmp_path)
    assert result.returncode == 0, result.stderr
    # verify only warns (exit 0) on unknown keys and bad values: any line about our
    # file is a defect.
    mine = [line for line in (result.stdout + result.stderr).splitlines() if "kezek.service" in line]
    assert mine == []


def test_verify_would_catch_a_mistake(tmp_path: Path) -> None:
    """The check above is not blind: a misspelt key in the same unit is reported."""
    broken = UNIT.read_text().replace("ProtectHome=yes", "ProtectHome=yes\nProtectHomes=yes")
    result = verify(broken, tmp_path)
    assert "ProtectHomes" in result.stderr


def test_unit_promises() -> None:
    d = directives(UNIT.read_text())
    assert d["Type"] == ["notify"]
    assert int(d["WatchdogSec"][0]) >= 10
    assert d["Restart"] == ["on-failure"]
    # Neither a bad config (78) nor an unusable state folder (74) restart-loops.
    assert set(d["RestartPreventExitStatus"][0].split()) == {"78", "74"}
    assert d["User"] == ["kezek"]
    assert d["StateDirectory"] == ["kezek"] and d["RuntimeDirectory"] == ["kezek"]
    assert d["WorkingDirectory"] == ["/var/lib/kezek"]  # writable: lgpio's pipes
    assert "MALLOC_ARENA_MAX=2" in d["Environment"]     # the RSS budget on a Pi
    assert d["ProtectSystem"] == ["strict"] and d["NoNewPrivileges"] == ["yes"]
    for key in ("ProtectHome", "PrivateTmp", "ProtectKernelTunables", "ProtectKernelModules",
                "ProtectControlGroups"):
        assert d[key] == ["yes"], key
    assert set(d["RestrictAddressFamilies"][0].split()) == {"AF_UNIX", "AF_INET", "AF_INET6",
                                                            "AF_NETLINK"}
    # These hide /dev/ttyUSB*, /dev/gpiochip* and USB printers from the service.
    assert "PrivateDevices" not in d and "ProtectClock" not in d and "DevicePolicy" not in d
    assert d["EnvironmentFile"] == ["-/etc/kezek/secrets.env"]
    # One source for the state folder: the config's storage.state_dir, which `kezek doctor`
    # and `kezek bookings load` read too (a --state-dir here would be seen by the service only).
    assert "--state-dir" not in d["ExecStart"][0]


def _syscall_set(names: list[str]) -> set[str]:
    """System calls named, with @groups expanded by systemd-analyze itself."""
    out: set[str] = set()
    for name in names:
        if not name.startswith("@"):
            out.add(name)
            continue
        listing = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True,
                                 text=True, timeout=60, check=True).stdout
        for line in listing.splitlines()[1:]:
            entry = line.strip()
            if entry and not entry.startswith("#"):
                out |= _syscall_set([entry])
    return out


def effective_syscalls(filters: list[str]) -> set[str]:
    """The allow list the unit's SystemCallFilter= lines build, in order, as systemd does:
    the first line is an allow list; a later `~` line removes, a later plain line adds."""
    assert filters and not filters[0].startswith("~"), "the first SystemCallFilter= must allow"
    allowed = _syscall_set(filters[0].split())
    for line in filters[1:]:
        if line.startswith("~"):
            allowed -= _syscall_set(line[1:].split())
        else:
            allowed |= _syscall_set(line.split())
    return allowed


def test_system_call_filter_lets_the_service_read_ntp_sync_state() -> None:
    """adjtimex() is how edge/clock.py learns whether NTP synced the clock; @privileged
    denies it through @clock, so the unit must allow it again after that line."""
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing: apt-get install systemd"
    filters = directives(UNIT.read_text())["SystemCallFilter"]
    allowed = effective_syscalls(filters)
    assert {"adjtimex", "clock_adjtime"} <= allowed
    # ... and nothing that sets the clock or loads modules came back with it.
    assert not {"clock_settime", "settimeofday", "init_module", "mount", "reboot"} & allowed
    # The check is not blind: without the allow line, adjtimex is denied.
    assert "adjtimex" not in effective_syscalls([f for f in filters if "adjtimex" not in f])


def test_udev_rule_gives_printers_to_group_lp() -> None:
    rules = [line for line in RULES.read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert rules
    for rule in rules:
        assert 'SUBSYSTEM=="usb"' in rule and 'GROUP="lp"' in rule and 'MODE="0660"' in rule
    assert any("0701" in r for r in rules)  # the USB printer interface class
