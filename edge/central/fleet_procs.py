"""The fleet's processes: a throwaway Mosquitto, and `kezek central run` instances (each in a
CPU slice of its own when asked: cpuslice.py)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edge.central.cpuslice import CpuSlice
from edge.central.localpg import free_port

REPO = Path(__file__).resolve().parents[2]


def mosquitto_exe() -> str | None:
    # Debian installs it in /usr/sbin, off a normal user's PATH.
    return (shutil.which("mosquitto")
            or shutil.which("mosquitto", path="/usr/local/sbin:/usr/sbin:/sbin"))


class LocalMosquitto:
    """A Mosquitto on 127.0.0.1 and a free port, tuned for a fleet (queues, $SYS each second)."""

    def __init__(self) -> None:
        exe = mosquitto_exe()
        if exe is None:
            raise RuntimeError("install Mosquitto: apt-get install mosquitto")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="kezek-mqtt-"))
        conf = self.dir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                        "persistence false\nset_tcp_nodelay true\nsys_interval 1\n"
                        "max_queued_messages 10000\n", encoding="ascii")
        self.log = open(self.dir / "mosquitto.log", "wb")
        self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        _wait_port(self.port, 10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _wait_port(port: int, timeout: float) -> None:
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


class CentralProcs:
    """`kezek central run` instances, one process each, on one group and one database."""

    def __init__(self, port: int, db_url: str, n: int, workers: int = 4,
                 slices: list[CpuSlice] | None = None) -> None:
        self.port, self.db_url, self.workers = port, db_url, workers
        self.slices = slices or []      # one per instance, or none: all share every core
        self.procs: list[subprocess.Popen[bytes]] = []
        self.peak_rss_kb: list[int] = []
        self.logdir = Path(tempfile.mkdtemp(prefix="kezek-central-"))
        for i in range(n):
            self.procs.append(self._spawn(i))
            self.peak_rss_kb.append(0)

    def _spawn(self, i: int) -> "subprocess.Popen[bytes]":
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        argv = [sys.executable, "-m", "edge.cli", "central", "run", "--host", "127.0.0.1",
                "--port", str(self.port), "--no-tls", "--db", self.db_url,
                "--summary-every", "0", "--workers", str(self.workers)]
        if self.slices:
            argv = self.slices[i].wrap(argv)
        with open(self.logdir / f"central-{i}.log", "ab") as log:   # the child keeps its own
            return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    cwd=str(REPO))

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def kill(self, i: int) -> None:
        """SIGKILL: no goodbye, no commit of what it was doing."""
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait(10)

    def start(self, i: int) -> None:
        self.procs[i] = self._spawn(i)

    def sample_memory(self) -> None:
        for i, p in enumerate(self.procs):
            try:
                for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.peak_rss_kb[i] = max(self.peak_rss_kb[i], int(line.split()[1]))
            except OSError:
                pass

    def log_tail(self) -> str:
        out = []
        for f in sorted(self.logdir.glob("*.log")):
            out.append(f"--- {f.name}\n" + "\n".join(
                f.read_text(errors="replace").splitlines()[-15:]))
        return "\n".join(out)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        shutil.rmtree(self.logdir, ignore_errors=True)
