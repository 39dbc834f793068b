"""`kezek central fleet`: the fleet benchmark from the command line (docs/performance.md)."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any


def register_fleet(csub: Any) -> None:
    f = csub.add_parser(
        "fleet", help="hundreds of simulated edges against 1, 2, 4 central instances, measured",
        description="Starts a throwaway Mosquitto and PostgreSQL (or uses --db), N `kezek "
                    "central run` instances on one shared subscription, and simulated edges "
                    "speaking the real protocol; reports events/s, ack lag, connections, "
                    "memory, and lost/duplicated events (docs/performance.md).")
    f.add_argument("--edges", type=int, default=350)
    f.add_argument("--instances", default="1,2,4", help="comma-separated instance counts")
    f.add_argument("--seconds", type=float, default=60.0, help="length of the live phase")
    f.add_argument("--rate", type=float, default=3.2,
                   help="events/s per edge in the live phase (3.2 = 10x a real day)")
    f.add_argument("--backlog", type=int, default=200,
                   help="events per edge made offline and drained at once after the live phase")
    f.add_argument("--cut-fraction", type=float, default=0.1,
                   help="share of edges cut off from the network during the live phase")
    f.add_argument("--cut-seconds", type=float, default=10.0)
    f.add_argument("--workers", type=int, default=4, help="store threads per instance")
    f.add_argument("--db", help="a PostgreSQL URL to use (each run gets a fresh database "
                                "when the fleet started the server itself)")
    f.add_argument("--instance-cpu", type=float, metavar="CORES",
                   help="run each instance in a CPU slice of this many cores (e.g. 0.4), as "
                        "on machines of its own size; needs root and cgroup v1's cpu "
                        "controller (docs/performance.md says why)")
    f.add_argument("--cgroup-root", type=Path, default=None,
                   help="where the slices' cgroups are made (default /sys/fs/cgroup/cpu)")
    f.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    f.set_defaults(func=_fleet)


def _fleet(args: argparse.Namespace) -> int:
    from edge.central.cpuslice import CGROUP_CPU, SliceError, check_slices
    from edge.central.fleet import FleetPlan, LocalMosquitto, run_fleet
    from edge.central.localpg import LocalPostgres
    from edge.central.store import INSTALL_HINT
    try:
        import psycopg  # noqa: F401
    except ImportError:
        print(f"kezek central fleet: {INSTALL_HINT}", file=sys.stderr)
        return 1
    counts = [int(x) for x in args.instances.split(",") if x.strip()]
    if args.instance_cpu is not None:
        try:
            check_slices(args.cgroup_root or CGROUP_CPU, args.instance_cpu, max(counts))
        except SliceError as e:
            print(f"kezek central fleet: {e}", file=sys.stderr)
            return 2
    plan = FleetPlan(edges=args.edges, live_s=args.seconds, rate_eps=args.rate,
                     cut_fraction=args.cut_fraction, cut_s=args.cut_seconds,
                     backlog=args.backlog)
    broker = LocalMosquitto()
    pg = None if args.db else LocalPostgres()
    results = []
    try:
        if pg is not None:
            pg.start()
        print(f"fleet: {args.edges} edges, Mosquitto on {broker.port}, "
              f"{'PostgreSQL ' + str(pg.port) if pg else 'the given database'}", file=sys.stderr)
        for n in counts:
            url = pg.create_db(f"fleet_{n}_{int(time.time())}") if pg else args.db
            r = run_fleet(broker.port, url, n, plan, pg=pg, workers=args.workers,
                          log=lambda s: print(s, file=sys.stderr),
                          instance_cpu=args.instance_cpu, cgroup_root=args.cgroup_root,
                          broker_pid=broker.proc.pid)
            results.append(r)
            print(format_row(r), flush=True)
            for line in format_usage(r):
                print(line, flush=True)
    finally:
        broker.stop()
        if pg is not None:
            pg.cleanup()
    if args.json:
        args.json.write_text(json.dumps({
            "machine": machine(), "command": " ".join(sys.argv[1:]),
            "plan": asdict(plan), "results": [asdict(r) for r in results]}, indent=1))
    bad = [r for r in results if r.lost or r.duplicated or r.unacked]
    return 1 if bad else 0


HEADER = ("instances  events  live ev/s  drain ev/s  lag p50  lag p99  catch-up max  "
          "connections  central RSS MB  lost  dup")


def format_row(r: Any) -> str:
    if not getattr(format_row, "printed", False):
        format_row.printed = True  # type: ignore[attr-defined]
        print(HEADER)
    return (f"{r.instances:>9}  {r.events:>6}  {r.live_events_per_s:>9.0f}  "
            f"{r.drain_events_per_s:>10.0f}  {r.lag_p50_s:>6.2f}s  {r.lag_p99_s:>6.2f}s  "
            f"{r.catchup_max_s:>11.1f}s  {r.connections_peak:>11}  "
            f"{'/'.join(str(x) for x in r.central_rss_mb):>13}  {r.lost:>4}  {r.duplicated:>3}")


def format_usage(r: Any) -> list[str]:
    """Per phase: what the instances and the rest used, and PostgreSQL's lock waits."""
    out = []
    for name in ("live", "drain"):
        u = getattr(r, name)
        if u is None:
            continue
        cores = " ".join(f"{k} {v:.2f}" for k, v in u.cores.items())
        line = (f"    {name}: {u.events} events in {u.seconds:.1f} s; instances' CPU s "
                f"{'/'.join(f'{x:.1f}' for x in u.instance_cpu_s)} = "
                f"{u.cpu_ms_per_event * 1000:.0f} ms per 1,000 events; edges sent "
                f"{u.sent_events} ({u.rewinds} rewinds); cores used: {cores}")
        if u.instance_throttled:
            line += (f"; throttled in {'/'.join(f'{x:.0%}' for x in u.instance_throttled)} "
                     "of periods")
        if u.pg_samples:
            line += (f"; PostgreSQL: a lock wait in {u.pg_lock_wait_share:.0%} of "
                     f"{u.pg_samples} samples (mean {u.pg_lock_waiters_mean:.2f}, max "
                     f"{u.pg_lock_waiters_max} waiting; {u.pg_active_mean:.2f} active), "
                     f"{u.pg_deadlocks} deadlocks, {u.pg_rollbacks} rollbacks")
        out.append(line)
    return out


def machine() -> dict[str, Any]:
    import os
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "system": platform.platform()}
