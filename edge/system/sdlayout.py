"""Which SD card layout the box has, and whether the state folder outlives a reboot.

Two layouts are supported (docs/install.md, "The SD card"): a writable system with the
state folder on it, and a read-only system (Raspberry Pi's overlay file system: every
write to / goes to RAM and is gone at reboot) with the state folder on a writable
partition of its own. The third, a read-only system with the state folder still on it,
loses the queue and the unsent events at every reboot: `kezek doctor` fails on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
# File systems whose content is gone at reboot.
VOLATILE = ("tmpfs", "ramfs", "overlay", "squashfs")


@dataclass(frozen=True)
class Mount:
    point: str
    fstype: str
    source: str
    options: frozenset[str]

    @property
    def writable(self) -> bool:
        return "rw" in self.options


def parse_mountinfo(text: str) -> list[Mount]:
    mounts: list[Mount] = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 6 or len(tail) < 2:
            continue
        point = fields[4].replace("\\040", " ")
        options = set(fields[5].split(",")) | set(tail[2].split(",") if len(tail) > 2 else ())
        mounts.append(Mount(point, tail[0], tail[1], frozenset(options)))
    return mounts


def mount_of(path: Path, mounts: list[Mount]) -> Mount | None:
    """The mount that holds `path`: the longest matching mount point, the last mounted."""
    target = str(path)
    best: Mount | None = None
    for m in mounts:
        point = m.point.rstrip("/") or "/"
        if point == "/" or target == point or target.startswith(point + "/"):
            if best is None or len(point) >= len(best.point.rstrip("/") or "/"):
                best = m
    return best


@dataclass(frozen=True)
class Layout:
    name: str        # writable | read-only + state partition | read-only, state in RAM
    ok: bool
    detail: str
    hint: str = ""


def sd_layout(state_dir: Path, mountinfo: Path = MOUNTINFO) -> Layout | None:
    """The box's layout, judged for `state_dir`; None when the mount table is unreadable."""
    try:
        mounts = parse_mountinfo(mountinfo.read_text(encoding="utf-8"))
    except OSError:
        return None
    root = mount_of(Path("/"), mounts)
    state = mount_of(Path(os.path.realpath(state_dir)), mounts)
    if root is None or state is None:
        # No mount on / in this process's view: a chroot or a container, not a box.
        return Layout("unknown", True, "cannot tell: / is not a mount point here (a chroot or "
                                       "a container?); run doctor on the box itself")
    readonly_system = root.fstype == "overlay" or not root.writable
    where = f"{state_dir} on {state.source} ({state.fstype}, mounted at {state.point})"
    if state.fstype in VOLATILE:
        if readonly_system and state.point == root.point:
            why = "the system is read-only (overlay file system) and the state folder is on it"
        else:
            why = f"the state folder is on {state.fstype}, which lives in RAM"
        return Layout("read-only, state in RAM", False,
                      f"{why}: the queue, the ticket numbers and the events not yet sent to "
                      f"central vanish at the next reboot ({where})",
                      "give the state folder a writable partition of its own (docs/install.md, "
                      "'The SD card'), or turn the overlay off: sudo raspi-config nonint "
                      "disable_overlayfs && sudo reboot")
    if not state.writable:
        return Layout("state read-only", False, f"{where} is mounted read-only",
                      "mount it read-write (check /etc/fstab; dmesg for card errors)")
    if readonly_system:
        return Layout("read-only + state partition", True,
                      f"read-only system (overlay), state on its own partition: {where}")
    if state.point != root.point:
        return Layout("writable + state partition", True,
                      f"writable system, state on its own partition: {where}")
    return Layout("writable", True, f"writable system, state folder on it: {where}")
