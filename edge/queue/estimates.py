"""Wait estimates: a rolling average of real service times per service, and minutes to wait.

The average starts from the configured `avg_minutes` and moves towards what windows
really take: the configured value counts as PRIOR_WEIGHT samples, so the first few
finished visits do not swing the estimate wildly. Very short visits (a mis-press, a
visitor sent away at once) are not samples.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Iterable

PRIOR_WEIGHT = 3
MIN_SAMPLE_S = 20
MAX_SAMPLE_S = 4 * 3600


class ServiceTimes:
    """The last `size` service durations of each service (seconds)."""

    def __init__(self, size: int = 20) -> None:
        self.size = size
        self._samples: dict[str, deque[int]] = {}

    def clear(self) -> None:
        self._samples.clear()

    def add(self, service: str, seconds: int) -> None:
        if not MIN_SAMPLE_S <= seconds <= MAX_SAMPLE_S:
            return
        self._samples.setdefault(service, deque(maxlen=self.size)).append(seconds)

    def count(self, service: str) -> int:
        return len(self._samples.get(service, ()))

    def avg_minutes(self, service: str, configured: float) -> float:
        """Average minutes per visitor of `service`, blending the configured value in."""
        got = self._samples.get(service)
        if not got:
            return configured
        total = sum(got) / 60 + configured * PRIOR_WEIGHT
        return total / (len(got) + PRIOR_WEIGHT)


def line_windows(windows: Iterable[tuple[bool, int]]) -> int:
    """How many windows will serve a line, from (closed?, weight for the line) per window.

    A window paused for a break comes back (all paused at lunch is not "one window"); a
    closed one does not; before any is opened in the morning, all that serve it count.
    """
    serving = working = 0
    for closed, weight in windows:
        if weight >= 1:
            serving += 1
            working += not closed
    return working or serving or 1


def work_minutes(ahead: int, avg_minutes: float, windows: int) -> float:
    """Working minutes until a newcomer is called: each visitor ahead adds the average
    minutes divided by the windows serving the line (ZMS's rule)."""
    if ahead <= 0:
        return 0.0
    return ahead * avg_minutes / max(1, windows)


def wait_minutes(ahead: int, avg_minutes: float, open_windows: int) -> int:
    """ZMS's rule: each visitor ahead adds the average minutes divided by open windows."""
    if ahead <= 0:
        return 0
    return math.ceil(ahead * avg_minutes / max(1, open_windows))
