"""sd_notify over a real unix datagram socket, and the watchdog's ping rate."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from edge.system.notify import Notifier, WatchdogPinger


def _listener(address: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(address)
    s.settimeout(2)
    return s


def test_ready_stopping_and_status_reach_the_socket(short_dir: Path) -> None:
    path = str(short_dir / "notify")
    sock = _listener(path)
    n = Notifier({"NOTIFY_SOCKET": path})
    assert n.enabled
    assert n.ready("serving test-01/edge-1")
    assert sock.recv(1024) == b"READY=1\nSTATUS=serving test-01/edge-1"
    n.stopping()
    assert sock.recv(1024) == b"STOPPING=1"
    sock.close()


def test_abstract_socket_name() -> None:
    name = f"kezek-test-{os.getpid()}"
    sock = _listener("\0" + name)
    Notifier({"NOTIFY_SOCKET": "@" + name}).watchdog()
    assert sock.recv(1024) == b"WATCHDOG=1"
    sock.close()


def test_without_systemd_nothing_is_sent() -> None:
    n = Notifier({})
    assert not n.enabled and not n.ready() and n.watchdog_s is None
    WatchdogPinger(n)()  # no error, nothing to do


def test_a_vanished_socket_is_logged_not_raised(short_dir: Path, caplog) -> None:
    n = Notifier({"NOTIFY_SOCKET": str(short_dir / "gone")})
    assert n.ready() is False
    assert "could not notify systemd" in caplog.text


def test_watchdog_pings_at_half_the_timeout(short_dir: Path) -> None:
    path = str(short_dir / "notify")
    sock = _listener(path)
    now = [100.0]
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000",
                  "WATCHDOG_PID": str(os.getpid())})
    ping = WatchdogPinger(n, monotonic=lambda: now[0])
    assert ping.interval_s == 15.0
    sent = 0
    for step in range(61):  # one heartbeat a second for a minute
        now[0] = 100.0 + step
        ping()
    sock.setblocking(False)
    try:
        while sock.recv(64) == b"WATCHDOG=1":
            sent += 1
    except BlockingIOError:
        pass
    assert sent == 5  # t = 0, 15, 30, 45, 60
    sock.close()


def test_watchdog_for_another_pid_is_ignored() -> None:
    n = Notifier({"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "30000000",
                  "WATCHDOG_PID": str(os.getpid() + 1)})
    assert n.watchdog_s is None
