"""Issue and call-next latency through the real controller, next to one raw SQLite commit.

The machine this runs on is usually shared and noisy (a Pi with an SD card is noisy by
nature), so the raw commit is not measured once at the start: one raw commit is timed
before every issue/call-next pair, and each level's ratio compares samples taken under
the same conditions.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from bench.common import Rig, bench_config
from edge.clock import ClockReading, SystemClock
from edge.controller import Controller
from edge.queue import commands as c
from edge.queue.engine import EngineState, Outcome, Reply
from edge.queue.snapshot import QueueSnapshot
from edge.sim.stats import summary_ms

logger = logging.getLogger(__name__)

SERVICE = "docs"   # every waiting ticket is in one line: the worst case for that line
WINDOW = 1         # serves docs first (weight 2)
# Both databases are measured in steady state: until a WAL file has been checkpointed and
# restarted once, every commit also grows the file, and on ext4 that adds a metadata
# journal write to each fsync (about 2x the commit time here). 300 pairs are 600 commits,
# three checkpoints of the service's background checkpointer.
WARMUP = 300
RAW_WARMUP = 1100  # SQLite's own autocheckpoint: 1,000 pages of one-row commits


class RawCommit:
    """One single-row INSERT per transaction, WAL + synchronous=FULL, on the same disk."""

    def __init__(self, path: Path) -> None:
        # Any thread: the floor below commits through it from the controller's thread.
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
        self.n = 0
        for _ in range(RAW_WARMUP):
            self.once()

    def once(self) -> int:
        self.n += 1
        t0 = time.perf_counter_ns()
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("INSERT INTO t (v) VALUES (?)", (f"row {self.n}",))
        self.conn.execute("COMMIT")
        return time.perf_counter_ns() - t0

    def close(self) -> None:
        self.conn.close()


class _OneRowStore:
    """The floor's store: each commit is what RawCommit times (one row, WAL + FULL)."""

    restart_needed = False

    def __init__(self, path: Path) -> None:
        self.raw = RawCommit(path)

    def commit(self, outcome: Outcome, reading: ClockReading) -> list[Any]:
        self.raw.once()
        return []

    def check_files(self) -> None:
        return None

    def close(self) -> None:
        self.raw.close()


class _NoRules:
    """The floor's engine: no queue rules, one fixed change per command."""

    def __init__(self) -> None:
        self.state = EngineState()
        self._outcome = Outcome(Reply(), 0, meta={"floor": 1})
        self._snapshot = QueueSnapshot(day="")

    def day_ends(self, reading: ClockReading) -> bool:
        return False

    def decide(self, command: c.Command, reading: ClockReading) -> Outcome:
        return self._outcome

    def apply(self, outcome: Outcome) -> None:
        pass

    def snapshot(self) -> QueueSnapshot:
        return self._snapshot


def floor(dir_: Path, samples: int, raw: RawCommit) -> dict[str, Any]:
    """What no queue code can go below: the one-owner round trip plus one raw commit.

    The real Controller, handing each command to its thread and back, with an engine that
    decides nothing and a store whose commit is exactly the raw commit. Its p99 against
    the raw commit's (timed beside it, as everywhere here) is the ratio the budget's 2x
    must leave room above for the engine and the queue's own rows.
    """
    store = _OneRowStore(dir_ / "floor.db")
    controller = Controller(_NoRules(), store, SystemClock())  # type: ignore[arg-type]
    raw_ns: list[int] = []
    floor_ns: list[int] = []
    try:
        controller.start()
        for i in range(samples + WARMUP):
            r = raw.once()
            t0 = time.perf_counter_ns()
            controller.call(c.IssueTicket(SERVICE, source="bench"))
            if i >= WARMUP:
                raw_ns.append(r)
                floor_ns.append(time.perf_counter_ns() - t0)
    finally:
        controller.stop()
        store.close()
    return {"raw_commit": summary_ms(raw_ns), "floor": summary_ms(floor_ns)}


def queue_latency(dir_: Path, waiting: int, samples: int,
                  raw: RawCommit) -> tuple[dict[str, Any], list[int]]:
    """With `waiting` tickets in line: issue one, then call next at window 1, `samples` times.

    Each pair leaves the line as long as before, so every sample sees `waiting` people
    (call-next also finishes the previous visitor at the window, as a real press does).
    Timed: controller.call() from submit to the committed reply, on the caller's thread.
    """
    config = bench_config()
    clock = SystemClock()
    rig = Rig.open(config, dir_ / f"latency-{waiting}.db", clock)
    raw_ns: list[int] = []
    issue_ns: list[int] = []
    call_ns: list[int] = []
    try:
        rig.preload([c.IssueTicket(SERVICE, source="bench") for _ in range(waiting)], clock)
        rig.start()
        for i in range(samples + WARMUP):
            r = raw.once()
            t0 = time.perf_counter_ns()
            rig.controller.call(c.IssueTicket(SERVICE, source="bench"))
            t1 = time.perf_counter_ns()
            rig.controller.call(c.CallNext(WINDOW))
            t2 = time.perf_counter_ns()
            if i >= WARMUP:
                raw_ns.append(r)
                issue_ns.append(t1 - t0)
                call_ns.append(t2 - t1)
        seen = rig.controller.snapshot.waiting_total
    finally:
        rig.close()
    return {"waiting": waiting, "waiting_seen_after": seen, "raw_commit": summary_ms(raw_ns),
            "issue": summary_ms(issue_ns), "call_next": summary_ms(call_ns)}, raw_ns


def breakdown(dir_: Path, waiting: int, samples: int, raw: RawCommit) -> dict[str, Any]:
    """Where an issue/call-next pair's time goes, with `waiting` in line.

    The same work as queue_latency, but done on this thread step by step (engine
    decide, store commit, apply + snapshot), with a raw commit beside each command; then
    the controller's round trip for a command that changes nothing (a Tick: the thread
    hand-over and the Future, plus an empty decide).
    """
    config = bench_config()
    clock = SystemClock()
    rig = Rig.open(config, dir_ / f"breakdown-{waiting}.db", clock)
    parts: dict[str, list[int]] = {"raw_commit": [], "decide": [], "commit": [],
                                   "apply_snapshot": [], "in_process_total": [], "hand_over": []}
    try:
        rig.preload([c.IssueTicket(SERVICE, source="bench") for _ in range(waiting)], clock)
        rig.store.start_background_checkpoints()
        engine, store = rig.engine, rig.store
        for i in range(samples + WARMUP):
            for cmd in (c.IssueTicket(SERVICE, source="bench"), c.CallNext(WINDOW)):
                r = raw.once()
                t0 = time.perf_counter_ns()
                reading = clock.read()
                outcome = engine.decide(cmd, reading)
                t1 = time.perf_counter_ns()
                store.commit(outcome, reading)
                t2 = time.perf_counter_ns()
                engine.apply(outcome)
                engine.snapshot()
                t3 = time.perf_counter_ns()
                if i >= WARMUP:
                    for k, v in (("raw_commit", r), ("decide", t1 - t0), ("commit", t2 - t1),
                                 ("apply_snapshot", t3 - t2), ("in_process_total", t3 - t0)):
                        parts[k].append(v)
        rig.controller.start()
        for i in range(samples + WARMUP):
            t0 = time.perf_counter_ns()
            rig.controller.call(c.Tick())
            if i >= WARMUP:
                parts["hand_over"].append(time.perf_counter_ns() - t0)
    finally:
        rig.close()
    return {"waiting": waiting, **{k: summary_ms(v) for k, v in parts.items()}}


def run(dir_: Path, levels: list[int], samples: int) -> dict[str, Any]:
    raw = RawCommit(dir_ / "raw-commit.db")
    all_raw: list[int] = []
    out: dict[str, Any] = {"samples": samples, "levels": {}}
    try:
        for n in levels:
            logger.info("latency with %d waiting", n)
            result, raw_ns = queue_latency(dir_, n, samples, raw)
            out["levels"][str(n)] = result
            all_raw.extend(raw_ns)
        mid = levels[len(levels) // 2]
        logger.info("latency breakdown with %d waiting", mid)
        out["breakdown"] = breakdown(dir_, mid, samples, raw)
        logger.info("latency floor: hand-over and one raw commit")
        out["floor"] = floor(dir_, samples, raw)
    finally:
        raw.close()
    out["raw_commit"] = summary_ms(all_raw)
    return out
