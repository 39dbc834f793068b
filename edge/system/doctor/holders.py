"""Which other processes hold a serial port open or listen on a TCP port (read from /proc)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

LISTEN = "0A"   # the TCP state "listen" in /proc/net/tcp


def holding(opened: Callable[[str], bool], proc: Path = Path("/proc")) -> list[Path]:
    """The /proc/PID folders of the processes with an open file that `opened` accepts (the
    readlink of /proc/PID/fd/N), among those this user may see."""
    found: list[Path] = []
    for pid_dir in proc.glob("[0-9]*"):
        try:
            fds = list((pid_dir / "fd").iterdir())
        except OSError:
            continue  # gone, or another user's process and we are not root
        for fd in fds:
            try:
                if opened(os.readlink(fd)):
                    found.append(pid_dir)
                    break
            except OSError:
                continue
    return found


def listening_sockets(port: int, proc: Path = Path("/proc")) -> set[str]:
    """The `socket:[inode]` links of the sockets listening on TCP `port`."""
    sockets: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            # local address "0100007F:1F90", state 0A = LISTEN, the socket's inode
            if len(cols) > 9 and cols[3] == LISTEN and int(cols[1].rsplit(":", 1)[1], 16) == port:
                sockets.add(f"socket:[{cols[9]}]")
    return sockets


def _named(pid_dirs: list[Path]) -> list[str]:
    """'PID (command)' of each process but this one."""
    names: list[str] = []
    for pid_dir in pid_dirs:
        if pid_dir.name == str(os.getpid()):
            continue
        try:
            comm = (pid_dir / "comm").read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue  # ended meanwhile
        names.append(f"{pid_dir.name} ({comm})")
    return names


def port_holders(port: str, proc: Path = Path("/proc")) -> list[str]:
    """'PID (command)' of other processes that have `port` open (those we may see)."""
    try:
        target = os.path.realpath(port)
    except OSError:
        return []
    return _named(holding(lambda link: link == target, proc))


def tcp_listeners(port: int, proc: Path = Path("/proc")) -> list[str]:
    """'PID (command)' of the other processes listening on TCP `port` (those we may see)."""
    sockets = listening_sockets(port, proc)
    return _named(holding(sockets.__contains__, proc)) if sockets else []
