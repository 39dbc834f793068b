"""A part the queue can do without: if it cannot be built or started, that is an alarm and a
retry, never the end of `kezek run` (docs/operations.md, "A part that fails").

The hall screen, the voice, the LED boards, the bookings inbox, the status socket and the
metrics port each handle their own expected troubles (a port in use, a missing clip, an
unplugged board) and keep trying. This guard is for the unexpected rest: an exception
from a part's build() or start() is logged with its traceback, raised as the alarm
`device:part:<name>` (a warning: tickets are still issued) and the part is built and
started afresh after a delay that grows to a minute, until it comes up or the service
stops. Printers, buttons and keypads are not guarded: they are ticketing itself, and
their own drivers already retry what can pass.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from edge.backoff import Backoff
from edge.control import QueueControl
from edge.queue.commands import DeviceStatus
from edge.worker import Worker

logger = logging.getLogger(__name__)

Build = Callable[[], list[Any]]


class OptionalPart:
    """Component: starts the components `build()` makes; on failure reports and retries."""

    def __init__(self, name: str, build: Build, controller: QueueControl,
                 register: Callable[[Any], None], *, built: list[Any] | None = None,
                 error: BaseException | None = None,
                 retry_s: tuple[float, float] = (2.0, 60.0)) -> None:
        self.name = f"part:{name}"
        self.part = name
        self._build = build
        self._controller = controller
        self._register = register
        self._built = built            # made already by the wiring (None: build at start)
        self._error = error            # why the wiring could not build it
        self.backoff = Backoff(*retry_s)
        self.worker = Worker(f"kezek-{self.name}", self._retry_loop)
        self._lock = threading.Lock()
        self.parts: list[Any] = []
        self.problem: str | None = None
        self.attempts = 0

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self._try_up():
            return
        self.worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.worker.stop(timeout)
        with self._lock:
            parts, self.parts = self.parts, []
        for comp in reversed(parts):
            try:
                comp.stop(timeout)
            except Exception:
                logger.exception("stopping %s failed", getattr(comp, "name", comp))

    def health(self) -> dict[str, Any]:
        return {"ok": self.problem is None, "problem": self.problem, "attempts": self.attempts,
                "parts": [getattr(c, "name", "?") for c in self.parts]}

    # -- bringing it up ------------------------------------------------------------------
    def _try_up(self) -> bool:
        self.attempts += 1
        started: list[Any] = []
        try:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            comps, self._built = (self._built if self._built is not None else self._build()), None
            for comp in comps:
                self._register(comp)
                # In the list before start(): one that fails half-way is stopped too (its
                # threads, its port), so the next attempt starts clean.
                started.append(comp)
                comp.start()
        except Exception as e:
            for comp in reversed(started):
                try:
                    comp.stop(2.0)
                except Exception:
                    logger.exception("stopping %s after a failed start failed",
                                     getattr(comp, "name", comp))
            self._failed(e)
            return False
        with self._lock:
            self.parts = started
        if self.worker.stopped:
            self.stop(2.0)        # the service stopped while this retry was starting it
            return True
        if self.problem is not None:
            logger.warning("%s: started after %d attempts; its alarm clears", self.part,
                           self.attempts)
            self.problem = None
            self._report(True, "")
        return True

    def _failed(self, e: BaseException) -> None:
        detail = (f"{self.part} could not start: {type(e).__name__}: {e}; the queue runs "
                  "without it and tries again (see the log)")
        if detail != self.problem:   # the traceback once per kind of failure, not per retry
            logger.error("%s", detail, exc_info=e)
            self._report(False, detail[:300])
        self.problem = detail

    def _retry_loop(self) -> None:
        while not self.worker.sleep(self.backoff.next()):
            if self._try_up():
                return

    def _report(self, ok: bool, detail: str) -> None:
        try:
            self._controller.submit(DeviceStatus(device=self.name, ok=ok, detail=detail,
                                                 source=self.name))
        except Exception:  # a stopping controller: the log line above still says it
            logger.debug("%s: status not recorded", self.name, exc_info=True)
