"""Optional Prometheus text metrics on a loopback port (system.metrics_port).

Plain http.server in one named thread: a scrape every 15 s or so from a local agent needs
no framework. Only GET /metrics is served; the listener refuses non-loopback addresses
(the config validates that too).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from edge.system.health import HealthCollector
from edge.system.status import to_jsonable
from edge.worker import Worker

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
    """Component: serves /metrics on a loopback address from a named thread."""

    name = "metrics"

    def __init__(self, host: str, port: int, collector: HealthCollector,
                 queue: Callable[[], Any]) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"metrics must listen on loopback, not {host}")
        self.host, self.port = host, port
        self._collector = collector
        self._queue = queue
        self._server: ThreadingHTTPServer | None = None
        self.worker: Worker | None = None

    def start(self) -> None:
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
        self._server = server_class((self.host, self.port), Handler)
        server = self._server
        self.worker = Worker("kezek-metrics", lambda: server.serve_forever(poll_interval=0.5))
        self.worker.start()
        logger.info("metrics on http://%s:%s/metrics", self.host, self.port)

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self.worker is not None:
            self.worker.stop(timeout)

    def health(self) -> dict[str, Any]:
        alive = self.worker is not None and self.worker.alive
        return {"ok": alive, "state": "listening" if alive else "stopped",
                "address": f"{self.host}:{self.port}"}
