"""What the benchmarks share: the project root, the demo config, a controller on a file."""

from __future__ import annotations

import json
import socket
import sqlite3
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from edge.clock import Clock, SystemClock
from edge.config import AppConfig, parse_config
from edge.config.domain import domain_from_config
from edge.controller import Controller
from edge.queue.engine import QueueEngine
from edge.storage.store import QueueStore

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
        self.store.start_background_checkpoints()  # as the service does (edge/service.py)
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


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # JSON string escapes are valid TOML
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def write_toml(data: dict[str, Any], path: Path) -> Path:
    """A dict as TOML, every table inline (enough for a config the loader reads back)."""
    path.write_text("".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in data.items()),
                    encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def runnable_demo_config(dir_: Path, edit: Callable[[dict[str, Any]], None] | None = None
                         ) -> tuple[Path, list[str]]:
    """config/demo.toml made runnable by `kezek run` on any machine, and what was changed.

    `kezek demo` adapts the demo on its own (it makes announcement clips, for one);
    `kezek run` takes the file as it is. So: the hall, kiosk and panel pages on free ports instead
    of fixed ones (parallel runs), and announcements off when their clip folders do not
    exist here. Everything else — printers, GPIO (mock pins), boards, hall, kiosk, panel — stays on.
    `edit` changes the data last (a bench's own sections, e.g. the panel's).
    """
    data = demo_config_dict()
    changes: list[str] = []
    for page in ("hall", "kiosk", "panel"):
        section = data.get(page)
        if isinstance(section, dict) and section.get("enabled") and "port" in section:
            section["port"] = free_port()
            changes.append(f"{page}.port = a free port")
    ann = data.get("announce")
    if isinstance(ann, dict) and ann.get("enabled"):
        folders = [ROOT / f if not Path(f).is_absolute() else Path(f)
                   for f in (ann.get("folders") or {}).values()]
        if not all(f.is_dir() for f in folders):
            ann["enabled"] = False
            changes.append("announce.enabled = false (no clip folders; `kezek clips` makes them)")
    storage = data.setdefault("storage", {})
    storage["state_dir"] = str(dir_ / "state")
    if edit is not None:
        edit(data)
    return write_toml(data, dir_ / "demo-bench.toml"), changes
