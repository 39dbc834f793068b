"""The business day an event is filed under (central's partitions, roll-up and reads)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

# Events whose clock is not synced, or whose time is before this, are filed under the
# day central received them: a Pi without a battery clock may say 1970 or last week.
PLAUSIBLE_FROM_MS = 1_577_836_800_000   # 2020-01-01
DAY_MS = 86_400_000


class DayOf:
    """The business day an event is filed under: its time in the country's zone (never a
    fixed offset: Kazakhstan moved to UTC+5 in 2024), or the day it was received when its
    clock cannot be trusted."""

    def __init__(self, timezone: str = "Asia/Almaty") -> None:
        self.zone = ZoneInfo(timezone)
        self._cache: dict[int, date] = {}

    def __call__(self, ts: int, clock_synced: bool, received: int) -> date:
        if not clock_synced or ts < PLAUSIBLE_FROM_MS or ts > received + DAY_MS:
            ts = received
        # Cached per UTC hour: every offset in use is a whole number of hours.
        hour = ts // 3_600_000
        day = self._cache.get(hour)
        if day is None:
            if len(self._cache) > 10_000:
                self._cache.clear()
            day = datetime.fromtimestamp(hour * 3600, self.zone).date()
            self._cache[hour] = day
        return day
