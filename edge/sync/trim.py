"""The outbox cap for a center without sync ([sync] enabled = false).

The store writes every event to the outbox for central; without the sync link nobody
ever reads or acks them, so without this the outbox (and the card) would grow forever.
At `storage.outbox_cap` the oldest rows are deleted down to 99 % of the cap, as the
link's `drop_oldest` policy does, and the range is recorded the same way (meta
`sync.dropped_through` and a `sync.outbox_dropped` event), so a link enabled later
starts after the gap instead of waiting for rows that are gone. With
`outbox_full_policy = "keep"` nothing is deleted: whoever chose it keeps the history for
a later sync. Runs on its own thread; the controller is only asked to record the event.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

from edge.queue.commands import RecordEvent
from edge.sync.outbox import OutboxDb

logger = logging.getLogger(__name__)

CHECK_EVERY_S = 2.0   # at most this often, and only after commits with events


def build(ctx: Any) -> list[Any]:
    """Wiring entry (only when sync is disabled)."""
    c = ctx.config
    return [OutboxTrim(ctx.db_path, ctx.controller, cap=c.storage.outbox_cap,
                       policy=c.sync.outbox_full_policy)]


class OutboxTrim:
    name = "outbox-trim"

    def __init__(self, db_path: Path, controller: Any, *, cap: int, policy: str,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.db_path = Path(db_path)
        self.controller = controller
        self.cap = cap
        self.policy = policy
        self._mono = monotonic
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscribed = False
        self.db: OutboxDb | None = None
        self.count = 0
        self.dropped = 0
        self.last_error = ""

    def start(self) -> None:
        self.db = OutboxDb(self.db_path)
        if not self._subscribed:
            self.controller.subscribe(self._on_applied)
            self._subscribed = True
        self._stop.clear()
        self._wake.set()   # check once at start: the outbox may be over the cap already
        self._thread = threading.Thread(target=self._run, name="kezek-outbox-trim",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.db is not None:
            self.db.close()

    def health(self) -> dict[str, Any]:
        return {"ok": not self.last_error, "outbox": self.count, "outbox_cap": self.cap,
                "policy": self.policy, "dropped": self.dropped, "last_error": self.last_error}

    def _on_applied(self, applied: Any) -> None:
        # The controller's thread, after a commit: only wake the trimming thread.
        if applied.events:
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            if self._stop.is_set():
                break
            self._wake.clear()
            try:
                self.check()
                self.last_error = ""
            except Exception as e:  # a busy or failing database: try again later
                logger.exception("outbox trim failed")
                self.last_error = f"{type(e).__name__}: {e}"
            self._stop.wait(CHECK_EVERY_S)

    def check(self) -> int:
        """Delete the oldest rows beyond the cap; returns how many went."""
        assert self.db is not None
        bounds = self.db.bounds()
        self.count = bounds[1] - bounds[0] + 1 if bounds else 0
        if bounds is None or self.count < self.cap or self.policy != "drop_oldest":
            return 0
        target = self.cap - max(1, self.cap // 100)
        through = bounds[0] + (self.count - target) - 1
        gone = self.db.delete_through(through, {"sync.dropped_through": through})
        self.count -= gone
        self.dropped += gone
        logger.warning("outbox: %s events over storage.outbox_cap %s with sync disabled; "
                       "dropped seq %s..%s", gone, self.cap, bounds[0], through)
        self.controller.submit(RecordEvent(
            "sync.outbox_dropped", {"from_seq": bounds[0], "to_seq": through, "count": gone,
                                    "cap": self.cap, "sync": False}, source="outbox-trim"))
        return gone
