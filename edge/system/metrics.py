"""Optional Prometheus text metrics on a loopback port (system.metrics_port).

Plain http.server in one named thread: a scrape every 15 s or so from a local agent needs
no framework. Only GET /metrics is served; the listener refuses non-loopback addresses
(the config validates that too).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from edge.system.health import HealthCollector
from edge.system.jsonable import to_jsonable
from edge.backoff import Backoff
from edge.worker import Worker

Report = Callable[[bool, str], None]

logger = logging.getLogger(__name__)


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def render_metrics(health: dict[str, Any], queue: Any = None) -> str:
    """Prometheus text exposition (version 0.0.4) of a health snapshot and the queue."""
    lines: list[str] = []

    def gauge(name: str, help_text: str, samples: list[tuple[str, Any]]) -> None:
        samples = [(labels, v) for labels, v in samples if v is not None]
        if not samples:
            return
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        for labels, v in samples:
            lines.append(f"{name}{labels} {float(v):g}")

    gauge("kezek_up", "1 when every device and resource is healthy",
          [("", 1 if health.get("ok") else 0)])
    gauge("kezek_cpu_temperature_celsius", "CPU temperature", [("", health.get("cpu_temp_c"))])
    gauge("kezek_disk_free_bytes", "free space on the state directory's disk",
          [("", None if health.get("disk_free_mb") is None else health["disk_free_mb"] * 2**20)])
    gauge("kezek_outbox_events", "events waiting for central's acknowledgement",
          [("", health.get("outbox_depth"))])
    gauge("kezek_device_ok", "1 when the device works",
          [(f'{{device="{_label(name)}"}}', 1 if h.get("ok", True) else 0)
           for name, h in sorted(health.get("devices", {}).items())])
    waiting = _waiting_per_service(to_jsonable(queue) if queue is not None else None)
    gauge("kezek_waiting_tickets", "tickets waiting, per service",
          [(f'{{service="{_label(s)}"}}', n) for s, n in sorted(waiting.items())])
    return "\n".join(lines) + "\n"


def _waiting_per_service(queue: Any) -> dict[str, int]:
    if not isinstance(queue, dict):
        return {}
    waiting = queue.get("waiting")
    if waiting is None and isinstance(queue.get("services"), list):
        # The snapshot's own JSON (QueueSnapshot.as_dict) lists services with their counts:
        # the running service's /metrics showed no waiting tickets at all before.
        waiting = {s.get("id"): s.get("waiting") for s in queue["services"]
                   if isinstance(s, dict) and isinstance(s.get("id"), str)}
    out: dict[str, int] = {}
    if isinstance(waiting, dict):
        for service, v in waiting.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out[service] = int(v)
            elif isinstance(v, list):
                out[service] = len(v)
    return out


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class MetricsServer:
    """Component: serves /metrics on a loopback address from a named thread.

    A port it cannot take (another program holds it) is reported through `report(ok,
    detail)` (the alarm `device:metrics`) and tried again with a growing delay: metrics
    never stop the queue."""

    name = "metrics"

    def __init__(self, host: str, port: int, collector: HealthCollector,
                 queue: Callable[[], Any], *, report: Report | None = None,
                 retry_s: tuple[float, float] = (1.0, 30.0)) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"metrics must listen on loopback, not {host}")
        self.host, self.port = host, port
        self._collector = collector
        self._queue = queue
        self._report = report or (lambda ok, detail: None)
        self.backoff = Backoff(*retry_s)
        self._server: ThreadingHTTPServer | None = None
        self.worker = Worker("kezek-metrics", self._run)
        self._serving = threading.Event()
        self._lock = threading.Lock()
        self.problem: str | None = None

    def start(self) -> None:
        self.worker.start()

    def wait_serving(self, timeout: float) -> bool:
        return self._serving.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self.worker.request_stop()
        with self._lock:
            server = self._server
        if server is not None:
            # Safe at any time once _server is set: serve_forever then runs and ends at once.
            server.shutdown()
        self.worker.stop(timeout)

    def health(self) -> dict[str, Any]:
        up = self._serving.is_set() and not self.worker.stopped
        return {"ok": up, "state": "listening" if up else "not listening",
                "address": f"{self.host}:{self.port}", "problem": self.problem}

    def _run(self) -> None:
        while not self.worker.stopped:
            try:
                server = self._make_server()
            except OSError as e:
                from edge.web.ports import listen_problem   # not imported for nothing
                detail = "; ".join(listen_problem(self.host, self.port, e,
                                                  port_key="system.metrics_port",
                                                  bind_key="system.metrics_bind"))
                if detail != self.problem:   # once per kind of problem, not per retry
                    logger.error("%s (tried again until it works; the queue goes on)", detail)
                    self._report(False, detail)
                self.problem = detail
                if self.worker.sleep(self.backoff.next()):
                    return
                continue
            with self._lock:
                if self.worker.stopped:
                    server.server_close()
                    return
                self._server = server
            self.backoff.reset()
            if self.problem is not None:
                logger.warning("metrics: serving again on %s:%s", self.host, self.port)
                self.problem = None
                self._report(True, "")
            logger.info("metrics on http://%s:%s/metrics", self.host, self.port)
            self._serving.set()
            try:
                server.serve_forever(poll_interval=0.5)
            finally:
                self._serving.clear()
                server.server_close()
            return

    def _make_server(self) -> ThreadingHTTPServer:
        collector, queue = self._collector, self._queue

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404, "only /metrics is served")
                    return
                body = render_metrics(collector.collect(), queue()).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                logger.debug("metrics: " + format, *args)

        server_class = _Server6 if ":" in self.host else _Server
        return server_class((self.host, self.port), Handler)
