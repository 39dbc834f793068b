"""The last update's state as a component: in `kezek status`, the health to central, the log.

Built only when an update record exists in the state folder (`kezek update` writes it),
so a box that was never updated shows nothing new.
"""

from __future__ import annotations

import logging
from importlib import metadata
from pathlib import Path
from typing import Any

from edge.system.update import FINAL, read_record

logger = logging.getLogger(__name__)


def running_version() -> str:
    try:
        return metadata.version("kezek-edge")
    except metadata.PackageNotFoundError:
        return "?"


class UpdateState:
    """Reads the update record on every health() call: `kezek update` changes it."""

    name = "update"

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.version = running_version()

    def start(self) -> None:
        record = read_record(self.state_dir)
        if record is not None:
            (logger.info if record.ok else logger.warning)(
                "kezek %s running; last update %s -> %s: %s %s", self.version,
                record.from_version, record.to_version, record.state, record.detail)

    def stop(self, timeout: float = 5.0) -> None:
        pass

    def health(self) -> dict[str, Any]:
        record = read_record(self.state_dir)
        if record is None:
            return {"ok": True, "version": self.version, "detail": f"kezek {self.version}"}
        busy = record.state not in FINAL
        detail = (f"kezek {self.version}; update {record.from_version} -> {record.to_version}: "
                  f"{record.state} at {record.step_at}" + (f" ({record.detail})" if record.detail
                                                           and not record.ok else ""))
        return {"ok": record.ok, "version": self.version, "state": record.state,
                "from": record.from_version, "to": record.to_version, "at": record.step_at,
                "in_progress": busy, "detail": detail}


def build(ctx: Any) -> list[UpdateState]:
    """Wiring entry."""
    if read_record(ctx.state_dir) is None:
        return []
    return [UpdateState(ctx.state_dir)]
