"""Wait estimates: a rolling average of real service times per service, and minutes to wait.

The average starts from the configured `avg_minutes` and moves towards what windows
really take: the configured value counts as PRIOR_WEIGHT samples, so the first few
finished visits do not swing the estimate wildly. Very short visits (a mis-press, a
visitor sent away at once) are not samples.
"""

from __future__ import annotations

import math
from collections import deque

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
