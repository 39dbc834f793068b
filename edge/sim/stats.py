"""Small statistics shared by the simulator and the benchmarks (no numpy on a Pi)."""

from __future__ import annotations

import math
from typing import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of `values`; 0.0 for an empty list.

    Nearest-rank returns a value that was actually observed, so "p99 = 1.8 ms" means one
    real command took that long; with fewer than 100 samples p99 is the maximum.
    """
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def summary_ms(samples_ns: Sequence[int]) -> dict[str, float]:
    """p50 / p99 / mean / max in milliseconds of nanosecond samples."""
    ms = [s / 1e6 for s in samples_ns]
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 4), "p99_ms": round(percentile(ms, 99), 4),
            "mean_ms": round(sum(ms) / len(ms), 4) if ms else 0.0,
            "max_ms": round(max(ms), 4) if ms else 0.0}
