"""The outbox cap while the link runs: the `sync.outbox` alarm levels and the full policy.

At `outbox_alarm_ratio` of `storage.outbox_cap` a warning, at the cap a critical alarm,
each with hysteresis so a level does not flap around its threshold; at the cap the
`drop_oldest` policy deletes the oldest unsent events (the range is recorded as
`sync.dropped_through` and a `sync.outbox_dropped` event). The level is kept in meta so a
restart does not raise the same alarm again.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from edge.storage.outbox import trim_to_cap
from edge.sync.outbox import OutboxDb

logger = logging.getLogger(__name__)

CRITICAL_CLEAR_RATIO = 0.95  # a critical outbox alarm goes back to warning below this
LEVEL_KEY = "sync.outbox_alarm"


class OutboxCap:
    def __init__(self, db: OutboxDb, *, cap: int, alarm_ratio: float, policy: str,
                 dropped: Callable[[int], None],
                 emit: Callable[[str, dict[str, Any]], None]) -> None:
        self.db = db
        self.cap = cap
        self.alarm_ratio = alarm_ratio
        self.policy = policy
        self._dropped = dropped   # the pump skips what the policy deleted
        self._emit = emit
        self.level = self.db.get(LEVEL_KEY, "ok") or "ok"
        self.count = 0

    def check(self) -> None:
        """Outbox size against the cap: alarm at the ratio, policy at the cap."""
        trim = trim_to_cap(self.db, self.cap, drop=self.policy == "drop_oldest")
        count = self.count = trim.count
        cap = self.cap
        # The level is judged on the count before the policy trims: after a drop the
        # outbox is at 99 % and would always read "warning", never "critical".
        reached = count
        if trim.through:
            self._dropped(trim.through)
            logger.error("sync: outbox reached its cap of %s; dropped seq %s..%s", cap,
                         trim.first, trim.through)
            self._emit("sync.outbox_dropped", {"from_seq": trim.first, "to_seq": trim.through,
                                               "count": trim.dropped, "cap": cap})
            count = trim.left
        level = self._level(reached, count)
        if level == self.level:
            return
        self.level = level
        self.db.put({LEVEL_KEY: level})
        if level == "ok":
            self._emit("alarm.cleared", {"alarm": "sync.outbox", "count": count, "cap": cap})
        else:
            self._emit("alarm.raised", {
                "alarm": "sync.outbox", "severity": level, "count": count, "cap": cap,
                "message": f"{count} events wait for central ({100 * count // cap}% of the "
                           f"outbox cap {cap}); check the link to central"})

    def _level(self, reached: int, count: int) -> str:
        cap, ratio = self.cap, self.alarm_ratio
        if reached >= cap:
            return "critical"
        if self.level == "critical" and count >= CRITICAL_CLEAR_RATIO * cap:
            return "critical"  # hysteresis: drop_oldest keeps it at 99 % while cut off
        if count >= ratio * cap:
            return "warning"
        if self.level != "ok" and count >= (ratio - 0.1) * cap:
            return "warning"  # hysteresis: clear only well below the threshold
        return "ok"
