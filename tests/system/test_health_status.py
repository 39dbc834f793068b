"""Health snapshot parts, the status socket server and client, and the metrics text."""

from __future__ import annotations

import json
import socket
import stat
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from edge.system.health import HealthCollector, cpu_temperature_c, outbox_depth
from edge.system.metrics import MetricsServer, render_metrics
from edge.system.jsonable import to_jsonable
from edge.system.status import StatusServer, render_text, request_status


def thermal(root: Path, zones: dict[str, tuple[str, str]]) -> Path:
    for zone, (kind, temp) in zones.items():
        d = root / zone
        d.mkdir(parents=True)
        (d / "type").write_text(kind + "\n")
        (d / "temp").write_text(temp + "\n")
    return root


class Part:
    def __init__(self, name: str, health: dict[str, Any] | Exception) -> None:
        self.name, self._health = name, health

    def health(self) -> dict[str, Any]:
        if isinstance(self._health, Exception):
            raise self._health
        return self._health


def test_cpu_temperature_prefers_the_cpu_zone(tmp_path: Path) -> None:
    root = thermal(tmp_path, {"thermal_zone0": ("battery", "30000"),
                              "thermal_zone1": ("cpu-thermal", "61234")})
    assert cpu_temperature_c(root) == 61.2
    assert cpu_temperature_c(tmp_path / "none") is None


def test_outbox_depth_on_a_real_store(harness, tmp_path: Path) -> None:
    from edge.queue.commands import IssueTicket
    harness.call(IssueTicket("docs"))
    harness.call(IssueTicket("realty"))
    depth = outbox_depth(harness.db_path)
    assert depth == len(harness.store.outbox())
    assert depth >= 2
    assert outbox_depth(tmp_path / "missing.db") is None


def test_health_names_each_problem(tmp_path: Path) -> None:
    root = thermal(tmp_path / "t", {"thermal_zone0": ("cpu-thermal", "85500")})
    collector = HealthCollector(
        state_dir=tmp_path, db_path=tmp_path / "kezek.db", thermal_root=root,
        min_free_mb=10 ** 9, cpu_temp_warn_c=80,
        components={"printer:kiosk": Part("printer:kiosk", {"ok": False, "detail": "out of paper"}),
                    "boards": Part("boards", RuntimeError("bus gone")),
                    "hall": Part("hall", {"ok": True})})
    h = collector.collect()
    assert not h["ok"] and h["cpu_temp_c"] == 85.5 and h["outbox_depth"] is None
    text = "\n".join(h["problems"])
    assert "CPU at 85.5 °C" in text and "MB free" in text
    assert "printer:kiosk: out of paper" in text and "health() failed: RuntimeError: bus gone" in text
    assert h["devices"]["hall"] == {"ok": True}
    metrics = render_metrics(h, {"waiting": {"docs": 3}})
    assert "kezek_up 0" in metrics and "kezek_cpu_temperature_celsius 85.5" in metrics
    assert 'kezek_device_ok{device="printer:kiosk"} 0' in metrics
    assert 'kezek_waiting_tickets{service="docs"} 3' in metrics


@pytest.fixture
def server(short_dir: Path):
    report = {"service": {"site": "s", "device": "d", "pid": 1, "uptime_s": 65},
              "queue": {"day": "2026-11-23", "waiting_total": 1, "services": [
                  {"id": "docs", "prefix": "A", "waiting": 1}], "windows": []},
              "health": {"devices": {"printer:kiosk": {"ok": True}}, "problems": [],
                         "cpu_temp_c": 50.0, "disk_free_mb": 900, "outbox_depth": 4}}
    srv = StatusServer(short_dir / "run" / "status.sock", lambda: report)
    srv.start()
    yield srv
    srv.stop()


def test_status_over_the_socket(server: StatusServer) -> None:
    mode = server.path.stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
    status = request_status(server.path)
    assert status["queue"]["waiting_total"] == 1
    text = render_text(status)
    assert "1 waiting" in text and "printer:kiosk" in text and "outbox 4 events unsent" in text
    assert server.health()["served"] == 1


def test_garbage_request_gets_an_error_and_the_server_lives(server: StatusServer) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect(str(server.path))
        s.sendall(b"\xff\xfe rm -rf /\n")
        reply = json.loads(s.recv(4096))
    assert reply["ok"] is False and "cmd" in reply["error"]
    assert request_status(server.path)["service"]["site"] == "s"


def test_silent_client_does_not_block_others(server: StatusServer) -> None:
    idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    idle.connect(str(server.path))  # connects and never writes
    try:
        assert request_status(server.path, timeout=10)["service"]["device"] == "d"
    finally:
        idle.close()


def test_stale_socket_is_replaced_but_other_files_are_not(short_dir: Path) -> None:
    path = short_dir / "status.sock"
    old = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old.bind(str(path))
    old.close()  # a socket file left by a killed service
    srv = StatusServer(path, lambda: {"ok": 1})
    srv.start()
    assert request_status(path) == {"ok": 1}
    srv.stop()
    assert not path.exists()
    # Another file at the path is never deleted: reported (an alarm, not a stop), and the
    # socket comes once the file is gone.
    path.write_text("not a socket")
    told: list[tuple[bool, str]] = []
    srv = StatusServer(path, lambda: {"ok": 2}, problem=lambda ok, d: told.append((ok, d)),
                       retry_s=(0.05, 0.2))
    srv.start()
    try:
        assert told == [(False, f"system.status_socket: cannot listen on {path}: another "
                                f"file is there, not a socket; remove {path} or choose "
                                "another system.status_socket")]
        assert path.read_text() == "not a socket" and not srv.health()["ok"]
        path.unlink()
        assert srv.wait_listening(30)
        assert request_status(path) == {"ok": 2} and told[-1] == (True, "")
    finally:
        srv.stop()


def test_status_cli_when_there_is_no_socket(short_dir: Path, kezek: list[str]) -> None:
    """Risk: a service running without system.status_socket (off by default) was reported
    as "not running"; the IT person restarts a working service instead of setting the key."""
    import subprocess
    result = subprocess.run(kezek + ["status", "--socket", str(short_dir / "none.sock")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert "kezek is not running (no socket" not in result.stderr
    assert f"no status socket at {short_dir / 'none.sock'}" in result.stderr
    assert "systemctl status kezek" in result.stderr
    assert "runs outside systemd without system.status_socket" in result.stderr
    assert "under systemd it is /run/kezek/status.sock" in result.stderr


def test_snapshot_json_masks_iin_shaped_text() -> None:
    assert to_jsonable({"note": "IIN 900101300123", "n": 900101300123}) == \
        {"note": "IIN <IIN>", "n": 900101300123}


def test_metrics_listen_on_loopback_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        MetricsServer("0.0.0.0", 9100, None, dict)  # type: ignore[arg-type]
    collector = HealthCollector(state_dir=tmp_path, db_path=tmp_path / "x.db", components={})
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    srv = MetricsServer("127.0.0.1", port, collector, lambda: None)
    srv.start()
    try:
        assert srv.wait_serving(30), srv.health()
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        srv.stop()
    assert "# TYPE kezek_disk_free_bytes gauge" in body


@pytest.mark.parametrize("request_line", [
    b"[" * 4000 + b"\n",                 # RecursionError in json.loads
    b"9" * 4095 + b"\n",                 # a bare ValueError (Python's int digit limit)
    b'{"cmd": "status", "x": NaN}\n',
])
def test_hostile_request_gets_a_reason_and_the_server_lives(server: StatusServer,
                                                            request_line: bytes) -> None:
    """Risk: the error escaped _answer() and ended the server thread; the socket kept
    accepting but never answered again, so `kezek status` hung until its timeout."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect(str(server.path))
        s.sendall(request_line)
        reply = json.loads(s.recv(4096))
    assert reply["ok"] is False and "unreadable request" in reply["error"]
    assert 'send {"cmd": "status"}' in reply["error"]
    assert server.health()["ok"]
    assert request_status(server.path, timeout=3)["service"]["site"] == "s"


def test_a_client_dripping_bytes_does_not_hold_the_server(server: StatusServer) -> None:
    """Risk: the 2 s timeout was per recv(): one byte every second kept the one server
    thread busy for up to 4,096 s, and every `kezek status` meanwhile timed out."""
    stop = threading.Event()

    def drip() -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(server.path))
            try:
                while not stop.wait(0.5):
                    s.sendall(b" ")
            except OSError:
                pass  # the server hung up on us: that is the point

    t = threading.Thread(target=drip, daemon=True)
    t.start()
    time.sleep(0.3)
    try:
        started = time.monotonic()
        assert request_status(server.path, timeout=5)["service"]["device"] == "d"
        assert time.monotonic() - started < 4
    finally:
        stop.set()
        t.join(5)
