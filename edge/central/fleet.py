"""A fleet in a box: hundreds of simulated edges against N central instances, measured.

`Fleet` drives every SimEdge (fleet_edge.py) from one thread with paho's external loop
(a selector over all their sockets), through one broker, against central instances
running as their own processes (`kezek central run`) on one shared subscription and one
PostgreSQL database. A run has phases: live (the day's events at a rate, some edges cut
off for a while and catching up), then a backlog drained at once; it ends when every
edge's outbox is acked and checks the store: every event of every edge once, none lost,
none twice. Chaos (an instance SIGKILLed and started again, PostgreSQL restarted
immediate) can be thrown in during the live phase.
"""

from __future__ import annotations

import json
import os
import random
import selectors
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import paho.mqtt.client as mqtt

from edge.central.cpuslice import CGROUP_CPU, CpuSlice
from edge.central.fleet_edge import SimEdge
from edge.central.fleet_measure import PgWaits, PhaseMeter, PhaseUsage
from edge.central.fleet_procs import CentralProcs, LocalMosquitto

__all__ = ["CentralProcs", "Fleet", "FleetPlan", "FleetResult", "LocalMosquitto", "run_fleet"]


@dataclass
class FleetPlan:
    edges: int = 350
    live_s: float = 60.0
    rate_eps: float = 3.2           # per edge: 10x a real day (1,000 visits x ~10 events / 9 h)
    cut_fraction: float = 0.1       # edges cut off during the live phase
    cut_s: float = 10.0
    backlog: int = 200              # events per edge, drained at once after the live phase
    batch_max: int = 500
    window: int = 4
    ack_timeout_s: float = 30.0     # an edge's default (edge/config/sync.py)
    settle_s: float = 120.0         # deadline for every outbox to drain
    seed: int = 1
    chaos: list[tuple[float, str]] = field(default_factory=list)   # (at s, "kill:0" | "restart-db")


@dataclass
class FleetResult:
    instances: int
    edges: int
    events: int = 0
    live_events_per_s: float = 0.0
    drain_events_per_s: float = 0.0
    lag_p50_s: float = 0.0
    lag_p99_s: float = 0.0
    catchup_max_s: float = 0.0
    connections_peak: int = 0
    central_rss_mb: list[float] = field(default_factory=list)
    lost: int = 0
    duplicated: int = 0
    unacked: int = 0
    rewinds: int = 0
    cmd_results: int = 0
    cfg_applied: int = 0
    notes: list[str] = field(default_factory=list)
    instance_cpu: float | None = None    # each instance's CPU slice, in cores
    live: PhaseUsage | None = None       # what each phase cost, by role (fleet_measure.py)
    drain: PhaseUsage | None = None


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


class Fleet:
    def __init__(self, broker_port: int, plan: FleetPlan) -> None:
        self.plan = plan
        self.port = broker_port
        self.sel = selectors.DefaultSelector()
        rng = random.Random(plan.seed)
        self.edges = [SimEdge(f"c{i + 1:04d}", "edge-1", "127.0.0.1", broker_port,
                              rng=random.Random(rng.random()), rate_eps=plan.rate_eps,
                              batch_max=plan.batch_max, window=plan.window,
                              ack_timeout_s=plan.ack_timeout_s, on_socket=self._socket)
                      for i in range(plan.edges)]
        self.connections = 0
        self.observer = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fleet-observer",
                                    protocol=mqtt.MQTTv5)
        self.observer.on_message = self._sys
        self.observer.on_socket_open = lambda c, u, s: self._socket("open", c, s)
        self.observer.on_socket_close = lambda c, u, s: self._socket("close", c, s)
        self.observer.on_socket_register_write = lambda c, u, s: self._socket("write", c, s)
        self.observer.on_socket_unregister_write = lambda c, u, s: self._socket("nowrite", c, s)
        self.observer.on_connect = lambda c, u, f, r, p: c.subscribe(
            "$SYS/broker/clients/connected", 0)
        self.observer.connect("127.0.0.1", broker_port, keepalive=30)

    # -- the loop -------------------------------------------------------------------------
    def _socket(self, what: str, client: Any, sock: Any) -> None:
        try:
            if what == "open":
                self.sel.register(sock, selectors.EVENT_READ, client)
            elif what == "close":
                self.sel.unregister(sock)
            elif what == "write":
                self.sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)
            elif what == "nowrite":
                self.sel.modify(sock, selectors.EVENT_READ, client)
        except (KeyError, ValueError, OSError):
            pass

    def _sys(self, client: Any, userdata: Any, msg: Any) -> None:
        try:
            self.connections = max(self.connections, int(msg.payload))
        except ValueError:
            pass

    def run(self, seconds: float, *, generate: bool = True,
            until: Callable[[], bool] | None = None,
            every_s: Callable[[float], None] | None = None) -> None:
        start = last_tick = last_misc = time.monotonic()
        while True:
            for key, mask in self.sel.select(0.005):
                c = key.data
                if mask & selectors.EVENT_READ:
                    c.loop_read(100)
                if mask & selectors.EVENT_WRITE:
                    c.loop_write()
            now = time.monotonic()
            if now - last_tick >= 0.05:
                dt = now - last_tick
                for e in self.edges:
                    if generate:
                        e.generate(dt)
                    e.pump(now)
                last_tick = now
            if now - last_misc >= 1.0:
                for c in [e.client for e in self.edges] + [self.observer]:
                    c.loop_misc()
                if every_s is not None:
                    every_s(now - start)
                last_misc = now
            if now - start >= seconds or (until is not None and until()):
                return

    def all_connected(self) -> bool:
        return all(e.connected and e.central_online for e in self.edges)

    def all_acked(self) -> bool:
        return all(e.acked == e.last_seq for e in self.edges)

    def close(self) -> None:
        for e in self.edges:
            try:
                e.goodbye()
            except Exception:  # a client in any state: it is being thrown away
                pass
        self.run(0.5, generate=False)
        self.observer.disconnect()
        self.sel.close()


def run_fleet(broker_port: int, db_url: str, instances: int, plan: FleetPlan, *,
              pg: Any = None, workers: int = 4, log: Callable[[str], None] = print,
              instance_cpu: float | None = None, cgroup_root: Path | None = None,
              broker_pid: int | None = None) -> FleetResult:
    """One measured run: N instances, the plan's phases, the store checked at the end.
    With `instance_cpu`, each instance runs in a CPU slice of that many cores (cpuslice.py:
    a machine of its own size) made under `cgroup_root` and removed at the end."""
    from edge.central.store import is_postgres_url, open_store
    store = open_store(db_url, pool_size=1)   # migrated before the instances race for it
    slices: list[CpuSlice] = []
    fleet: Fleet | None = None
    centrals: CentralProcs | None = None
    waits: PgWaits | None = None
    result = FleetResult(instances, plan.edges, instance_cpu=instance_cpu)
    try:
        if instance_cpu:
            slices = [CpuSlice(cgroup_root or CGROUP_CPU, f"kezek-fleet-{os.getpid()}-{i}",
                               instance_cpu) for i in range(instances)]
        centrals = CentralProcs(broker_port, db_url, instances, workers, slices)
        if is_postgres_url(db_url):
            waits = PgWaits(db_url)
        fleet = Fleet(broker_port, plan)
        f = fleet
        meter = PhaseMeter(centrals.pids, slices, broker_pid,
                           lambda: pg.pid() if pg is not None else None, waits,
                           edges=lambda: (sum(e.stats.sent_events for e in f.edges),
                                          sum(e.stats.rewinds for e in f.edges)))
        f.run(60, generate=False, until=f.all_connected)
        if not f.all_connected():
            raise RuntimeError("not every edge connected and saw central online:\n"
                               + centrals.log_tail())
        log(f"  {instances} instance(s): {plan.edges} edges connected; live for {plan.live_s:g} s")
        threading.Thread(target=publish_downlink, args=(broker_port, f.edges),
                         name="fleet-downlink", daemon=True).start()
        cut = f.edges[:int(plan.edges * plan.cut_fraction)]
        chaos = sorted(plan.chaos)
        done_chaos: list[str] = []

        def tick(t: float) -> None:
            centrals.sample_memory()
            if cut and plan.live_s * 0.3 <= t and not getattr(tick, "cut", False):
                tick.cut = True  # type: ignore[attr-defined]
                for e in cut:
                    e.cut(plan.cut_s)
            while chaos and chaos[0][0] <= t:
                _, action = chaos.pop(0)
                done_chaos.append(action)
                threading.Thread(target=_chaos, args=(action, centrals, pg), daemon=True).start()

        stored0 = _stored(store)
        meter.start()
        f.run(plan.live_s, every_s=tick)
        # The live phase's figure: what was stored while events were being made.
        result.live = meter.stop(_stored(store) - stored0)
        result.live_events_per_s = result.live.events / result.live.seconds
        f.run(plan.settle_s, generate=False, until=f.all_acked,
              every_s=lambda t: centrals.sample_memory())
        if plan.backlog:
            for e in f.edges:
                e.paused = True
                for _ in range(plan.backlog):
                    e.step_day()
            stored1 = _stored(store)
            meter.start()
            for e in f.edges:
                e.paused = False
            f.run(plan.settle_s, generate=False, until=f.all_acked,
                  every_s=lambda t: centrals.sample_memory())
            result.drain = meter.stop(_stored(store) - stored1)
            result.drain_events_per_s = result.drain.events / result.drain.seconds
        lags = [x for e in f.edges for x in e.stats.lags]
        catchup = [x for e in f.edges for x in e.stats.catchup_lags]
        result.lag_p50_s, result.lag_p99_s = percentile(lags, 50), percentile(lags, 99)
        result.catchup_max_s = max(catchup) if catchup else 0.0
        result.connections_peak = f.connections
        result.central_rss_mb = [round(k / 1024, 1) for k in centrals.peak_rss_kb]
        result.rewinds = sum(e.stats.rewinds for e in f.edges)
        result.unacked = sum(e.last_seq - e.acked for e in f.edges)
        result.events = sum(e.last_seq for e in f.edges)
        result.lost, result.duplicated = _check(store, f.edges)
        result.cmd_results = sum(len(e.cmds_seen) for e in f.edges)
        result.cfg_applied = sum(1 for e in f.edges if e.cfg_version)
        result.notes += done_chaos
    finally:
        if fleet is not None:
            fleet.close()
        if waits is not None:
            waits.stop()
        if centrals is not None:
            centrals.stop()
        for s in slices:
            s.remove()
        store.close()
    return result


def _chaos(action: str, centrals: CentralProcs, pg: Any) -> None:
    if action.startswith("kill:"):
        i = int(action.split(":")[1])
        centrals.kill(i)
        time.sleep(1.0)
        centrals.start(i)
    elif action == "restart-db" and pg is not None:
        pg.restart("immediate")


def _stored(store: Any) -> int:
    with store._read() as tx:
        return int(tx.rows("SELECT COALESCE(SUM(stored), 0) FROM devices")[0][0])


def _check(store: Any, edges: list[SimEdge]) -> tuple[int, int]:
    """(lost, duplicated) over every edge: its events 1..last_seq, each once, same id."""
    with store._read() as tx:
        rows = {(r[0], r[1]): (int(r[2]), int(r[3]), int(r[4] or 0)) for r in tx.rows(
            "SELECT site, device, COUNT(*), COUNT(DISTINCT seq), MAX(seq) FROM events "
            "GROUP BY site, device")}
    lost = dup = 0
    for e in edges:
        count, distinct, top = rows.get((e.site, e.device), (0, 0, 0))
        lost += e.last_seq - distinct + max(0, top - e.last_seq)
        dup += count - distinct
    return lost, dup


def publish_downlink(port: int, edges: list[SimEdge]) -> None:
    """A retained cfg and one command for every edge, as central's tools send them."""
    from edge.sync.mqtt import publish_properties
    from edge.sync.protocol import Topics
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fleet-downlink",
                    protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    infos = []
    for e in edges:
        t = Topics(e.site, e.device)
        infos.append(c.publish(t.cfg, json.dumps({"v": 1, "version": 2, "config": {
            "policies": {"recall_limit": 3}}}), qos=1, retain=True))
        infos.append(c.publish(t.cmd, json.dumps({
            "v": 1, "cmd_id": f"fleet-{e.site}", "name": "announce",
            "args": {"text": "fleet", "lang": "ru"}, "ts": int(time.time() * 1000),
            "ttl_s": 600}), qos=1, properties=publish_properties(600)))
    for info in infos:
        info.wait_for_publish(10)
    c.disconnect()
    c.loop_stop()
