"""The fleet in a box, full size: 350 simulated edges against 1, 2 and 4 central instances.

    .venv/bin/python bench/fleet.py [--edges 350] [--instances 1,2,4] [--seconds 60]
                                    [--instance-cpu 0.4] [--json out/fleet.json]

The same as `kezek central fleet` (edge/central/fleet.py): a throwaway Mosquitto and
PostgreSQL (Debian packages `mosquitto`, `postgresql`), the instances as processes, the
edges speaking the real protocol from one process. Prints one row per instance count:
events stored per second live and when a backlog drains, ack lag p50/p99 of events made
online, the longest catch-up of a cut-off edge, broker connections, each instance's peak
memory, and lost/duplicated events (must be 0/0), and under it what each phase cost
(instances' CPU per 1,000 events, cores of the edges, broker and PostgreSQL, PostgreSQL's
lock waits). `--instance-cpu` gives each instance a CPU slice of its own (a cgroup, as
root): 1, 2 and 4 instances then compare as machines of equal size. Figures go to
docs/performance.md; timings are measured here, never asserted in tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from edge.cli import main as kezek
    return int(kezek(["central", "fleet", *sys.argv[1:]]) or 0)


if __name__ == "__main__":
    sys.exit(main())
