"""Starting, stopping and watching the service: systemd's unit, or a process we supervise.

`kezek update` and `kezek restore --stop-service` work through this small interface, so
their logic is tested with a fake and run for real with systemctl on a box. ProcessUnit
runs the service's command itself and speaks systemd's notify protocol to it: for a
machine not booted with systemd (a chroot of an image, a container), where it plays the
part of a Type=notify unit with the same "ready" meaning.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

logger = logging.getLogger(__name__)

UNIT = "kezek.service"


@dataclass(frozen=True)
class UnitState:
    """The unit as systemd sees it. `ready` is Type=notify's: READY=1 was received."""

    active: str            # active, activating, deactivating, inactive, failed
    sub: str = ""          # running, start, auto-restart, dead, ...
    main_pid: int = 0
    restarts: int = 0      # NRestarts: starts by Restart=on-failure since the last manual start
    result: str = ""       # success, exit-code, timeout, ...

    @property
    def ready(self) -> bool:
        return self.active == "active" and self.main_pid > 0

    @property
    def failed(self) -> bool:
        return self.active == "failed" or self.sub == "auto-restart"


class UnitControl(Protocol):
    name: str

    def state(self) -> UnitState: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def reset_failed(self) -> None: ...


class UnitError(RuntimeError):
    pass


class SystemdUnit:
    """The installed unit through systemctl; no call waits for the service to start."""

    def __init__(self, name: str = UNIT, systemctl: str = "systemctl") -> None:
        self.name = name
        self._systemctl = systemctl

    def _run(self, *args: str, check: bool = True) -> str:
        got = subprocess.run([self._systemctl, *args], capture_output=True, text=True,
                             timeout=120)
        if check and got.returncode != 0:
            raise UnitError(f"systemctl {' '.join(args)}: {got.stderr.strip() or got.returncode}")
        return got.stdout

    def state(self) -> UnitState:
        out = self._run("show", self.name, "--property=ActiveState,SubState,MainPID,NRestarts,"
                                           "Result", check=False)
        props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return UnitState(props.get("ActiveState", "unknown"), props.get("SubState", ""),
                         int(props.get("MainPID") or 0), int(props.get("NRestarts") or 0),
                         props.get("Result", ""))

    def start(self) -> None:
        # --no-block: the caller watches for ready with its own deadline.
        self._run("start", "--no-block", self.name)

    def stop(self) -> None:
        self._run("stop", self.name)  # waits: the printer finishes its ticket, state is saved

    def reset_failed(self) -> None:
        self._run("reset-failed", self.name, check=False)


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie (a service started by an earlier
    ProcessUnit is not our child: nobody may reap it at once)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def booted_with_systemd() -> bool:
    return os.path.isdir("/run/systemd/system")


class ProcessUnit:
    """Runs the service's command as a process of its own session, as a Type=notify unit.

    It listens on a notify socket of its own; `ready` once the process sent READY=1. The
    pid is kept in `pidfile`, so a later ProcessUnit (another `kezek` command) can stop a
    service an earlier one started.
    """

    def __init__(self, argv: Sequence[str], pidfile: Path, *, name: str = UNIT,
                 log: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.pidfile = Path(pidfile)
        self.log = log
        self.env = env
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self._sock: socket.socket | None = None
        self._exit: int | None = None

    def _pid(self) -> int:
        if self._proc is not None:
            return self._proc.pid if self._proc.poll() is None else 0
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return 0
        return pid if _alive(pid) else 0

    def state(self) -> UnitState:
        pid = self._pid()
        if self._proc is not None and self._proc.poll() is not None:
            return UnitState("failed", "dead", 0, 0, f"exit-code {self._proc.returncode}")
        if pid and (self._proc is None or self._ready.is_set()):
            return UnitState("active", "running", pid)
        if pid:
            return UnitState("activating", "start", pid)
        return UnitState("inactive", "dead")

    def start(self) -> None:
        if self._pid():
            return
        self._ready.clear()
        tmp = Path(tempfile.mkdtemp(prefix="kezek-notify-"))
        address = str(tmp / "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(address)
        # The service runs as its own user (setpriv): it must reach the socket, as it
        # reaches systemd's.
        os.chmod(tmp, 0o755)
        os.chmod(address, 0o666)
        self._sock = sock
        env = dict(os.environ if self.env is None else self.env)
        env["NOTIFY_SOCKET"] = address
        for key in ("WATCHDOG_USEC", "WATCHDOG_PID"):
            env.pop(key, None)
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        if self.log:
            self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        try:
            self._proc = subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        finally:
            if self.log:
                out.close()  # type: ignore[union-attr]
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        self.pidfile.write_text(f"{self._proc.pid}\n")
        threading.Thread(target=self._listen, args=(sock, tmp), name="kezek-unit-notify",
                         daemon=True).start()

    def _listen(self, sock: socket.socket, tmp: Path) -> None:
        sock.settimeout(0.2)
        try:
            while self._proc is not None and self._proc.poll() is None:
                try:
                    data = sock.recv(4096)
                except socket.timeout:
                    continue
                if b"READY=1" in data.split(b"\n"):
                    self._ready.set()
        finally:
            sock.close()
            for p in tmp.iterdir():
                p.unlink()
            tmp.rmdir()

    def stop(self, timeout: float = 30.0) -> None:
        pid = self._pid()
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pid = 0
        deadline = time.monotonic() + timeout
        while pid and time.monotonic() < deadline:
            if self._proc is not None:
                if self._proc.poll() is not None:
                    break
            elif not _alive(pid):
                break
            time.sleep(0.05)
        else:
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self._proc is not None:
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._proc = None
        self.pidfile.unlink(missing_ok=True)

    def reset_failed(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None
            self.pidfile.unlink(missing_ok=True)
