"""Fixtures for the service tests: configs, a notify socket, and a real `kezek run` process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEZEK = [sys.executable, "-c", "import sys; from edge.cli import main; sys.exit(main())"]

CENTER = """
[center]
site = "test-01"
device = "edge-1"
name = { kk = "Орталық", ru = "Центр" }

[[services]]
id = "docs"
names = { kk = "Құжаттар", ru = "Документы" }
prefix = "A"

[[services]]
id = "realty"
names = { kk = "Мүлік", ru = "Недвижимость" }
prefix = "B"

[[windows]]
number = 1
services = { docs = 1, realty = 1 }

[[windows]]
number = 2
services = { docs = 1 }
"""


@pytest.fixture
def make_config():
    """config text: a two-service center plus the given TOML sections."""
    def make(*sections: str) -> str:
        return CENTER + "\n".join(sections)
    return make


@pytest.fixture
def kezek() -> list[str]:
    """argv prefix that runs the `kezek` command from this checkout."""
    return list(KEZEK)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: unix socket paths are limited to 107 bytes."""
    d = Path(tempfile.mkdtemp(prefix="kz-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


class NotifyListener:
    """Plays systemd's side of $NOTIFY_SOCKET: collects the datagrams the service sends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[str] = []

    def wait_for(self, text: str, timeout: float = 60.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while not any(text in m for m in self.messages):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {text!r} from the service; got {self.messages}")
            self.sock.settimeout(left)
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        return self.messages

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify(short_dir: Path) -> Iterator[NotifyListener]:
    listener = NotifyListener(short_dir / "notify")
    yield listener
    listener.close()


class Service:
    """A real `kezek run` subprocess with its stdin (the console) kept open."""

    def __init__(self, config: Path, state_dir: Path, log: Path, env: dict[str, str]) -> None:
        self.config, self.state_dir, self.log_path = config, state_dir, log
        self._log = open(log, "w", encoding="utf-8")
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        self.proc = subprocess.Popen(
            KEZEK + ["run", "--config", str(config), "--state-dir", str(state_dir)],
            cwd=ROOT, env=full_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._log, text=True, encoding="utf-8")

    def send(self, line: str) -> str:
        """A console command; returns its answer line."""
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def wait_log(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"{text!r} not in the service log:\n{self.log()}")
            time.sleep(0.05)
        return self.log()

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for f in (self.proc.stdin, self.proc.stdout):
            if f:
                f.close()
        self._log.close()


@pytest.fixture
def start_service(short_dir: Path) -> Iterator:
    started: list[Service] = []

    def start(config_body: str, env: dict[str, str] | None = None) -> Service:
        config = short_dir / "kezek.toml"
        config.write_text(config_body, encoding="utf-8")
        svc = Service(config, short_dir / "state", short_dir / f"log{len(started)}.txt", env or {})
        started.append(svc)
        return svc

    yield start
    for svc in started:
        svc.kill()
