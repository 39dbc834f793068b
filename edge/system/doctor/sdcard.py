"""`kezek doctor`'s SD card row: the layout, and a failure when the state would vanish."""

from __future__ import annotations

from pathlib import Path

from edge.system.doctor.check import Check
from edge.system.sdlayout import MOUNTINFO, sd_layout


def check_sd_layout(state_dir: Path, mountinfo: Path = MOUNTINFO) -> list[Check]:
    layout = sd_layout(state_dir, mountinfo)
    if layout is None:
        return []  # no mount table (not Linux): nothing to say
    return [Check("sd card", layout.ok, f"{layout.name}: {layout.detail}", layout.hint)]
