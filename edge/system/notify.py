"""systemd's notify protocol spoken directly over $NOTIFY_SOCKET (READY, WATCHDOG, STOPPING).

A few lines instead of a dependency: one datagram per message to the unix socket systemd
names in the environment. Without $NOTIFY_SOCKET (a laptop, a test) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Callable, Mapping

logger = logging.getLogger(__name__)


class Notifier:
    """Sends sd_notify messages; silent when the process was not started by systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        # A leading '@' means an abstract socket: the name starts with a NUL byte.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._watchdog_s = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    @property
    def watchdog_s(self) -> float | None:
        """systemd's watchdog timeout in seconds, when it asked for pings (WatchdogSec=)."""
        return self._watchdog_s

    def send(self, message: str) -> bool:
        """Send one message such as 'READY=1'; False (and a log line) when it cannot."""
        if not self._address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.connect(self._address)
                s.sendall(message.encode("utf-8"))
            return True
        except OSError as e:
            logger.warning("could not notify systemd (%s): %s", message.split("=")[0], e)
            return False

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def stopping(self, status: str = "") -> bool:
        return self.send("STOPPING=1" + (f"\nSTATUS={status}" if status else ""))

    def reloading(self) -> bool:
        return self.send("RELOADING=1")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    usec = env.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    # WATCHDOG_PID, when set, names the process that must ping; a child we started
    # (with the environment inherited) must not ping in its parent's name.
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 1_000_000


class WatchdogPinger:
    """A heartbeat for the controller loop: pings WATCHDOG=1 at most every half timeout.

    It is called from the real main loop (Controller.run's heartbeat), never from a
    free-running thread, so a stuck loop stops the pings and systemd restarts the unit.
    """

    def __init__(self, notifier: Notifier, *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._notifier = notifier
        self._monotonic = monotonic
        timeout = notifier.watchdog_s
        self.interval_s = timeout / 2 if timeout else None
        self._last = float("-inf")

    def __call__(self) -> None:
        if self.interval_s is None:
            return
        now = self._monotonic()
        if now - self._last >= self.interval_s:
            self._last = now
            self._notifier.watchdog()
