"""The outbox cap for a center without sync ([sync] enabled = false).

The store writes every event to the outbox for central; without the sync link nobody
ever reads or acks them, so without this the outbox (and the card) would grow forever.
At `storage.outbox_cap` the oldest rows are deleted down to 99 % of the cap by the same
trim_to_cap (edge/storage/outbox.py) as the link's `drop_oldest` policy, and the range is
recorded the same way (meta `sync.dropped_through` and a `sync.outbox_dropped` event), so
a link enabled later starts after the gap instead of waiting for rows that are gone.
With `outbox_full_policy = "keep"` nothing is deleted: whoever chose it keeps the history
for a later sync. Runs on its own thread; the controller is only asked to record the event.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from edge.queue.commands import RecordEvent
from edge.storage.faults import storage_error
from edge.storage.outbox import Outbox, trim_to_cap
from edge.control import QueueControl
from edge.worker import Worker

if TYPE_CHECKING:
    from edge.component import AppContext

logger = logging.getLogger(__name__)

CHECK_EVERY_S = 2.0   # at most this often, and only after commits with events
# After a failed trim (a full card, another program's lock): tried again this often by
# itself, as no commit may come to wake it while the card is full.
RETRY_S = 30.0


def build(ctx: "AppContext") -> list[Any]:
    """Wiring entry (only when sync is disabled)."""
    c = ctx.config
    return [OutboxTrim(ctx.db_path, ctx.controller, cap=c.storage.outbox_cap,
                       policy=c.sync.outbox_full_policy)]


class OutboxTrim:
    name = "outbox-trim"

    def __init__(self, db_path: Path, controller: QueueControl, *, cap: int, policy: str,
                 monotonic: Callable[[], float] = time.monotonic,
                 retry_s: float = RETRY_S) -> None:
        self.db_path = Path(db_path)
        self.controller = controller
        self.cap = cap
        self.policy = policy
        self._mono = monotonic
        self.worker = Worker("kezek-outbox-trim", self._run)
        self._subscribed = False
        self.db: Outbox | None = None
        self.count = 0
        self.dropped = 0
        self.last_error = ""
        self.failures = 0   # failed attempts since the last trim that worked
        self._told = ""     # the fault the log was told of (its kind, or the error)
        self.retry_s = retry_s

    def start(self) -> None:
        self.db = Outbox(self.db_path)
        if not self._subscribed:
            self.controller.subscribe(self._on_applied)
            self._subscribed = True
        self.worker.start()
        self.worker.wake()   # check once at start: the outbox may be over the cap already

    def stop(self, timeout: float = 5.0) -> None:
        self.worker.stop(timeout)
        if self.db is not None:
            self.db.close()

    def health(self) -> dict[str, Any]:
        # `detail` is what `kezek status` lists as the problem while the trim fails.
        return {"ok": not self.last_error and self.worker.ok, "outbox": self.count, "outbox_cap": self.cap,
                "policy": self.policy, "dropped": self.dropped, "last_error": self.last_error,
                "detail": self.last_error or self.worker.problem()}

    def _on_applied(self, applied: Any) -> None:
        # The controller's thread, after a commit: only wake the trimming thread.
        if applied.events:
            self.worker.wake()

    def _run(self) -> None:
        while True:
            # While failing, tried again after retry_s even if no commit wakes it.
            if self.worker.wait(self.retry_s if self.failures else None):
                break
            try:
                self.check()
            except Exception as e:  # a full card, a lock, a failing card: try again later
                self._failed(e)
                # Not sooner than either: commits may wake it many times a second.
                if self.worker.sleep(min(CHECK_EVERY_S, self.retry_s)):
                    break
                continue
            else:
                if self.failures:
                    logger.warning("outbox trim works again after %s failed attempts "
                                   "(outbox: %s events, cap %s)", self.failures, self.count,
                                   self.cap)
                self.failures = 0
                self.last_error = ""
                self._told = ""
            if self.worker.sleep(CHECK_EVERY_S):
                break

    def _failed(self, error: Exception) -> None:
        self.failures += 1
        fault = storage_error(error, self.db_path, "cannot delete the oldest outbox events")
        text = str(fault)
        told, self._told = self._told, fault.kind or text
        if self._told != told:
            # Said once (and again only if the fault changes): the retries are quiet. Not a
            # storage fault (a bug): its traceback is worth having, once.
            logger.warning("%s; the outbox holds %s events, over storage.outbox_cap %s with "
                           "sync disabled, and grows until this is fixed; tried again every "
                           "%g s", text, self.count, self.cap, self.retry_s,
                           exc_info=None if fault.kind else error)
        else:
            logger.debug("outbox trim failed again: %s", error)
        self.last_error = text

    def check(self) -> int:
        """Delete the oldest rows beyond the cap; returns how many went."""
        assert self.db is not None
        trim = trim_to_cap(self.db, self.cap, drop=self.policy == "drop_oldest")
        self.count = trim.count
        if not trim.through:
            return 0
        gone = trim.deleted
        self.count -= gone
        self.dropped += gone
        logger.warning("outbox: %s events over storage.outbox_cap %s with sync disabled; "
                       "dropped seq %s..%s", gone, self.cap, trim.first, trim.through)
        self.controller.submit(RecordEvent(
            "sync.outbox_dropped", {"from_seq": trim.first, "to_seq": trim.through,
                                    "count": gone, "cap": self.cap, "sync": False},
            source="outbox-trim"))
        return gone
