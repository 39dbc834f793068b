"""The status socket: `kezek status` asks the running service for its queue and devices.

A unix stream socket in the unit's RuntimeDirectory (/run/kezek, mode 0750), itself mode
0660: only the service's user, its group (admins are added to it) and root can connect.
One JSON request line in, one JSON reply line out, then the server closes.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from edge.errors import KezekError
from edge.jsonin import loads as loads_untrusted
from edge.system.health import HealthCollector
from edge.system.jsonable import to_jsonable
from edge.backoff import Backoff
from edge.worker import Worker

if TYPE_CHECKING:
    from edge.component import AppContext

logger = logging.getLogger(__name__)

SOCKET_MODE = 0o660
DEFAULT_SOCKET = Path("/run/kezek/status.sock")
_MAX_REQUEST = 4096
# For the whole request line: a client that never writes must not block the next one.
_REQUEST_DEADLINE_S = 2.0


class StatusServer:
    """Component: answers status requests on a unix socket from a named thread.

    A socket it cannot make (its folder not writable, another file at its path) is
    reported through `problem(ok, detail)` (the alarm `device:status`) and tried again
    with a growing delay: `kezek status` is missing meanwhile, never the queue."""

    name = "status"

    def __init__(self, path: Path, report: Callable[[], dict[str, Any]], *,
                 problem: Callable[[bool, str], None] | None = None,
                 retry_s: tuple[float, float] = (1.0, 30.0),
                 lister: Callable[[str], dict[str, Any]] | None = None) -> None:
        self.path = Path(path)
        self._report = report
        self._lister = lister
        self._tell = problem or (lambda ok, detail: None)
        self.backoff = Backoff(*retry_s)
        self._sock: socket.socket | None = None
        self.worker = Worker("kezek-status", self._run)
        self._listening = threading.Event()
        self._served = 0
        self.problem: str | None = None

    def start(self) -> None:
        # The first attempt here, so that a socket that can be made is there once the
        # service says READY (systemd may start `kezek status` users then).
        self._try_listen()
        self.worker.start()

    def wait_listening(self, timeout: float) -> bool:
        return self._listening.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self.worker.stop(timeout)
        if self._sock is not None:
            self._sock.close()
            try:
                if self.path.is_socket():
                    self.path.unlink()
            except OSError:
                pass

    def health(self) -> dict[str, Any]:
        alive = self._listening.is_set() and not self.worker.stopped and self.worker.ok
        return {"ok": alive, "state": "listening" if alive else "not listening",
                "socket": str(self.path), "served": self._served, "problem": self.problem}

    def _try_listen(self) -> socket.socket | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _remove_stale(self.path)
            # Bind under a tight umask so the socket is never reachable by others, even
            # for the moment between bind() and chmod().
            old_umask = os.umask(0o117)
            try:
                sock.bind(str(self.path))
            finally:
                os.umask(old_umask)
            os.chmod(self.path, SOCKET_MODE)
            sock.listen(8)
        except OSError as e:
            sock.close()
            detail = (f"system.status_socket: cannot listen on {self.path}: "
                      f"{e.strerror or e}; {_socket_fix(self.path, e)}")
            if detail != self.problem:    # once per kind of problem, not per retry
                logger.error("%s (tried again until it works; the queue goes on)", detail)
                self._tell(False, detail)
            self.problem = detail
            return None
        sock.settimeout(0.5)  # wake up to see the stop event
        self._sock = sock
        if self.problem is not None:
            logger.warning("status socket listening again on %s", self.path)
            self.problem = None
            self._tell(True, "")
        logger.info("status socket listening on %s", self.path)
        self._listening.set()
        return sock

    def _run(self) -> None:
        sock = self._sock
        while sock is None:
            if self.worker.sleep(self.backoff.next()):
                return
            sock = self._try_listen()
        self._serve()

    def _serve(self) -> None:
        assert self._sock is not None
        while not self.worker.stopped:
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError as e:
                if not self.worker.stopped:
                    logger.error("status socket %s failed: %s", self.path, e)
                return
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        try:
            request = _read_line(conn, _REQUEST_DEADLINE_S)
            reply = self._handle(request)
            conn.settimeout(_REQUEST_DEADLINE_S)
            conn.sendall(json.dumps(reply, ensure_ascii=False).encode("utf-8") + b"\n")
            self._served += 1
        except (OSError, socket.timeout) as e:
            logger.debug("status client went away: %s", e)
        except Exception:  # one bad request must not end the thread (and the socket)
            logger.exception("status request failed")

    def _handle(self, raw: bytes) -> dict[str, Any]:
        try:
            # Strict: '[[[[...' raised RecursionError and 4,000 digits a bare ValueError,
            # which ended the server thread; the socket then accepted and never answered.
            request = loads_untrusted(raw or b"{}")
            cmd = request.get("cmd", "status") if isinstance(request, dict) else None
            why = "unknown request"
        except ValueError as e:
            cmd, why = None, f"unreadable request ({e})"
        if cmd == "list" and self._lister is not None:
            return self._list(request.get("service"))
        if cmd != "status":
            return {"ok": False, "error": f"{why}; send {{\"cmd\": \"status\"}} or "
                                          f"{{\"cmd\": \"list\", \"service\": ID}}"}
        try:
            return {"ok": True, "status": self._report()}
        except Exception as e:  # the service keeps running; the client hears why
            logger.exception("status report failed")
            return {"ok": False, "error": f"status report failed: {type(e).__name__}: {e}"}

    def _list(self, service: Any) -> dict[str, Any]:
        if not isinstance(service, str):
            return {"ok": False, "error": "list: \"service\" must be a service id (a string)"}
        assert self._lister is not None
        try:
            return {"ok": True, "list": self._lister(service)}
        except KezekError as e:      # an unknown service: the ids to use
            return {"ok": False, "error": str(e)}
        except Exception as e:  # the service keeps running; the client hears why
            logger.exception("status list failed")
            return {"ok": False, "error": f"list failed: {type(e).__name__}: {e}"}


def make_lister(ctx: "AppContext") -> Callable[[str], dict[str, Any]]:
    """`list SERVICE` for the socket: the committed tickets, read-only (edge/storage/listing.py)."""
    from edge.storage.listing import (as_json, check_service, list_service, open_read_only,
                                      slot_lines, slot_plan)

    def lister(service: str) -> dict[str, Any]:
        config = ctx.config
        check_service(service, [s.id for s in config.services])
        snap = ctx.controller.snapshot
        conn = open_read_only(ctx.db_path)
        try:
            # The clock's time: the snapshot's is the last commit's (a quiet minute keeps it).
            listed = list_service(conn, service, snap.day, ctx.clock.read().wall_ms)
            slots = slot_plan(conn, service, snap.day)
        finally:
            conn.close()
        return {"service": service, "prefix": config.service(service).prefix, "day": snap.day,
                "timezone": config.center.timezone, "tickets": as_json(listed), "slots": slots,
                "slot_lines": slot_lines(config, service, slots)}
    return lister


def _read_line(conn: socket.socket, deadline_s: float) -> bytes:
    """The request line, within `deadline_s` in all: a timeout per recv() alone let a
    client dripping a byte a second hold the (single) server thread for over an hour."""
    data = b""
    deadline = time.monotonic() + deadline_s
    while b"\n" not in data and len(data) < _MAX_REQUEST:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout(f"no complete request within {deadline_s:g} s")
        conn.settimeout(left)
        chunk = conn.recv(1024)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]


class _NotASocket(OSError):
    pass


def _remove_stale(path: Path) -> None:
    # Only a socket left by a previous run is removed; any other file there is a
    # configuration mistake that must not be deleted silently.
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise _NotASocket("another file is there, not a socket")
    path.unlink()


def _socket_fix(path: Path, e: OSError) -> str:
    if isinstance(e, _NotASocket):
        return f"remove {path} or choose another system.status_socket"
    if isinstance(e, PermissionError):
        return (f"let the service's user write to {path.parent} (under systemd it is the "
                "unit's RuntimeDirectory), or choose another system.status_socket")
    return "choose another system.status_socket (a path of at most 107 bytes)"


def make_report(ctx: "AppContext", collector: HealthCollector, started_mono: float) -> Callable[[], dict[str, Any]]:
    """The status reply's contents: service identity, the queue snapshot and the health."""
    def report() -> dict[str, Any]:
        return {
            "service": {"site": ctx.config.center.site, "device": ctx.config.center.device,
                        "pid": os.getpid(), "uptime_s": int(time.monotonic() - started_mono),
                        "state_dir": str(ctx.state_dir)},
            "queue": to_jsonable(ctx.controller.snapshot),
            "health": to_jsonable(collector.collect()),
        }
    return report


def make_collector(ctx: "AppContext") -> HealthCollector:
    sysconf = ctx.config.system
    return HealthCollector(state_dir=ctx.state_dir, db_path=ctx.db_path,
                           components=ctx.components, min_free_mb=sysconf.min_free_mb,
                           cpu_temp_warn_c=sysconf.cpu_temp_warn_c,
                           skip=("status", "metrics"),
                           storage_fault=ctx.storage_fault)


def build(ctx: "AppContext") -> list[Any]:
    """Wiring entry: the status socket and, when configured, the localhost metrics."""
    sysconf = ctx.config.system
    collector = make_collector(ctx)
    built: list[Any] = []
    if sysconf.status_socket is not None:
        built.append(StatusServer(sysconf.status_socket,
                                  make_report(ctx, collector, time.monotonic()),
                                  problem=_reporter(ctx, "status"), lister=make_lister(ctx)))
    if sysconf.metrics_port is not None:
        from edge.system.metrics import MetricsServer
        built.append(MetricsServer(sysconf.metrics_bind, sysconf.metrics_port, collector,
                                   lambda: ctx.controller.snapshot,
                                   report=_reporter(ctx, "metrics")))
    return built


def _reporter(ctx: Any, device: str) -> Callable[[bool, str], None]:
    """Whether `device` works, as the alarm `device:<device>` (a warning: tickets go on)."""
    from edge.queue.commands import DeviceStatus

    def report(ok: bool, detail: str) -> None:
        ctx.controller.submit(DeviceStatus(device=device, ok=ok, detail=detail, source=device))
    return report


def request_status(path: Path, timeout: float = 5.0,
                   request: dict[str, Any] | None = None) -> dict[str, Any]:
    """Client side: the running service's status dict (or, for a `list` request, its
    list); raises OSError/ValueError."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(json.dumps(request or {"cmd": "status"}).encode("utf-8") + b"\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    reply = json.loads(data.decode("utf-8"))
    if not reply.get("ok"):
        raise ValueError(reply.get("error", "the service refused the request"))
    return reply["list"] if (request or {}).get("cmd") == "list" else reply["status"]


def _duration(seconds: int) -> str:
    h, rest = divmod(int(seconds), 3600)
    return f"{h}h {rest // 60:02d}m" if h else f"{rest // 60}m {rest % 60:02d}s"


def render_text(status: dict[str, Any]) -> str:
    """The status reply for people: queue, windows, devices, alarms, health."""
    svc, q, h = status.get("service", {}), status.get("queue", {}), status.get("health", {})
    lines = [f"kezek {svc.get('site')}/{svc.get('device')}  pid {svc.get('pid')}  "
             f"up {_duration(svc.get('uptime_s', 0))}  day {q.get('day') or '-'}"]
    lines.append(f"queue: {q.get('waiting_total', 0)} waiting, {q.get('serving_total', 0)} "
                 "at windows")
    for s in q.get("services", []):
        lines.append(f"  {s.get('prefix', '?')}  {s.get('id', '?'):<16} {s.get('waiting', 0):>4} waiting")
    if q.get("windows"):
        lines.append("windows:")
        for w in q["windows"]:
            ticket = f"{w.get('ticket')} {w.get('ticket_state')}" if w.get("ticket") else "-"
            lines.append(f"  {w.get('number'):>3}  {w.get('state', '?'):<7} {ticket:<18} {w.get('label', '')}")
    unprinted = q.get("unprinted") or []
    if unprinted:
        # No ghost tickets: these numbers wait out of the line until their paper is out.
        total = q.get("unprinted_total") or len(unprinted)
        lines.append(f"not printed ({total}; not called until printed, else voided):")
        for u in unprinted:
            state = "printer failed" if u.get("print_state") == "failed" else "printing"
            lines.append(f"  {u.get('ticket')}  {u.get('service', '?'):<16} "
                         f"printer {u.get('printer')}: {state}")
    calls = q.get("recent_calls") or []
    if calls:
        lines.append("recent calls: " + ", ".join(f"{c.get('ticket')} -> {c.get('window')}"
                                                   for c in calls[:8]))
    devices = dict(q.get("devices") or {})
    for name, d in (h.get("devices") or {}).items():
        devices.setdefault(name, d)
    if devices:
        lines.append("devices:")
        for name, d in sorted(devices.items()):
            ok = d.get("ok")
            state = "ok" if ok else ("DOWN" if ok is False else "?")
            detail = d.get("detail") or d.get("state") or ""
            lines.append(f"  {name:<24} {state:<5} {detail}")
    alarms = q.get("alarms") or {}
    if alarms:
        lines.append("alarms:")
        for name, a in sorted(alarms.items()):
            lines.append(f"  {name:<24} {a.get('severity', '')}: {a.get('message', '')}")
    temp = h.get("cpu_temp_c")
    lines.append("health: " + ", ".join([
        f"CPU {temp} °C" if temp is not None else "CPU temperature unknown",
        f"disk {h.get('disk_free_mb')} MB free" if h.get("disk_free_mb") is not None else "disk unknown",
        f"outbox {h.get('outbox_depth')} events unsent" if h.get("outbox_depth") is not None
        else "outbox unknown"]))
    for problem in h.get("problems", []):
        lines.append(f"  problem: {problem}")
    return "\n".join(lines)
