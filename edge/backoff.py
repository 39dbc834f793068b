"""How long to wait before trying a device or a connection again: a growing delay with a cap."""

from __future__ import annotations


class Backoff:
    """`first` after the first failure, `factor` times more after each further one, never
    more than `cap`; `reset()` after a success starts again at `first`.

    `first == cap` is a fixed retry interval (a serial port tried every 2 s): every
    reconnect loop uses this one class, whether its delay grows or not.

    >>> b = Backoff(1.0, 5.0)
    >>> [b.next() for _ in range(5)]
    [1.0, 2.0, 4.0, 5.0, 5.0]
    >>> b.reset(); b.next()
    1.0
    """

    def __init__(self, first: float, cap: float, factor: float = 2.0) -> None:
        if first < 0 or cap < first or factor < 1:
            raise ValueError(f"backoff: need 0 <= first <= cap and factor >= 1 "
                             f"(got first={first}, cap={cap}, factor={factor})")
        self.first = first
        self.cap = cap
        self.factor = factor
        self.failures = 0   # since the last reset()

    def delay(self, failures: int) -> float:
        """The wait after the `failures`-th failure in a row (1 = the first); pure."""
        if failures <= 0:
            return 0.0
        # The exponent is bounded so that a device down for weeks cannot overflow a float.
        return min(self.cap, self.first * self.factor ** min(failures - 1, 64))

    def next(self) -> float:
        """Count one more failure and return how long to wait before the next try."""
        self.failures += 1
        return self.delay(self.failures)

    def peek(self) -> float:
        """The wait the next failure would get, without counting one."""
        return self.delay(self.failures + 1)

    def reset(self) -> None:
        """A success: the next failure waits `first` again."""
        self.failures = 0
