"""Wrong sign-ins are counted and locked out for a while; requests are rate-limited.

Per account and per client address: `max_failures` wrong secrets within `window_s` lock
that key for `lock_s` (right secrets included, so guessing cannot go on in the dark). In
memory: a restart forgets the counts, which costs a guesser a restart of the service, not
the operators their sign-in; the slow hash bounds the rate anyway.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable


class Lockout:
    def __init__(self, max_failures: int = 5, window_s: float = 300.0, lock_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.lock_s = lock_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}
        self._until: dict[str, float] = {}

    def locked_for(self, *keys: str) -> float:
        """Seconds until every key given may try again (0 = now)."""
        now = self._clock()
        with self._lock:
            return max((self._until.get(k, 0.0) - now for k in keys), default=0.0) if keys \
                else 0.0

    def failed(self, *keys: str) -> float:
        """Count a wrong secret against each key; the lock (seconds) that follows, or 0."""
        now = self._clock()
        locked = 0.0
        with self._lock:
            for key in keys:
                seen = self._failures.setdefault(key, deque())
                seen.append(now)
                while seen and seen[0] < now - self.window_s:
                    seen.popleft()
                if len(seen) >= self.max_failures:
                    self._until[key] = now + self.lock_s
                    seen.clear()
                    locked = self.lock_s
            self._forget_old(now)
        return locked

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def locked(self) -> dict[str, float]:
        """Every key locked now, with the seconds it has left (for an admin's screen)."""
        now = self._clock()
        with self._lock:
            return {k: t - now for k, t in self._until.items() if t > now}

    def clear(self, key: str) -> bool:
        """Lift a key's lock and forget its failures (an admin vouches for it)."""
        with self._lock:
            self._failures.pop(key, None)
            return self._until.pop(key, None) is not None

    def _forget_old(self, now: float) -> None:
        # Bounded memory whatever a scanner sends: expired locks and stale counts go.
        if len(self._failures) + len(self._until) < 1024:
            return
        self._until = {k: t for k, t in self._until.items() if t > now}
        self._failures = {k: q for k, q in self._failures.items()
                          if q and q[-1] >= now - self.window_s}


class RateLimit:
    """A token bucket per key (a client address): `rate` requests a second, `burst` at once."""

    def __init__(self, rate: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if len(self._buckets) > 4096:   # a scan of many addresses stays bounded
                self._buckets.clear()
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            return True
