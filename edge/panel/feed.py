"""The panels' live state: after each commit, what every watched window's panel shows.

The controller's listener only wakes this thread (`kezek-panel-feed`); it asks the
controller for each watched window's desk (engine/desk.py, a query through the loop, so
the engine is read on its own thread) and publishes window -> JSON for the streams. It
also signs out, with the reason `idle`, an operator whose session ended (idle time) while
the engine still has them at a window.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable

from edge.queue.commands import DeskView, SignOut
from edge.web.live import Live
from edge.worker import Worker

logger = logging.getLogger(__name__)

REFRESH_S = 30.0      # minutes waited move on even when nothing is committed
IDLE_CHECK_S = 30.0


class Feed:
    def __init__(self, controller: Any, live: Live, live_operators: Callable[[], set[str]]
                 ) -> None:
        self.controller = controller
        self.live = live
        self.live_operators = live_operators   # operator ids with a live session
        self._lock = threading.Lock()
        self._watched: dict[int, int] = {}     # window -> open streams
        self.worker = Worker("kezek-panel-feed", self._loop)

    def watch(self, window: int) -> None:
        with self._lock:
            self._watched[window] = self._watched.get(window, 0) + 1
        self.worker.wake()

    def unwatch(self, window: int) -> None:
        with self._lock:
            n = self._watched.get(window, 0) - 1
            if n > 0:
                self._watched[window] = n
            else:
                self._watched.pop(window, None)

    def on_applied(self, applied: Any) -> None:
        if applied.events:       # the controller's loop: only wake the feed
            self.worker.wake()

    def start(self) -> None:
        self.worker.start()

    def stop(self, timeout: float) -> None:
        self.worker.stop(timeout)

    def publish_now(self) -> None:
        with self._lock:
            windows = sorted(self._watched)
        value: dict[int, bytes] = {}
        snapshot = self.controller.snapshot
        services = [{"id": s.id, "names": s.names, "waiting": s.waiting}
                    for s in snapshot.services]
        names = {o.id: o.name for o in self.controller.config.operators}
        for number in windows:
            try:
                data = dict(self.controller.call(DeskView(number), timeout=5.0).reply.data)
            except Exception as e:   # a window removed, the controller stopping
                data = {"window": number, "error": str(e)}
            data["all_services"] = services
            data["tz"] = self.controller.config.center.timezone
            data["operator_name"] = names.get(data.get("operator") or "", "")
            value[number] = json.dumps(data, ensure_ascii=False, separators=(",", ":"),
                                       sort_keys=True).encode("utf-8")
        self.live.publish(value)

    def sign_out_idle(self) -> None:
        """Operators at windows without a live session any more: signed out (`idle`)."""
        live = self.live_operators()
        for w in self.controller.snapshot.windows:
            if w.operator is not None and w.operator not in live:
                self.controller.submit(SignOut(w.number, reason="idle", source="panel"))

    def _loop(self) -> None:
        next_idle_check = 0.0
        while not self.worker.stopped:
            try:
                self.publish_now()
                if time.monotonic() >= next_idle_check:
                    next_idle_check = time.monotonic() + IDLE_CHECK_S
                    self.sign_out_idle()
                self.worker.recovered()
            except Exception as e:   # a bug here must not freeze every panel for good
                self.worker.failed(e, "panel: cannot build the panels' state")
            if self.worker.wait(REFRESH_S):
                return
