"""The running service: store + engine + controller + the configured components."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import IO, Callable

from edge.clock import Clock, SystemClock
from edge.component import AppContext, Component
from edge.config import AppConfig
from edge.controller import Controller
from edge.queue.engine import QueueEngine, domain_from_config
from edge.queue.store import QueueStore

logger = logging.getLogger(__name__)

DB_NAME = "kezek.db"


class App:
    """One controller process. `start()` brings everything up; `run()` owns the main thread."""

    def __init__(self, config: AppConfig, state_dir: Path, *, stdout: IO[str] | None = None,
                 stdin: IO[str] | None = None, clock: Clock | None = None, demo: bool = False) -> None:
        self.config = config
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.state_dir / DB_NAME
        self.clock = clock or SystemClock()
        self.stop_event = threading.Event()
        self.store = QueueStore(self.db_path)
        services, windows, policies = domain_from_config(config)
        self.engine = QueueEngine(services, windows, config.center.timezone, policies,
                                  self.store.load())
        self.controller = Controller(self.engine, self.store, self.clock)
        self.ctx = AppContext(config=config, controller=self.controller, clock=self.clock,
                              state_dir=self.state_dir, db_path=self.db_path,
                              stdout=stdout or sys.stdout, logger=logging.getLogger("kezek"),
                              demo=demo, shutdown=self.stop_event.set,
                              stdin=stdin or sys.stdin)
        self.components: list[Component] = []

    def start_components(self) -> None:
        from edge.wiring import build_components
        self.components = build_components(self.ctx)
        for comp in self.components:
            logger.info("starting %s", comp.name)
            comp.start()

    def run(self, heartbeat: Callable[[], None] | None = None) -> None:
        """Apply commands in this thread until stop() (SIGTERM, `quit`)."""
        self.controller.run(self.stop_event, heartbeat)

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        # Inputs first (no new commands), outputs and sync last (they flush).
        for comp in reversed(self.components):
            try:
                comp.stop(timeout)
            except Exception:
                logger.exception("stopping %s failed", comp.name)
        self.store.close()


def run_service(config: AppConfig, state_dir: Path, *, demo: bool = False,
                stdout: IO[str] | None = None) -> int:
    app = App(config, state_dir, stdout=stdout, demo=demo)

    def _on_signal(signum: int, _frame: object) -> None:
        logger.info("signal %s: stopping", signal.Signals(signum).name)
        app.stop_event.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        app.start_components()
        logger.info("kezek ready: site %s, device %s, database %s",
                    config.center.site, config.center.device, app.db_path)
        app.run()
    finally:
        app.stop()
    return 0
