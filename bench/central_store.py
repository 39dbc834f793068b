"""Central's store alone: how fast each back-end takes batches, without broker or network.

    .venv/bin/python bench/central_store.py [--sites 50] [--rounds 20]

One process, one connection, on a throwaway PostgreSQL (Debian's `postgresql`, fsync on)
and a SQLite file in a temporary folder: live-sized batches (one event each, as an edge
sends while connected) one transaction each and grouped 32 to a transaction (as a
central worker stores what waits for it), and backlog-sized batches (500 events). Prints
events per second for each; the fleet (bench/fleet.py) measures the whole path.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _batch(site: str, seqs: range) -> Any:
    from edge.sync.protocol import EventBatch
    now = int(time.time() * 1000)
    return EventBatch.model_validate({
        "v": 1, "site": site, "device": "edge-1", "session": 1, "floor": 0, "db": f"db-{site}",
        "events": [{"v": 1, "id": f"{site}-{s}", "site": site, "device": "edge-1", "seq": s,
                    "boot": "b", "type": "ticket.called", "ts": now, "mono_ms": 0,
                    "clock_synced": True, "hist": False,
                    "data": {"ticket_id": s, "ticket": "A-001", "service": "docs",
                             "window": 3, "calls": 1, "wait_s": 300}} for s in seqs]})


def measure(store: Any, sites: int, rounds: int) -> dict[str, float]:
    out = {}
    single = [_batch(f"a{j:03d}", range(i + 1, i + 2)) for i in range(rounds) for j in range(sites)]
    t = time.perf_counter()
    for b in single:
        store.store_batch(b)
    out["1-event batches, one transaction each"] = len(single) / (time.perf_counter() - t)
    grouped = [[_batch(f"b{j:03d}", range(i + 1, i + 2)) for j in range(32)]
               for i in range(rounds * sites // 32)]
    t = time.perf_counter()
    for g in grouped:
        store.store_batches(g)
    out["1-event batches, 32 to a transaction"] = 32 * len(grouped) / (time.perf_counter() - t)
    big = [_batch(f"c{j:03d}", range(1, 501)) for j in range(20)]
    t = time.perf_counter()
    for b in big:
        store.store_batch(b)
    out["500-event batches"] = 500 * len(big) / (time.perf_counter() - t)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sites", type=int, default=50)
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args()
    from edge.central.localpg import LocalPostgres
    from edge.central.store import open_store
    results: dict[str, dict[str, float]] = {}
    with LocalPostgres() as pg:
        store = open_store(pg.create_db("bench"))
        try:
            results["PostgreSQL"] = measure(store, args.sites, args.rounds)
        finally:
            store.close()
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "central.db")
        try:
            results["SQLite"] = measure(store, args.sites, args.rounds)
        finally:
            store.close()
    print("| batches | " + " | ".join(results) + " |")
    print("|---|" + "---|" * len(results))
    for key in results["SQLite"]:
        print(f"| {key} | " + " | ".join(f"{r[key]:,.0f} events/s" for r in results.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
