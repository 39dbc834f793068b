"""`kezek doctor`'s probes of what the service listens on: the hall screen's, the kiosk
page's and the operator panel's ports, the metrics port and the status socket.

Each of these parts reports a port it cannot take as an alarm and keeps trying (the
queue never stops for them); doctor says it before the start, or while the service runs:
a port held by the running kezek is fine, one held by another program is not, and the
row names that program.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from pathlib import Path
from typing import Any, Iterable

from edge.system.doctor.check import Check
from edge.system.doctor.holders import holding, listening_sockets


def tcp_listeners(port: int, proc: Path = Path("/proc")) -> list[tuple[str, str]]:
    """(pid, command line with NUL between its words) of the processes listening on TCP
    `port` (those this user may see)."""
    sockets = listening_sockets(port, proc)
    found: list[tuple[str, str]] = []
    for pid_dir in holding(sockets.__contains__, proc) if sockets else []:
        try:
            raw = (pid_dir / "cmdline").read_bytes().rstrip(b"\0")
        except OSError:
            continue  # ended meanwhile
        found.append((pid_dir.name, raw.decode("utf-8", "replace")))
    return found


def is_kezek_run(cmdline: str) -> bool:
    """Whether a command line (NUL-separated, as in /proc) is a running `kezek run`: the
    installed command, or this checkout's module (the tests' and the demo's way)."""
    argv = cmdline.split("\0")
    return "run" in argv and (any(os.path.basename(a) == "kezek" for a in argv[:2])
                              or any("edge.cli" in a for a in argv))


def shown(cmdline: str) -> str:
    return cmdline.replace("\0", " ")[:120]


def check_tcp_port(key: str, bind: str, port: int, proc: Path = Path("/proc")) -> Check:
    """Whether `bind:port` can be listened on, or is held by the running kezek."""
    label = f"port {key}"
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((bind, port))
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                fix = (f"use a port of 1024 or more in {key}, e.g. 8080"
                       if e.errno == errno.EACCES else
                       f"set its bind address to one of this machine, or 0.0.0.0")
                return Check(label, False, f"{bind}:{port}: {e.strerror}", fix)
            holders = tcp_listeners(port, proc)
            others = [f"{pid} ({shown(cmd)})" for pid, cmd in holders if not is_kezek_run(cmd)]
            if holders and not others:
                pids = ", ".join(pid for pid, _ in holders)
                return Check(label, True, f"{bind}:{port}: in use by the running kezek "
                                          f"(pid {pids})")
            who = ", ".join(others) if others else "another program (see `ss -ltnp`)"
            return Check(label, False, f"{bind}:{port}: in use by {who}; the service shows "
                                       "an alarm and retries until it is free",
                         f"stop that program, or choose a free port in {key}")
    return Check(label, True, f"{bind}:{port}: free")


def check_status_socket(path: Path) -> Check:
    """The status socket's path: a socket (left by a run, or the running service's), or
    nothing yet in a folder the service may write to."""
    label = "status socket"
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        return Check(label, False, f"{path}: {e.strerror}", "check the folder's permissions")
    if mode is not None and not stat.S_ISSOCK(mode):
        return Check(label, False, f"{path}: another file is there, not a socket",
                     f"remove {path} or choose another system.status_socket")
    if mode is not None:
        return Check(label, True, f"{path}: a socket (`kezek status` reads it)")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        return Check(label, False, f"{path}: {parent} is not writable by this user",
                     "let the service's user write there (under systemd the unit's "
                     "RuntimeDirectory is /run/kezek), or choose another "
                     "system.status_socket")
    return Check(label, True, f"{path}: can be made")


def listening_parts(config: Any) -> Iterable[tuple[str, str, int]]:
    """(key, bind, port) of every part of `config` that listens on TCP."""
    for section in ("hall", "kiosk", "panel"):   # [kiosk], [panel] where configured
        sc = getattr(config, section, None)
        if sc is not None and getattr(sc, "enabled", False) and getattr(sc, "port", 0):
            yield f"{section}.port", str(sc.bind), int(sc.port)
    sysconf = config.system
    if sysconf.metrics_port:
        yield "system.metrics_port", str(sysconf.metrics_bind), int(sysconf.metrics_port)


def check_ports(config: Any, proc: Path = Path("/proc")) -> list[Check]:
    rows = [check_tcp_port(key, bind, port, proc) for key, bind, port in listening_parts(config)]
    if config.system.status_socket is not None:
        rows.append(check_status_socket(Path(config.system.status_socket)))
    return rows
