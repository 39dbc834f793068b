"""One component's thread: named, stopped by an event, woken early, joined with a timeout.

Every component that needs a thread owns a `Worker` instead of writing its own
lifecycle (as gpiozero's GPIOThread does for its devices). The loop it runs checks
`stopped` or the answer of `wait()` and returns when asked to stop; an error that
escapes the loop is logged with its traceback and shows in the component's health
(`ok`, `problem`) instead of ending the thread silently. Errors a loop survives (a step
that failed and is tried again) go through `failed()` / `recovered()`: logged once per
new error, with its traceback, and kept for health until a step works again.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

logger = logging.getLogger(__name__)


class Worker:
    """A named daemon thread running `loop`; start() may be called again after stop()."""

    def __init__(self, name: str, loop: Callable[[], None]) -> None:
        self.name = name          # the thread's name, as `ps -T` and tracebacks show it
        self._loop = loop
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None    # the last error, while it is not over

    # -- the owner's side ----------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._wake.clear()
        self.error = None
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the loop to end and wait for it up to `timeout` s; True if it has ended.

        Never waits for its own thread (a loop that stops its component itself): then
        False, and the loop ends when it returns."""
        self.request_stop()
        thread = self._thread
        if thread is None:
            return True
        if thread is threading.current_thread():
            return False
        thread.join(max(0.0, timeout))
        ended = not thread.is_alive()
        if not ended:
            logger.warning("%s: still busy %.1f s after the stop was asked", self.name, timeout)
        return ended

    def request_stop(self) -> None:
        """Ask the loop to end without waiting (safe from any thread)."""
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """End the loop's current wait() early: there is work (safe from any thread)."""
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def ok(self) -> bool:
        """False while an error is not over, or when the loop ended without being asked."""
        if self.error is not None:
            return False
        return self._thread is None or self.alive or self._stop.is_set()

    def problem(self) -> str | None:
        """What is wrong with the thread, for the component's health, or None."""
        if self.error is not None:
            return self.error
        if not self.ok:
            return f"{self.name}: the thread has ended"
        return None

    # -- the loop's side -----------------------------------------------------------------
    @property
    def stopped(self) -> bool:
        """True once a stop was asked: the loop should finish what it owes and return."""
        return self._stop.is_set()

    def wait(self, timeout: float | None) -> bool:
        """Sleep up to `timeout` s (None: until woken), or until wake() or a stop.
        Returns True when the loop should stop."""
        if not self._stop.is_set():
            self._wake.wait(timeout)
        self._wake.clear()
        return self._stop.is_set()

    def sleep(self, timeout: float) -> bool:
        """Sleep up to `timeout` s, ended early only by a stop (not by wake()): a pause
        before a retry that commits must not shorten. Returns True when the loop should stop."""
        return self._stop.wait(max(0.0, timeout))

    def failed(self, error: BaseException, what: str) -> None:
        """A step of the loop failed and will be tried again: logged (with the traceback)
        once per new error, and kept for health until recovered()."""
        text = f"{what}: {type(error).__name__}: {error}"[:300]
        if text != self.error:
            logger.error("%s (%s; tried again)", text, self.name, exc_info=error)
        else:
            logger.debug("%s (again)", text)
        self.error = text

    def recovered(self) -> None:
        """A step worked again after failed()."""
        if self.error is not None:
            logger.info("%s: works again after: %s", self.name, self.error)
        self.error = None

    def _main(self) -> None:
        try:
            self._loop()
        except Exception as e:  # the component must see it in its health, not lose it
            self.error = f"{self.name} stopped by an error: {type(e).__name__}: {e}"[:300]
            logger.exception("%s: the thread stopped by an unexpected error", self.name)
