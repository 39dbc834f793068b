"""The first hour with real processes: a taken hall port, the demo's port, its ready line and clips."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Iterator

import pytest

from edge.announce.clip_cache import cached_set
from edge.system.status import request_status
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
DEMO_TOML = ROOT / "config" / "demo.toml"


def healthz(port: int) -> bytes | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/healthz")
        body = conn.getresponse().read()
        conn.close()
        return body
    except OSError:
        return None


def status(sock: Path) -> dict | None:
    try:
        return request_status(sock, timeout=5)
    except OSError:
        return None


@pytest.fixture
def taken_port() -> Iterator[socket.socket]:
    """Another program listening on a port (a free one: never the machine's 8080)."""
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    yield blocker
    blocker.close()


@pytest.mark.heavy(seconds=15)
def test_run_with_the_hall_port_taken_issues_tickets_raises_an_alarm_and_serves_later(
        start_service, make_config, short_dir: Path, kezek: list[str],
        taken_port: socket.socket) -> None:
    """Risk: a hall port in use made `kezek run` exit 78, which the unit does not restart:
    the center issued no tickets all day for want of a TV page."""
    port = taken_port.getsockname()[1]
    sock = short_dir / "run" / "status.sock"
    config = make_config(f'[system]\nstatus_socket = "{sock}"\n',
                         "[console]\nenabled = true\n",
                         f'[hall]\nenabled = true\nbind = "127.0.0.1"\nport = {port}\n')
    svc = start_service(config)
    assert svc.send("ticket docs").startswith("TICKET A-001")
    alarm = wait_until(lambda: (status(sock) or {}).get("queue", {}).get("alarms", {})
                     .get("device:hall"), 60, "the alarm device:hall")
    assert f"hall.port: cannot listen on 127.0.0.1:{port}: Address already in use" in alarm["message"]
    assert svc.proc.poll() is None

    # doctor names the port, who holds it (this test's process) and the fix.
    doctor = subprocess.run(kezek + ["doctor", "--config", str(svc.config),
                                     "--state-dir", str(short_dir / "doctor")],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    line = next(x for x in doctor.stdout.splitlines() if x.startswith("hall port"))
    assert "FAIL" in line and f"127.0.0.1:{port}: Address already in use" in line
    assert f"held by {os.getpid()} (" in line
    assert "fix: stop the program that holds it or choose a free port in hall.port" in doctor.stdout

    taken_port.close()      # the other program ends: the hall comes up by itself
    assert wait_until(lambda: healthz(port), 60, "the hall page") == b"ok\n"
    wait_until(lambda: "device:hall" not in (status(sock) or {"queue": {"alarms": {"device:hall": 1}}})
             ["queue"]["alarms"], 60, "the alarm to clear")
    assert svc.send("ticket docs").startswith("TICKET A-002")

    # Now the running service holds the port: doctor says so instead of failing.
    doctor = subprocess.run(kezek + ["doctor", "--config", str(svc.config),
                                     "--state-dir", str(short_dir / "doctor")],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    line = next(x for x in doctor.stdout.splitlines() if x.startswith("hall port"))
    assert re.search(r"hall port\s+ok\s+127\.0\.0\.1:\d+: the hall screen of a running kezek", line)


@pytest.fixture(scope="session")
def demo_clip_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cache folder a first `kezek demo` fills (its clip set made once per session)."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: install it with `apt-get install espeak-ng`")
    root = tmp_path_factory.mktemp("xdg-cache")
    langs = tomllib.loads(DEMO_TOML.read_text("utf-8"))["announce"]["languages"]
    cached_set(root / "kezek", langs)
    return root


class Demo:
    """A real `kezek demo` with its console on a pipe; reads its output line by line."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self._log = open(log, "w", encoding="utf-8")
        self.log_path = log
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from edge.cli import main; sys.exit(main())",
             "demo", *args], cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True,
            encoding="utf-8")
        self.lines: list[str] = []

    def read_until(self, prefix: str) -> str:
        assert self.proc.stdout
        while True:
            line = self.proc.stdout.readline()   # the demo ends (EOF) if it fails
            if not line:
                raise AssertionError(f"no {prefix!r} line; got {self.lines}, log: "
                                     f"{self.log_path.read_text()}")
            self.lines.append(line.rstrip("\n"))
            if line.startswith(prefix):
                return line.rstrip("\n")

    def send(self, line: str) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        code = self.proc.wait(30)
        for f in (self.proc.stdin, self.proc.stdout):
            if f:
                f.close()
        self._log.close()
        return code


@pytest.mark.heavy(seconds=20)
def test_demo_takes_a_free_port_when_its_own_is_taken_and_says_ready_when_it_answers(
        tmp_path: Path, demo_clip_cache: Path, taken_port: socket.socket) -> None:
    """Risk: with 8080 taken the demo printed "Type 'help'", then a traceback 10 s later;
    and it made its clip set again on every run, so the console did not answer for ~10 s
    (~40 s on a Pi) after saying it was ready."""
    port = taken_port.getsockname()[1]
    config = tmp_path / "demo.toml"
    config.write_text(DEMO_TOML.read_text("utf-8").replace("port = 8080", f"port = {port}"),
                      encoding="utf-8")
    # espeak-ng behind a wrapper that counts its calls: the kept clip set needs none.
    calls = tmp_path / "espeak-calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "espeak-ng").write_text(
        f'#!/bin/sh\necho "$*" >>"{calls}"\nexec "{shutil.which("espeak-ng")}" "$@"\n')
    (bin_dir / "espeak-ng").chmod(0o755)
    env = {"XDG_CACHE_HOME": str(demo_clip_cache), "PATH": f"{bin_dir}:{os.environ['PATH']}"}

    demo = Demo(["--config", str(config)], env, tmp_path / "demo.log")
    try:
        taken = demo.read_until("Kezek demo: port")
        assert f"port {port} is taken by another program" in taken and "--hall-port" in taken
        ready = demo.read_until("Kezek demo ready")
        url = re.search(r"Hall screen: http://127\.0\.0\.1:(\d+)/", ready)
        assert url and int(url.group(1)) != port
        # "ready" means answering: the next command is answered at once, not after a
        # clip set is made, and the hall screen is there.
        demo.send("ticket docs")
        assert demo.read_until("TICKET").startswith("TICKET A-001")
        assert healthz(int(url.group(1))) == b"ok\n"
        demo.send("quit")
        assert demo.close() == 0
    finally:
        demo.close()
    assert not calls.exists(), calls.read_text()
    assert "making a clip set" not in (tmp_path / "demo.log").read_text()

    # --hall-port is taken as given; a taken one is an error that says what to do.
    for args, expected in ((["--hall-port", str(port)], "Address already in use; choose another"),
                           (["--hall-port", "80"], "use a port of 1024 or more")):
        demo = Demo(["--config", str(config), *args], env, tmp_path / "demo2.log")
        assert demo.proc.wait(60) == 2
        demo.close()
        err = (tmp_path / "demo2.log").read_text()
        assert f"kezek demo: --hall-port {args[1]}: " in err and expected in err
