"""A real `kezek run` process: READY/WATCHDOG/STOPPING, status socket, SIGHUP, SIGTERM while printing."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import sqlite3
import subprocess
import threading
import time
import tty
from pathlib import Path

from edge.system.status import request_status

ROOT = Path(__file__).resolve().parents[2]
IIN_LIKE = re.compile(r"(?<!\d)\d{12}(?!\d)")


def system_section(run_dir: Path) -> str:
    return f'\n[system]\nstatus_socket = "{run_dir}/status.sock"\n'


def wait_status(sock: Path, check, timeout: float = 60.0) -> dict:
    """Poll the status socket until `check(status)` holds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = request_status(sock, timeout=5)
            if check(last):
                return last  # type: ignore[return-value]
        except OSError as e:
            last = e
        time.sleep(0.05)
    raise AssertionError(f"status never matched; last: {last}")


def test_ready_watchdog_status_and_clean_stop(start_service, notify, make_config, short_dir: Path,
                                              kezek: list[str]) -> None:
    sock = short_dir / "run" / "status.sock"
    svc = start_service(
        make_config(system_section(short_dir / "run"), "[console]\nenabled = true\nprinter = \"kiosk\"\n",
                    '[printers.kiosk]\ntype = "fake"\n'),
        {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"})
    notify.wait_for("READY=1")
    # The status socket is up once READY is sent: systemd may start `kezek status` users.
    assert (sock.stat().st_mode & 0o777) == 0o660
    assert svc.send("ticket docs").startswith("TICKET A-")
    status = wait_status(sock, lambda s: s["queue"]["waiting_total"] == 1)
    assert [w["number"] for w in status["queue"]["windows"]] == [1, 2]
    assert status["health"]["devices"]["printer:kiosk"]["ok"] is True

    cli = subprocess.run(kezek + ["status", "--socket", str(sock), "--json"], capture_output=True,
                         text=True, timeout=60, cwd=ROOT)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["service"]["site"] == "test-01"
    text = subprocess.run(kezek + ["status", "--socket", str(sock)], capture_output=True,
                          text=True, timeout=60, cwd=ROOT).stdout
    assert "1 waiting" in text and "printer:kiosk" in text

    # WATCHDOG_USEC = 1 s: pings every half second from the controller loop.
    notify.wait_for("WATCHDOG=1")
    svc.proc.send_signal(signal.SIGTERM)
    assert svc.stop() == 0
    notify.wait_for("STOPPING=1", timeout=5)
    assert not sock.exists()
    log = svc.log()
    assert "SIGTERM: stopping" in log and "kezek stopped" in log


def test_sighup_reloads_and_an_invalid_file_changes_nothing(start_service, make_config,
                                                            short_dir: Path) -> None:
    sock = short_dir / "run" / "status.sock"
    system = system_section(short_dir / "run")
    svc = start_service(make_config(system))
    wait_status(sock, lambda s: len(s["queue"]["windows"]) == 2)

    third = '\n[[windows]]\nnumber = 3\nservices = { realty = 1 }\n'
    svc.config.write_text(make_config(third, system), encoding="utf-8")
    svc.proc.send_signal(signal.SIGHUP)
    svc.wait_log("SIGHUP: reloaded services, windows and policies")
    wait_status(sock, lambda s: [w["number"] for w in s["queue"]["windows"]] == [1, 2, 3])

    # A broken file (with an IIN pasted into it by mistake): refused, logged, nothing changes.
    broken = '\n[[windows]]\nnumber = 900101300123\nservices = { realty = 1 }\n'
    svc.config.write_text(make_config(broken, system), encoding="utf-8")
    svc.proc.send_signal(signal.SIGHUP)
    log = svc.wait_log("is invalid, keeping the running config")
    assert "windows.2.number" in log
    status = request_status(sock)
    assert [w["number"] for w in status["queue"]["windows"]] == [1, 2, 3]

    # A hardware section changed: applied after a restart, and the log says so.
    svc.config.write_text(make_config(third, system, '[printers.kiosk]\ntype = "fake"\n'), encoding="utf-8")
    svc.proc.send_signal(signal.SIGHUP)
    svc.wait_log("[printers] changed; those sections apply after a restart")
    assert svc.stop() == 0
    assert IIN_LIKE.search(svc.log()) is None  # the pasted IIN never reached a log line


RENAMED = """
[center]
site = "test-01"
device = "edge-1"
name = {{ kk = "Орталық", ru = "Центр" }}

[[services]]
id = "docs"
names = {{ kk = "Құжаттар", ru = "Документы", en = "{name}" }}
prefix = "A"

[[windows]]
number = 1
services = {{ docs = 1 }}

[console]
enabled = true
printer = "kiosk"

[printers.kiosk]
type = "file"
path = "tickets.escpos"
mode = "text"
languages = ["en"]
"""


def test_sighup_with_a_renamed_service_prints_the_new_name(start_service, short_dir: Path) -> None:
    """Risk: a component keeps the configuration the process started with: SIGHUP renames
    the service in the engine, and the next ticket still shows the old name."""
    svc = start_service(RENAMED.format(name="Identity documents"))
    paper = short_dir / "state" / "tickets.escpos"
    assert svc.send("ticket docs").startswith("TICKET A-001")
    deadline = time.monotonic() + 20
    while b"Identity documents" not in (paper.read_bytes() if paper.exists() else b""):
        assert time.monotonic() < deadline, "the first ticket never reached the paper"
        time.sleep(0.05)
    first = len(paper.read_bytes())

    svc.config.write_text(RENAMED.format(name="Passports and IDs"), encoding="utf-8")
    svc.proc.send_signal(signal.SIGHUP)
    svc.wait_log("SIGHUP: reloaded services, windows and policies")
    assert svc.send("ticket docs").startswith("TICKET A-002")
    deadline = time.monotonic() + 20
    while b"Passports and IDs" not in paper.read_bytes()[first:]:
        assert time.monotonic() < deadline, "the second ticket never showed the new name"
        time.sleep(0.05)
    assert b"Identity documents" not in paper.read_bytes()[first:]
    svc.proc.send_signal(signal.SIGTERM)
    assert svc.stop() == 0


class PtyPrinterEnd:
    """The printer's side of a pty: can pause the line with XOFF and collects the bytes."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        self.port = os.ttyname(self.slave)
        self.received = bytearray()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, name="pty-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.received += os.read(self.master, 65536)
                except OSError:
                    return

    def xoff(self) -> None:
        os.write(self.master, b"\x13")

    def xon(self) -> None:
        os.write(self.master, b"\x11")

    def close(self) -> None:
        self._stop.set()
        self._reader.join(2)
        os.close(self.master)
        os.close(self.slave)


def test_sigterm_while_printing_finishes_the_ticket(start_service, make_config, short_dir: Path) -> None:
    printer = PtyPrinterEnd()
    try:
        sock = short_dir / "run" / "status.sock"
        svc = start_service(make_config(
            system_section(short_dir / "run"), "[console]\nenabled = true\nprinter = \"kiosk\"\n",
            f'[printers.kiosk]\ntype = "serial"\nport = "{printer.port}"\nmode = "text"\n'
            'status = "none"\nrtscts = false\nxonxoff = true\nwrite_timeout_s = 60\n'))
        wait_status(sock, lambda s: s["health"]["devices"]["printer:kiosk"]["ok"] is True)
        printer.xoff()  # the printer is busy: the ticket's bytes cannot leave yet
        assert svc.send("ticket docs").startswith("TICKET A-")
        wait_status(sock, lambda s: s["health"]["devices"]["printer:kiosk"]["pending"] == 1)
        time.sleep(0.3)  # let the worker enter its blocked write
        assert b"\x1dV" not in printer.received

        svc.proc.send_signal(signal.SIGTERM)
        svc.wait_log("SIGTERM: stopping")
        assert svc.proc.poll() is None  # still running: the ticket is not out yet
        printer.xon()
        assert svc.stop(timeout=30) == 0
        assert b"\x1dV" in printer.received  # the whole ticket, cut included

        db = sqlite3.connect(svc.state_dir / "kezek.db")
        try:
            [(state,)] = db.execute("SELECT print_state FROM tickets").fetchall()
            types = [t for (t,) in db.execute("SELECT type FROM outbox ORDER BY seq")]
        finally:
            db.close()
        assert state == "printed"  # persisted before the process ended
        assert "ticket.printed" in types
    finally:
        printer.close()


def test_config_problems_found_at_start_exit_78(start_service, make_config, short_dir: Path) -> None:
    """Risk: a missing IIN secret exits 1, and systemd (Restart=on-failure) restarts it
    every 3 s forever; 78 is RestartPreventExitStatus in the unit."""
    svc = start_service(make_config(f'[bookings]\niin_secret_file = "{short_dir}/no-secret"\n'))
    assert svc.proc.wait(60) == 78
    assert f"cannot read the IIN secret {short_dir}/no-secret" in svc.log()


def test_missing_announcement_clips_do_not_stop_the_service(start_service, make_config,
                                                          short_dir: Path) -> None:
    """Risk: a clip folder lost on the card stopped `kezek run` (exit 78): no tickets all
    day after a reboot for want of sound files. The queue runs; the alarm names the folder."""
    sock = short_dir / "run" / "status.sock"
    svc = start_service(make_config(
        system_section(short_dir / "run"),
        f'[announce]\nenabled = true\nfolders = {{ kk = "{short_dir}/clips/kk", '
        f'ru = "{short_dir}/clips/ru" }}\n[announce.output]\ntype = "fake"\n'))
    status = wait_status(sock, lambda s: "device:announce:clips" in s["queue"]["alarms"])
    message = status["queue"]["alarms"]["device:announce:clips"]["message"]
    assert f"announce.folders.kk: folder {short_dir}/clips/kk does not exist" in message
    assert svc.proc.poll() is None
    assert "the queue runs" in svc.log()


def test_console_end_of_input_keeps_the_service_running(make_config, short_dir: Path,
                                                         kezek: list[str]) -> None:
    """Risk: under systemd stdin is /dev/null; with [console] enabled (as in demo.toml)
    its end counted as `quit`, so the service stopped at once with exit 0, not restarted."""
    config = short_dir / "kezek.toml"
    config.write_text(make_config(system_section(short_dir / "run"), "[console]\nenabled = true\n"),
                      encoding="utf-8")
    sock = short_dir / "run" / "status.sock"
    with open(short_dir / "log.txt", "w+", encoding="utf-8") as log:
        proc = subprocess.Popen(kezek + ["run", "--config", str(config), "--state-dir",
                                         str(short_dir / "state")],
                                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=log)
        try:
            wait_status(sock, lambda s: len(s["queue"]["windows"]) == 2)
            deadline = time.monotonic() + 20
            while "console input ended" not in (short_dir / "log.txt").read_text():
                assert proc.poll() is None and time.monotonic() < deadline, \
                    (short_dir / "log.txt").read_text()
                time.sleep(0.05)
            time.sleep(1.0)
            assert proc.poll() is None  # still serving after its console went away
            assert request_status(sock)["service"]["site"] == "test-01"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
    assert "service keeps running (stop it with SIGTERM: systemctl stop kezek)" in \
        (short_dir / "log.txt").read_text()


def test_ctrl_d_at_a_terminal_quits(make_config, short_dir: Path, kezek: list[str]) -> None:
    """At a terminal, Ctrl-D is how a person leaves the console: it still quits."""
    config = short_dir / "kezek.toml"
    config.write_text(make_config("[console]\nenabled = true\n"), encoding="utf-8")
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(kezek + ["run", "--config", str(config), "--state-dir",
                                         str(short_dir / "state")],
                                cwd=ROOT, stdin=slave, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        os.write(master, b"ticket docs\n")
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("TICKET A-")  # the console is reading
        os.write(master, b"\x04")  # Ctrl-D on an empty line: end of input
        assert proc.wait(20) == 0
        proc.stdout.close()
        assert proc.stderr is not None and "console input ended" not in proc.stderr.read()
        proc.stderr.close()
    finally:
        os.close(master)
        os.close(slave)


def test_run_warns_once_about_simulated_devices(start_service, make_config, short_dir: Path) -> None:
    """Risk: a box runs the demo's mock GPIO and fake printer for weeks; the log said nothing."""
    svc = start_service(make_config(system_section(short_dir / "run"),
                                    '[printers.kiosk]\ntype = "fake"\n'))
    svc.wait_log("kezek ready")
    assert svc.stop() == 0
    log = svc.log()
    assert log.count("simulated device: printers.kiosk.type = 'fake'") == 1, log
    assert "tickets are not printed on paper; fix: set printers.kiosk.type to" in log


def test_under_systemd_an_unset_status_socket_is_the_runtime_directory(
        start_service, make_config, short_dir: Path, kezek: list[str]) -> None:
    """Risk: on an installed box `kezek status` answered "no status socket" until the IT
    person found and set system.status_socket; systemd gives the unit /run/kezek."""
    runtime = short_dir / "rt"
    runtime.mkdir()
    svc = start_service(make_config("[console]\nenabled = true\n"),
                        {"RUNTIME_DIRECTORY": str(runtime)})
    status = wait_status(runtime / "status.sock", lambda s: "queue" in s)
    assert status["service"]["site"] == "test-01"
    svc.proc.send_signal(signal.SIGTERM)
    assert svc.stop() == 0


def test_status_cli_reads_an_unset_socket_as_the_systemd_default(make_config, tmp_path: Path,
                                                                 kezek: list[str]) -> None:
    config = tmp_path / "center.toml"
    config.write_text(make_config(), encoding="utf-8")
    result = subprocess.run(kezek + ["status", "--config", str(config)], capture_output=True,
                            text=True, timeout=60)
    # No service runs here: the answer names the default path it asked, not "not set".
    assert result.returncode == 3 and "no status socket at /run/kezek/status.sock" in result.stderr
