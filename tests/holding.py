"""A controller on a real database file whose loop can be held, so that commands pile up
and reach it together (the group commit's tests: tests/queue, tests/storage)."""

from __future__ import annotations

import threading
from pathlib import Path

from edge.clock import ManualClock
from edge.config import AppConfig
from edge.config.domain import domain_from_config
from edge.control import Applied
from edge.controller import Controller
from edge.queue.commands import IssueTicket
from edge.queue.engine import QueueEngine
from edge.storage.store import QueueStore


class CountingStore(QueueStore):
    """The real store, counting its commits (a transaction each)."""

    commits = 0

    def finish(self) -> None:
        super().finish()
        self.commits += 1


class Held:
    """A controller on a real file whose loop can be held inside a listener, so that the
    commands submitted meanwhile are all waiting when it goes on."""

    def __init__(self, config: AppConfig, db: Path, clock: ManualClock) -> None:
        self.store = CountingStore(db)
        services, windows, policies = domain_from_config(config)
        self.engine = QueueEngine(services, windows, config.center.timezone, policies,
                                  self.store.load())
        self.controller = Controller(self.engine, self.store, clock, config=config,
                                     tick_interval_s=3600)
        self.inside = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.heard: list[int] = []   # outbox seqs the listeners saw, in order
        self.controller.subscribe(self._listen)
        self.controller.start()

    def _listen(self, applied: Applied) -> None:
        self.heard.extend(e.seq for e in applied.events)
        if not self.release.is_set():
            self.inside.set()
            assert self.release.wait(30), "the test never released the loop"

    def hold(self) -> None:
        """Issue A-001 (after the day's first roll), then submit A-002 and keep the loop in
        A-002's listener until released."""
        self.controller.call(IssueTicket(service="docs"), timeout=30)
        self.release.clear()
        self.controller.submit(IssueTicket(service="docs"))
        assert self.inside.wait(30), "the loop never reached the listener"

    def close(self) -> None:
        self.release.set()
        self.controller.stop()
        self.store.close()
