"""`kezek doctor` against fake and missing devices: pty printers, held ports, a real broker."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
import tty
from pathlib import Path
from typing import Iterator

import pytest
from gpiozero import DigitalOutputDevice
from gpiozero.pins.mock import MockFactory

from edge.config import AppConfig, parse_config
from edge.system.doctor import DoctorDeps, render_table, run_checks
from edge.system.doctor.announce import check_announce
from edge.system.doctor.devices import check_gpio, check_printers, check_serial_port
from edge.system.doctor.machine import check_database, check_service_user
from edge.system.doctor.network import check_broker


def load(text: str) -> AppConfig:
    return parse_config(tomllib.loads(text), "<test>")


class PtyPrinter:
    """The far end of a serial printer: answers DLE EOT n with the status bytes it is given."""

    def __init__(self, paper: int = 0x12) -> None:
        self.master, slave = os.openpty()
        tty.setraw(self.master)
        self.port = os.ttyname(slave)
        self._slave = slave
        self.paper = paper
        self.received = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="pty-printer", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import select
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            self.received += data
            while b"\x10\x04" in self.received:
                i = self.received.index(b"\x10\x04")
                if len(self.received) < i + 3:
                    break
                n = self.received[i + 2]
                del self.received[: i + 3]
                reply = {1: 0x16, 2: 0x12, 4: self.paper}.get(n, 0x12)
                os.write(self.master, bytes([reply]))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        os.close(self.master)
        os.close(self._slave)


@pytest.fixture
def pty_printer() -> Iterator[PtyPrinter]:
    p = PtyPrinter()
    yield p
    p.close()


def printer_section(port: str) -> str:
    return f"""
[printers.kiosk]
type = "serial"
port = "{port}"
rtscts = false
read_timeout_s = 0.3
"""


def test_printer_on_a_pty_answers_status(make_config, pty_printer: PtyPrinter, tmp_path: Path) -> None:
    config = load(make_config(printer_section(pty_printer.port)))
    rows = check_printers(config, tmp_path)
    kiosk = [r for r in rows if r.name == "printer kiosk"]
    assert kiosk and kiosk[0].ok, render_table(rows)
    assert "ready, status polled" in kiosk[0].detail


def test_printer_out_of_paper_fails_with_the_fix(make_config, pty_printer: PtyPrinter,
                                                 tmp_path: Path) -> None:
    pty_printer.paper = 0x72  # paper end sensor
    config = load(make_config(printer_section(pty_printer.port)))
    [row] = [r for r in check_printers(config, tmp_path) if r.name == "printer kiosk"]
    assert not row.ok and "out of paper" in row.detail and "load a new roll" in row.hint


def test_missing_printer_and_missing_serial_input(make_config, tmp_path: Path) -> None:
    config = load(make_config(printer_section("/dev/ttyKEZEK9"), """
[[gpio.serial_inputs]]
type = "scanner"
port = "/dev/ttyKEZEK8"
"""))
    [row] = [r for r in check_printers(config, tmp_path) if r.name == "printer kiosk"]
    assert not row.ok and "/dev/ttyKEZEK9" in row.detail and "dialout" in row.hint
    port = check_serial_port("gpio.serial_inputs.0 (scanner)", "/dev/ttyKEZEK8")
    assert not port.ok and "no such device" in port.detail and "/dev/serial/by-id" in port.hint


def test_serial_port_free_then_held_by_another_process() -> None:
    master, slave = os.openpty()
    port = os.ttyname(slave)
    try:
        assert check_serial_port("boards.buses.hall", port).ok
        holder = subprocess.Popen([sys.executable, "-c",
                                   f"f = open({port!r}, 'rb', buffering=0); print('open', flush=True); "
                                   "import time; time.sleep(60)"], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout and holder.stdout.readline().strip() == "open"
            row = check_serial_port("boards.buses.hall", port)
        finally:
            holder.kill()
            holder.wait(5)
            if holder.stdout:
                holder.stdout.close()
        assert not row.ok and f"{holder.pid} (python" in row.detail and "systemctl stop kezek" in row.hint
    finally:
        os.close(master)
        os.close(slave)


def test_gpio_pin_free_and_pin_in_use(make_config) -> None:
    config = load(make_config("""
[[gpio.buttons]]
kind = "ticket"
pin = 17
service = "docs"

[[gpio.leds]]
pin = 27
role = "ready"
"""))
    factory = MockFactory()
    try:
        other = DigitalOutputDevice(27, pin_factory=factory)  # someone else drives GPIO 27
        rows = {r.name: r for r in check_gpio(config, factory)}
        assert rows["gpio 17 (gpio.buttons.0)"].ok
        busy = rows["gpio 27 (gpio.leds.0)"]
        assert not busy.ok and "GPIO 27" in busy.detail and "group gpio" in busy.hint
        other.close()
        assert all(r.ok for r in check_gpio(config, factory))  # released after the probe
    finally:
        factory.close()


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sync_section(port: int) -> str:
    return f"""
[sync]
enabled = true
host = "127.0.0.1"
port = {port}
tls = false
connect_timeout_s = 2
"""


def test_broker_on_a_closed_port(make_config) -> None:
    [row] = check_broker(load(make_config(sync_section(free_port()))))
    assert not row.ok and "cannot connect" in row.detail and "offline" in row.hint


@pytest.fixture
def mosquitto(tmp_path: Path):
    """start(anonymous, extra config) -> port of a fresh Mosquitto; its log is m<port>.log."""
    def start(anonymous: bool, extra: str = "") -> int:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        assert os.path.exists(exe), "mosquitto is missing: apt-get install mosquitto"
        port = free_port()
        conf = tmp_path / f"m{port}.conf"
        # `user root`: started as root, Mosquitto would otherwise drop to its own user,
        # which cannot read pytest's private folder (password file, certificates). As
        # another user the line is ignored.
        conf.write_text(f"user root\nlistener {port} 127.0.0.1\n"
                        f"allow_anonymous {str(anonymous).lower()}\npersistence false\n{extra}")
        with open(tmp_path / f"m{port}.log", "wb") as log:
            proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return port
            except OSError:
                assert proc.poll() is None, (tmp_path / f"m{port}.log").read_text()
                assert time.monotonic() < deadline, "mosquitto did not start"
                time.sleep(0.05)
    procs: list[subprocess.Popen] = []
    yield start
    for p in procs:
        p.terminate()
        p.wait(5)


def test_broker_accepts_or_refuses_the_login(make_config, mosquitto) -> None:
    [ok] = check_broker(load(make_config(sync_section(mosquitto(True)))))
    assert ok.ok and "login accepted" in ok.detail
    [refused] = check_broker(load(make_config(sync_section(mosquitto(False)))))
    assert not refused.ok and "not authorized" in refused.detail and "secrets.env" in refused.hint


def test_broker_login_without_a_password_here_says_where_the_service_gets_it(
        make_config, mosquitto) -> None:
    """`sudo -u kezek kezek doctor` cannot read secrets.env (root's alone): a refused login
    then says that this doctor had no password, not that the password is wrong."""
    section = sync_section(mosquitto(False)) + 'username = "edge-1"\npassword_env = "KEZEK_DOCTOR_TEST_NO_SUCH_VAR"\n'
    [refused] = check_broker(load(make_config(section)))
    assert not refused.ok and "KEZEK_DOCTOR_TEST_NO_SUCH_VAR is not set here" in refused.detail
    assert "only root" in refused.hint and "secrets.env" in refused.hint


def test_broker_probe_is_the_services_own_mqtt_5_client(make_config, mosquitto,
                                                         tmp_path: Path) -> None:
    """Risk: the probe hand-built an MQTT 3.1.1 CONNECT, so a broker that takes 3.1.1 but
    not the service's MQTT 5 client (or its TLS settings) passed the doctor."""
    port = mosquitto(True)
    [ok] = check_broker(load(make_config(sync_section(port))))
    assert ok.ok and "MQTT 5, login accepted" in ok.detail
    # Mosquitto logs each client's protocol: p5 is MQTT 5 (p4 was the old probe's 3.1.1).
    log = tmp_path / f"m{port}.log"
    deadline = time.monotonic() + 30
    while "as test-01-edge-1-doctor (" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    assert "as test-01-edge-1-doctor (p5," in log.read_text()


def test_broker_refuses_a_wrong_password_and_takes_the_right_one(
        make_config, mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("mosquitto_passwd") is None:
        pytest.fail("install mosquitto (it provides mosquitto_passwd)")
    passwd = tmp_path / "passwd"
    passwd.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), "edge-1", "right"], check=True)
    port = mosquitto(False, f"password_file {passwd}\n")
    section = sync_section(port) + 'username = "edge-1"\n'
    monkeypatch.setenv("KEZEK_MQTT_PASSWORD", "wrong")
    [refused] = check_broker(load(make_config(section)))
    assert not refused.ok
    assert "broker refused the login: not authorized" in refused.detail
    assert "secrets.env" in refused.hint
    monkeypatch.setenv("KEZEK_MQTT_PASSWORD", "right")
    [ok] = check_broker(load(make_config(section)))
    assert ok.ok and "no TLS, MQTT 5, login accepted" in ok.detail


def test_broker_port_that_is_not_mqtt(make_config) -> None:
    """A wrong sync.port that answers (a web server): no MQTT answer, not a hang."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]

    def answer() -> None:
        try:
            conn, _ = server.accept()
            conn.recv(1024)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            conn.close()
        except OSError:
            pass
    thread = threading.Thread(target=answer, name="test-not-mqtt", daemon=True)
    thread.start()
    try:
        [row] = check_broker(load(make_config(sync_section(port))), timeout=5.0)
    finally:
        server.close()
        thread.join(5)
    assert not row.ok and "no MQTT answer" in row.detail and "sync.port" in row.hint


def test_broker_over_tls_with_the_services_certificates(make_config, mosquitto,
                                                        tmp_path: Path) -> None:
    """The TLS settings are the service's: its CA, its client certificate (required by the
    broker); another CA fails with the fix named."""
    from tests.sync.test_tls import make_pki

    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki)
    port = mosquitto(True, f"cafile {pki / 'ca.pem'}\ncertfile {pki / 'server.pem'}\n"
                           f"keyfile {pki / 'server.key'}\nrequire_certificate true\n")
    tls = (f'[sync]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\ntls = true\n'
           f'connect_timeout_s = 5\nca_file = "{pki / "ca.pem"}"\n')
    client = f'cert_file = "{pki / "edge.pem"}"\nkey_file = "{pki / "edge.key"}"\n'
    [ok] = check_broker(load(make_config(tls + client)))
    assert ok.ok and "TLS, MQTT 5, login accepted" in ok.detail, ok
    other = tmp_path / "other"
    other.mkdir()
    make_pki(other)
    wrong_ca = tls.replace(str(pki / "ca.pem"), str(other / "ca.pem"))
    [untrusted] = check_broker(load(make_config(wrong_ca + client)))
    assert not untrusted.ok and "broker certificate not trusted" in untrusted.detail
    assert "sync.ca_file" in untrusted.hint
    [plain] = check_broker(load(make_config(sync_section(port))), timeout=5.0)
    assert not plain.ok and "sync.port" in plain.hint


def test_database_checks(harness, tmp_path: Path) -> None:
    from edge.queue.commands import IssueTicket
    harness.call(IssueTicket("docs"))
    good = check_database(harness.db_path)
    assert good.ok and "integrity ok" in good.detail
    assert check_database(tmp_path / "none.db").ok  # not created yet is fine

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 512)
    bad = check_database(garbage)
    assert not bad.ok and "backups" in bad.hint

    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version=999")
    conn.close()
    row = check_database(newer)
    assert not row.ok and "newer than this kezek" in row.detail


def test_run_checks_with_an_unsynced_clock(make_config, tmp_path: Path) -> None:
    config = load(make_config())
    rows = run_checks(config, tmp_path, tmp_path / "kezek.db",
                      DoctorDeps(clock_synced=lambda: False, service_user="no-such-user-kezek"))
    names = {r.name: r for r in rows}
    assert not names["clock"].ok and "timedatectl" in names["clock"].hint
    assert names["disk"].ok and names["database"].ok
    table = render_table(rows)
    assert "FAIL" in table and "fix: check the network" in table and "1 of" in table


def test_cli_exit_code(make_config, kezek: list[str], tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(make_config(), encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(make_config(printer_section("/dev/ttyKEZEK9")), encoding="utf-8")
    env = {**os.environ, "KEZEK_CLOCK_SYNCED": "1"}

    def doctor(cfg: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(kezek + ["doctor", "--config", str(cfg), "--state-dir", str(tmp_path / "s")],
                              capture_output=True, text=True, timeout=120, env=env,
                              cwd=Path(__file__).resolve().parents[2])

    ok = doctor(good)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "all checks passed" in ok.stdout
    failed = doctor(bad)
    assert failed.returncode == 1
    assert "printer kiosk" in failed.stdout and "FAIL" in failed.stdout and "fix:" in failed.stdout
    broken = tmp_path / "broken.toml"
    broken.write_text(make_config("[system]\nmetrics_bind = \"0.0.0.0\"\n"), encoding="utf-8")
    invalid = doctor(broken)
    assert invalid.returncode == 1 and "system.metrics_bind" in invalid.stdout


def test_simulated_devices_fail_with_the_fix(make_config, kezek: list[str], tmp_path: Path) -> None:
    """Risk: a config copied from demo.toml (mock GPIO, a file printer, fake boards) passed
    doctor as healthy although nothing in the hall would work."""
    cfg = tmp_path / "demo-like.toml"
    cfg.write_text(make_config("""
[gpio]
pin_factory = "mock"
[[gpio.buttons]]
kind = "ticket"
pin = 17
service = "docs"

[printers.kiosk]
type = "file"
path = "tickets.bin"

[printers.lp0]
type = "file"
path = "/dev/usb/lp0"

[printers.mem]
type = "fake"

[boards.buses.hall]
type = "fake"
[[boards.buses.hall.boards]]
address = 1
kind = "hall"
"""), encoding="utf-8")
    run = subprocess.run(kezek + ["doctor", "--config", str(cfg), "--state-dir", str(tmp_path / "s"),
                                  "--json"],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "KEZEK_CLOCK_SYNCED": "1"},
                         cwd=Path(__file__).resolve().parents[2])
    assert run.returncode == 1, run.stdout + run.stderr
    import json
    rows = {r["name"]: r for r in json.loads(run.stdout)}
    assert rows["config"]["ok"], rows["config"]
    gpio = rows["simulated gpio"]
    assert not gpio["ok"] and "gpio.pin_factory = 'lgpio'" in gpio["hint"]
    assert "gpio 17 (gpio.buttons.0)" not in rows  # a mock pin is always "available"
    kiosk = rows["simulated printers.kiosk"]
    assert not kiosk["ok"] and "not printed on paper" in kiosk["detail"]
    assert "/dev/usb/lp0" in kiosk["hint"]
    assert not rows["simulated printers.mem"]["ok"]
    assert "printer kiosk" not in rows and "printer mem" not in rows  # no "ready" for them
    assert "simulated printers.lp0" not in rows  # a file printer on a device is real
    bus = rows["simulated boards.buses.hall"]
    assert not bus["ok"] and "boards.buses.hall.type = 'serial'" in bus["hint"]


def test_announcements_clips_and_sound_output(make_config, kezek: list[str], tmp_path: Path) -> None:
    """Risk: doctor said nothing about announcements: a missing clip folder or no aplay
    was only found when the service failed to start or the hall stayed silent."""
    clips = tmp_path / "clips"
    config = load(make_config(f"""
[announce]
enabled = true
folders = {{ kk = "{clips}/kk", ru = "{clips}/ru" }}
chime = "{clips}/chime.wav"
"""))
    bin_dir, snd = tmp_path / "bin", tmp_path / "snd"
    bin_dir.mkdir()
    snd.mkdir()
    rows = {r.name: r for r in check_announce(config, snd, str(bin_dir))}
    assert not rows["announce clips"].ok
    assert f"announce.folders.kk: folder {clips}/kk does not exist" in rows["announce clips"].detail
    assert "kezek clips --out" in rows["announce clips"].hint
    assert not rows["announce output"].ok and "aplay not found" in rows["announce output"].detail
    assert rows["announce output"].hint == "sudo apt install alsa-utils"

    made = subprocess.run(kezek + ["clips", "--out", str(clips)], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parents[2])
    if made.returncode != 0 and "espeak" in made.stderr:
        pytest.skip(f"cannot make clips here: {made.stderr}")
    assert made.returncode == 0, made.stderr
    aplay = bin_dir / "aplay"
    aplay.write_text("#!/bin/sh\nexit 0\n")
    aplay.chmod(0o755)
    rows = {r.name: r for r in check_announce(config, snd, str(bin_dir))}
    assert rows["announce clips"].ok, rows["announce clips"]
    out = rows["announce output"]
    assert not out.ok and f"no playback device in {snd}" in out.detail and "aplay -l" in out.hint
    (snd / "pcmC0D0p").touch()
    rows = {r.name: r for r in check_announce(config, snd, str(bin_dir))}
    assert rows["announce output"].ok, rows["announce output"]


def test_service_user_needs_group_audio() -> None:
    """ALSA's devices belong to group audio: without it the speaker cannot be opened."""
    import grp
    members = {g.gr_name: g.gr_mem for g in grp.getgrall()}
    if "root" in members.get("audio", []):
        pytest.skip("root is in group audio on this machine")
    row = check_service_user("root")
    assert row is not None and not row.ok
    assert "audio" in row.detail and "usermod -aG" in row.hint and "audio" in row.hint
