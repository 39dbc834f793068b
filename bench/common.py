"""What the benchmarks share: the project root, the demo config, a controller on a file."""

from __future__ import annotations

import sqlite3
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.clock import Clock, SystemClock
from edge.config import AppConfig, parse_config
from edge.controller import Controller
from edge.queue.engine import QueueEngine, domain_from_config
from edge.queue.store import QueueStore

ROOT = Path(__file__).resolve().parents[1]
DEMO_CONFIG = ROOT / "config" / "demo.toml"


def demo_config_dict() -> dict[str, Any]:
    return tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))


def bench_config() -> AppConfig:
    """The demo center with ticket ranges wide enough for 5,000 waiting in one service.

    The demo's services number 1-999; 5,000 visitors waiting in one line need more
    numbers, so only the range changes. No console, printers or sync: the benchmark
    talks to the controller directly.
    """
    data = demo_config_dict()
    for s in data["services"]:
        s["range"] = [1, 9999]
    data["console"] = {"enabled": False}
    return parse_config(data, f"{DEMO_CONFIG} (bench ranges)")


@dataclass
class Rig:
    """A real Controller + QueueStore on a real SQLite file, its loop on its own thread."""

    config: AppConfig
    store: QueueStore
    engine: QueueEngine
    controller: Controller

    @classmethod
    def open(cls, config: AppConfig, db_path: Path, clock: Clock | None = None) -> "Rig":
        store = QueueStore(db_path)
        services, windows, policies = domain_from_config(config)
        engine = QueueEngine(services, windows, config.center.timezone, policies, store.load())
        controller = Controller(engine, store, clock or SystemClock())
        return cls(config, store, engine, controller)

    def preload(self, commands: list[Any], clock: Clock) -> None:
        """Apply commands before the loop starts, as the loop would, without fsync per commit.

        Only to build the starting queue fast (5,000 fsyncs would take most of the run);
        the measured commands afterwards run with synchronous=FULL like production.
        """
        conn = self.store.conn
        conn.execute("PRAGMA synchronous=OFF")
        try:
            for cmd in commands:
                reading = clock.read()
                outcome = self.engine.decide(cmd, reading)
                self.store.commit(outcome, reading)
                self.engine.apply(outcome)
        finally:
            conn.execute("PRAGMA synchronous=FULL")

    def start(self) -> None:
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()
        self.store.close()


def checkpoint(path: Path) -> None:
    """Fold the WAL into the main file so its size is the data's size."""
    conn = sqlite3.connect(str(path))
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
