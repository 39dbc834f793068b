"""A failing optional part never stops ticketing: the hall's and the metrics' ports taken,
the status socket's path taken, a part that cannot start, a folder the inbox cannot use,
an unplugged board bus. Each raises an alarm and is tried again; tickets go on.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

from edge.system.doctor.listening import check_tcp_port, is_kezek_run
from edge.system.status import request_status

from .test_service import wait_status

ROOT = Path(__file__).resolve().parents[2]
BLOCKER = ("import socket, sys\n"
           "held = []\n"
           "for port in sys.argv[1:]:\n"
           "    s = socket.socket(); s.bind(('127.0.0.1', int(port))); s.listen(1); held.append(s)\n"
           "print('holding', flush=True)\n"
           "sys.stdin.read()\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hold_ports(*ports: int) -> subprocess.Popen[str]:
    """Another program on the ports (its own process, so that doctor can name it)."""
    proc = subprocess.Popen([sys.executable, "-c", BLOCKER, *map(str, ports)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


def wait_until(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def doctor_rows(kezek: list[str], config: Path, state: Path) -> dict[str, dict[str, Any]]:
    run = subprocess.run(kezek + ["doctor", "--config", str(config), "--state-dir", str(state),
                                  "--json"], capture_output=True, text=True, timeout=120,
                         cwd=ROOT)
    return {r["name"]: r for r in json.loads(run.stdout)}


def test_ports_taken_by_another_program_are_alarms_and_tickets_go_on(
        start_service, make_config, short_dir: Path, kezek: list[str]) -> None:
    """Risk: a TV's port (or the metrics port) held by another program made `kezek run`
    exit (78: not restarted by the unit): the center issued no tickets for a screen."""
    hall, metrics = free_port(), free_port()
    sock = short_dir / "run" / "status.sock"
    blocker = hold_ports(hall, metrics)
    try:
        svc = start_service(make_config(
            f'[system]\nstatus_socket = "{sock}"\nmetrics_port = {metrics}\n',
            f'[hall]\nenabled = true\nbind = "127.0.0.1"\nport = {hall}\n',
            "[console]\nenabled = true\n"))
        status = wait_status(sock, lambda s: {"device:hall", "device:metrics"}
                             <= set(s["queue"]["alarms"]), timeout=60)
        alarms = status["queue"]["alarms"]
        assert f"hall.port: cannot listen on 127.0.0.1:{hall}: Address already in use" in \
            alarms["device:hall"]["message"]
        assert ("metrics: system.metrics_port: cannot listen on 127.0.0.1:" f"{metrics}: Address "
                "already in use; stop the program that holds it or choose a free port in "
                "system.metrics_port (see `ss -ltnp`)") == alarms["device:metrics"]["message"]
        assert svc.send("ticket docs").startswith("TICKET A-001")    # ticketing goes on
        # doctor names the program that holds them.
        rows = doctor_rows(kezek, svc.config, svc.state_dir)
        for key, port in (("hall.port", hall), ("system.metrics_port", metrics)):
            row = rows[f"port {key}"]
            assert not row["ok"] and f"127.0.0.1:{port}: in use by {blocker.pid} (" in \
                row["detail"], row
            assert f"choose a free port in {key}" in row["hint"]
    finally:
        blocker.kill()
        blocker.wait(10)
        for pipe in (blocker.stdin, blocker.stdout):
            if pipe is not None:
                pipe.close()
    # Free again: both come up by themselves, the alarms clear.
    wait_status(sock, lambda s: not {"device:hall", "device:metrics"}
                & set(s["queue"]["alarms"]), timeout=90)
    body = urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=10).read()
    assert b"kezek_waiting_tickets" in body
    assert urllib.request.urlopen(f"http://127.0.0.1:{hall}/healthz", timeout=10).status == 200
    rows = doctor_rows(kezek, svc.config, svc.state_dir)
    assert rows[f"port hall.port"]["ok"] and "in use by the running kezek" in \
        rows["port hall.port"]["detail"]
    assert svc.send("ticket docs").startswith("TICKET A-002")
    assert svc.proc.poll() is None


def test_a_status_socket_path_taken_is_an_alarm_and_comes_back(
        start_service, make_config, short_dir: Path) -> None:
    """Risk: a file left at the status socket's path (a backup copied there, a typo in
    the key naming a log file) stopped the service at start."""
    sock = short_dir / "status.sock"
    sock.write_text("a file, not a socket")
    svc = start_service(make_config(f'[system]\nstatus_socket = "{sock}"\n',
                                    "[console]\nenabled = true\n"))
    assert svc.send("ticket docs").startswith("TICKET A-001")

    def status_lines() -> list[str]:
        assert svc.proc.stdin and svc.proc.stdout
        svc.proc.stdin.write("status\n")
        svc.proc.stdin.flush()
        lines = []
        while (line := svc.proc.stdout.readline().strip()) != "END":
            lines.append(line)
        return lines

    alarm = wait_until(lambda: [x for x in status_lines() if "ALARM device:status" in x],
                       "the status socket's alarm")
    assert alarm == [f"ALARM device:status: status: system.status_socket: cannot listen on {sock}: "
                     f"another file is there, not a socket; remove {sock} or choose another "
                     "system.status_socket"]
    assert sock.read_text() == "a file, not a socket"          # never deleted by the service
    sock.unlink()
    status = wait_status(sock, lambda s: "device:status" not in s["queue"]["alarms"],
                         timeout=90)
    assert status["queue"]["waiting_total"] == 1
    assert svc.proc.poll() is None


def test_doctor_tells_a_free_port_from_one_the_running_kezek_holds() -> None:
    port = free_port()
    assert check_tcp_port("hall.port", "127.0.0.1", port).detail == f"127.0.0.1:{port}: free"
    assert is_kezek_run("/usr/bin/python3\0/usr/local/bin/kezek\0run\0--config\0/etc/k.toml")
    assert is_kezek_run("python\0-c\0import sys; from edge.cli import main; sys.exit(main())"
                        "\0run\0--config\0k.toml")
    assert not is_kezek_run("/home/kezek/.venv/bin/python\0-m\0http.server\08080")
    assert not is_kezek_run("/usr/local/bin/kezek\0doctor\0--config\0k.toml")


class Flaky:
    """A part that cannot start the first `fails` times (a driver bug, a device not there)."""

    name = "flaky"

    def __init__(self, log: list[str], fails: int) -> None:
        self.log, self.fails = log, fails

    def start(self) -> None:
        self.log.append("start")
        if self.log.count("start") <= self.fails:
            raise RuntimeError("the widget is not there")

    def stop(self, timeout: float = 5.0) -> None:
        self.log.append("stop")

    def health(self) -> dict[str, Any]:
        return {"ok": True}


def test_a_part_that_cannot_start_is_an_alarm_and_started_again(harness) -> None:
    """Risk: an unexpected error in an optional part's start ended `kezek run`."""
    from edge.optional import OptionalPart
    from edge.queue.commands import IssueTicket

    log: list[str] = []
    registered: dict[str, Any] = {}
    part = OptionalPart("widget", lambda: [Flaky(log, fails=2)], harness.controller,
                        lambda c: registered.__setitem__(c.name, c), retry_s=(0.05, 0.1))
    part.start()                                   # never raises
    try:
        alarm = wait_until(lambda: harness.engine.state.alarms.get("device:part:widget"),
                           "the part's alarm")
        assert alarm["message"] == ("part:widget: widget could not start: RuntimeError: the "
                                    "widget is not there; the queue runs without it and tries "
                                    "again (see the log)")
        assert alarm["severity"] == "warning"
        assert harness.call(IssueTicket("docs")).reply.ticket is not None
        wait_until(lambda: "device:part:widget" not in harness.engine.state.alarms,
                   "the alarm to clear once it starts")
        assert log == ["start", "stop", "start", "stop", "start"] and "flaky" in registered
        assert part.health()["ok"] and part.attempts == 3
    finally:
        part.stop(2.0)
    assert log[-1] == "stop"


def test_a_build_that_fails_at_wiring_is_retried_too(harness) -> None:
    from edge.optional import OptionalPart

    builds: list[int] = []

    def build() -> list[Any]:
        builds.append(1)
        if len(builds) < 2:
            raise OSError("clips folder on a USB stick not mounted yet")
        return [Flaky([], fails=0)]

    try:
        first = build()
    except OSError as e:
        error: BaseException | None = e
        first = None
    part = OptionalPart("voice", build, harness.controller, lambda c: None, built=first,
                        error=error, retry_s=(0.05, 0.1))
    part.start()
    try:
        wait_until(lambda: part.health()["ok"], "the second build to start")
        assert len(builds) == 2 and part.health()["parts"] == ["flaky"]
    finally:
        part.stop(2.0)


def test_an_inbox_folder_it_cannot_use_is_an_alarm_until_fixed(harness, tmp_path: Path) -> None:
    """Risk: a booking file the inbox could not move aside (the folder broken) failed
    silently every 3 s, and nobody knew booked visitors were missing."""
    from edge.queue.inbox import BookingsInbox

    folder = tmp_path / "bookings-inbox"
    folder.mkdir()
    (folder / "broken.json").write_text("{", encoding="utf-8")
    (folder / "rejected").write_text("a file where the rejected/ folder goes")
    inbox = BookingsInbox(harness.controller, folder, interval_s=0.05)
    inbox.start()
    try:
        alarm = wait_until(lambda: harness.engine.state.alarms.get("device:bookings-inbox"),
                           "the inbox's alarm")
        assert f"bookings inbox {folder}: FileExistsError" in alarm["message"]
        assert not inbox.health()["ok"]
        (folder / "rejected").unlink()
        wait_until(lambda: "device:bookings-inbox" not in harness.engine.state.alarms,
                   "the alarm to clear")
        assert (folder / "rejected" / "broken.json").exists()
    finally:
        inbox.stop(2.0)


def test_an_unplugged_board_bus_is_an_alarm_not_a_stop(harness) -> None:
    """Risk: a hall board's USB adapter unplugged at boot (required = true, the default)
    stopped the service: no tickets for want of an LED board."""
    from edge.config.boards import BoardsConfig
    from edge.drivers.boards.service import BoardsService

    port = "/dev/ttyKEZEK-not-there"
    cfg = BoardsConfig.model_validate({"buses": {"hall": {
        "type": "serial", "port": port, "reconnect_s": 0.5,
        "boards": [{"address": 1, "kind": "hall", "rows": 2}]}}})
    boards = BoardsService(cfg, harness.controller)
    boards.start()
    try:
        alarm = wait_until(lambda: harness.engine.state.alarms.get("device:boards:hall"),
                           "the bus's alarm")
        assert f"serial port {port} (boards.buses.hall.port): not found" in alarm["message"]
        assert not boards.health()["ok"]
    finally:
        boards.stop(2.0)


def test_doctor_checks_the_operator_panels_port_too(demo_config) -> None:
    """Risk: a panel port held by another program found only when operators cannot sign in."""
    from edge.system.doctor.listening import listening_parts
    panel = demo_config.panel.model_copy(update={"enabled": True, "port": 8090})
    config = demo_config.model_copy(update={"panel": panel})
    assert ("panel.port", str(panel.bind), 8090) in list(listening_parts(config))
