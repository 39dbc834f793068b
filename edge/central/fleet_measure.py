"""What a fleet run's phase cost: CPU by role, each instance's throttling, PostgreSQL's lock waits.

To tell whether 2 instances store twice what 1 does, and if not why, a phase (live, drain)
is measured by role: every central instance's CPU seconds (and, in a CPU slice, how often
it was held at its quota), the simulated edges' process, the broker, PostgreSQL (its
postmaster and backends); and PostgreSQL is sampled every 100 ms for sessions of the
fleet's database waiting for a lock (the per-site advisory locks two instances may both
want) next to those running a statement.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from edge.central.cpuslice import CpuSlice, proc_cpu_s, tree_cpu_s


@dataclass
class PhaseUsage:
    seconds: float = 0.0
    events: int = 0
    instance_cpu_s: list[float] = field(default_factory=list)
    instance_throttled: list[float] = field(default_factory=list)   # share of periods held
    cpu_ms_per_event: float = 0.0        # all instances' CPU over the events stored
    sent_events: int = 0                 # by the edges: more than stored when resent
    rewinds: int = 0                     # edges going back to their first unacked event
    cores: dict[str, float] = field(default_factory=dict)           # role -> cores used
    pg_samples: int = 0
    pg_lock_wait_share: float = 0.0      # samples with any session waiting for a lock
    pg_lock_waiters_mean: float = 0.0
    pg_lock_waiters_max: int = 0
    pg_active_mean: float = 0.0          # sessions running a statement
    pg_deadlocks: int = 0
    pg_rollbacks: int = 0


class PgWaits:
    """Samples pg_stat_activity of one database from its own thread until stopped."""

    SAMPLE = ("SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'), "
              "count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity "
              "WHERE datname = current_database() AND backend_type = 'client backend' "
              "AND pid <> pg_backend_pid()")
    TOTALS = ("SELECT deadlocks, xact_rollback FROM pg_stat_database "
              "WHERE datname = current_database()")

    def __init__(self, url: str, every_s: float = 0.1) -> None:
        import psycopg
        self.conn = psycopg.connect(url, autocommit=True)
        self.every = every_s
        self._lock = threading.Lock()
        self.samples = self.waiting_samples = self.waiters = self.waiters_max = 0
        self.active = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet-pg-waits", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                waiting, active = self.conn.execute(self.SAMPLE).fetchone() or (0, 0)
            except Exception:  # PostgreSQL restarted by the chaos: skip the sample
                time.sleep(0.5)
                try:
                    import psycopg
                    self.conn = psycopg.connect(self.conn.info.dsn, autocommit=True)
                except Exception:
                    pass
                continue
            with self._lock:
                self.samples += 1
                self.waiting_samples += 1 if waiting else 0
                self.waiters += waiting
                self.waiters_max = max(self.waiters_max, waiting)
                self.active += active

    def snapshot(self) -> dict[str, int]:
        try:
            deadlocks, rollbacks = self.conn.execute(self.TOTALS).fetchone() or (0, 0)
        except Exception:
            deadlocks = rollbacks = 0
        with self._lock:
            return {"samples": self.samples, "waiting": self.waiting_samples,
                    "waiters": self.waiters, "active": self.active,
                    "deadlocks": int(deadlocks), "rollbacks": int(rollbacks)}

    def reset_max(self) -> None:
        with self._lock:
            self.waiters_max = 0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        try:
            self.conn.close()
        except Exception:
            pass


class PhaseMeter:
    """`start()` then `stop(events)` around a phase gives its PhaseUsage."""

    def __init__(self, instance_pids: Any, slices: list[CpuSlice], broker_pid: int | None,
                 pg_pid: Any, pg_waits: PgWaits | None, edges: Any = None) -> None:
        self.edges = edges                      # () -> (events sent, rewinds) so far
        self.instance_pids = instance_pids      # a callable: pids change after a kill
        self.slices = slices
        self.broker_pid = broker_pid
        self.pg_pid = pg_pid                    # a callable too: a restart changes it
        self.pg_waits = pg_waits
        self._t0 = 0.0
        self._cpu0: dict[str, float] = {}
        self._inst0: list[float] = []
        self._thr0: list[tuple[int, int, float]] = []
        self._pg0: dict[str, int] = {}
        self._edges0 = (0, 0)

    def _roles(self) -> dict[str, float]:
        cpu = {"edges": proc_cpu_s(os.getpid())}
        if self.broker_pid:
            cpu["broker"] = proc_cpu_s(self.broker_pid)
        pg = self.pg_pid()
        if pg:
            cpu["postgres"] = tree_cpu_s(pg)
        return cpu

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._cpu0 = self._roles()
        self._inst0 = [proc_cpu_s(p) for p in self.instance_pids()]
        self._thr0 = [s.throttled() for s in self.slices]
        if self.edges is not None:
            self._edges0 = self.edges()
        if self.pg_waits is not None:
            self.pg_waits.reset_max()
            self._pg0 = self.pg_waits.snapshot()

    def stop(self, events: int) -> PhaseUsage:
        u = PhaseUsage(seconds=time.monotonic() - self._t0, events=events)
        inst = [proc_cpu_s(p) for p in self.instance_pids()]
        u.instance_cpu_s = [round(max(0.0, b - a), 2) for a, b in zip(self._inst0, inst)]
        for s, (p0, t0, _) in zip(self.slices, self._thr0):
            p1, t1, _ = s.throttled()
            u.instance_throttled.append(round((t1 - t0) / max(1, p1 - p0), 3))
        if self.edges is not None:
            sent, rewinds = self.edges()
            u.sent_events, u.rewinds = sent - self._edges0[0], rewinds - self._edges0[1]
        u.cpu_ms_per_event = round(1000 * sum(u.instance_cpu_s) / max(1, events), 3)
        roles = self._roles()
        u.cores = {k: round((roles[k] - self._cpu0.get(k, 0.0)) / u.seconds, 2)
                   for k in roles}
        u.cores["instances"] = round(sum(u.instance_cpu_s) / u.seconds, 2)
        if self.pg_waits is not None:
            pg = self.pg_waits.snapshot()
            n = max(1, pg["samples"] - self._pg0["samples"])
            u.pg_samples = pg["samples"] - self._pg0["samples"]
            u.pg_lock_wait_share = round((pg["waiting"] - self._pg0["waiting"]) / n, 3)
            u.pg_lock_waiters_mean = round((pg["waiters"] - self._pg0["waiters"]) / n, 2)
            u.pg_lock_waiters_max = self.pg_waits.waiters_max
            u.pg_active_mean = round((pg["active"] - self._pg0["active"]) / n, 2)
            u.pg_deadlocks = pg["deadlocks"] - self._pg0["deadlocks"]
            u.pg_rollbacks = pg["rollbacks"] - self._pg0["rollbacks"]
        return u
