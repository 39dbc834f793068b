"""What the controller knows of a storage fault while it lasts, and the alarms it leaves."""

from __future__ import annotations

from dataclasses import dataclass

from edge.queue.commands import RecordEvent


@dataclass(frozen=True)
class StorageFault:
    """The database cannot be written now: what (`kind`), why, and since when."""

    kind: str          # full, readonly, corrupt, io, busy, missing, or "" (unknown)
    message: str       # the error, naming the folder and the fix
    since_ms: int      # wall clock of the first failed commit
    failures: int = 1  # commits refused since then

    @property
    def alarm(self) -> str:
        return f"storage.{self.kind or 'error'}"

    def raised(self) -> RecordEvent:
        """The alarm to store once a write works again (with when it began)."""
        return RecordEvent("alarm.raised", {
            "alarm": self.alarm, "severity": "critical", "message": self.message,
            "since_ms": self.since_ms, "refused": self.failures}, source="storage")

    def cleared(self) -> RecordEvent:
        return RecordEvent("alarm.cleared", {"alarm": self.alarm, "refused": self.failures},
                           source="storage")
