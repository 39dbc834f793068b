"""A page's TCP port: can it be listened on, does a kezek page answer there, what to do.

Shared by the web server (its alarm), `kezek doctor` (its check) and `kezek demo` (which
takes another port when the hall's is taken). `key` is the config section: hall, panel...
"""

from __future__ import annotations

import errno
import http.client
import socket


def listen_problem(bind: str, port: int, error: OSError, key: str = "hall", *,
                   port_key: str | None = None, bind_key: str | None = None) -> tuple[str, str]:
    """What failed (the key, the address, the cause) and how to fix it. `key` names the
    section ({key}.port, {key}.bind) unless the keys are given (system.metrics_port)."""
    port_key = port_key or f"{key}.port"
    bind_key = bind_key or f"{key}.bind"
    if error.errno == errno.EADDRINUSE:
        fix = f"stop the program that holds it or choose a free port in {port_key} (see `ss -ltnp`)"
    elif error.errno == errno.EACCES:
        # The unit grants no capabilities: a port this machine keeps for root
        # (below 1024, or net.ipv4.ip_unprivileged_port_start) is refused.
        fix = f"use a port of 1024 or more in {port_key}, e.g. 8080"
    else:
        fix = f"set {bind_key} to an address of this machine, or 0.0.0.0"
    return f"{port_key}: cannot listen on {bind}:{port}: {error.strerror or error}", fix


def try_listen(bind: str, port: int) -> OSError | None:
    """Bind as the hall server does (SO_REUSEADDR), let go at once; the error, if any."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((bind, port))
            s.listen(1)
        except OSError as e:
            return e
    return None


def served_by_kezek(bind: str, port: int, timeout: float = 3.0, server: str = "kezek-hall") -> bool:
    """True when a kezek page (the running service's) answers on that port."""
    host = "127.0.0.1" if bind == "0.0.0.0" else "::1" if bind == "::" else bind
    try:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            return resp.status == 200 and resp.getheader("Server", "").startswith(server)
        finally:
            conn.close()
    except (OSError, http.client.HTTPException):
        return False
