"""`kezek doctor`'s probes: each configured device and dependency, with a fix per failure.

Every probe returns Check rows and never raises: an unplugged printer, a missing port or
a dead broker is a row that says what is wrong and how to fix it. Dependencies (the pin
factory, the clock check, where /proc is) are parameters so tests can pass fakes.
"""

from __future__ import annotations

import logging
import os
import pwd
import grp
import socket
import sqlite3
import ssl
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from edge.config import AppConfig
from edge.system.health import cpu_temperature_c, disk_free_mb
from edge.system.simulated import simulated_devices

logger = logging.getLogger(__name__)

SERVICE_USER = "kezek"
# audio: ALSA's /dev/snd/* belong to group audio (the speaker for announcements).
SERVICE_GROUPS = ("gpio", "dialout", "lp", "audio")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""
    hint: str = ""


# -- printers -------------------------------------------------------------------------

def check_printers(config: AppConfig, state_dir: Path) -> list[Check]:
    """Open each printer with the printing driver's own transport and ask its status."""
    if not config.printers:
        return []
    from edge.drivers.printing.check import printing_problems
    from edge.drivers.printing.transports import make_transport
    from edge.errors import DeviceError

    rows: list[Check] = []
    for problem in printing_problems(config):
        rows.append(Check("printer config", False, problem,
                          "fix the key named at the start of the line, then run doctor again"))
    simulated = {s.key.split(".")[1] for s in simulated_devices(config)
                 if s.key.startswith("printers.")}
    for name, pc in config.printers.items():
        if name in simulated:
            continue  # check_simulated reports it: "ready" would mean nothing
        label = f"printer {name}"
        transport = make_transport(name, pc, state_dir)
        try:
            transport.open()
            status = transport.status()
        except DeviceError as e:
            rows.append(Check(label, False, f"{transport.where}: {e.problem}", e.hint))
            continue
        except Exception as e:  # a driver library's own error (pyusb without libusb, ...)
            rows.append(Check(label, False, f"{transport.where}: {type(e).__name__}: {e}",
                              "check the cable and the printer's power; see docs/printing.md"))
            continue
        finally:
            transport.close()
        if not status.ok:
            rows.append(Check(label, False, f"{transport.where}: {status.detail}",
                              status.detail.split(": ", 1)[-1] if ": " in status.detail
                              else "check the printer"))
        elif status.paper_low:
            rows.append(Check(label, True, f"{transport.where}: ready, paper near end "
                                           "(put a new roll in soon)"))
        else:
            polled = "status polled" if transport.can_poll else "no status (status = \"none\")"
            rows.append(Check(label, True, f"{transport.where}: ready, {polled}"))
    return rows


# -- simulated devices ----------------------------------------------------------------

def check_simulated(config: AppConfig) -> list[Check]:
    """A fail per simulated device (mock GPIO, fake/file printers, fake boards, a sound
    output to a file): fine in `kezek demo`, but on a center's box nothing physical works."""
    return [Check(f"simulated {s.key.split(' = ')[0].rsplit('.', 1)[0]}", False,
                  f"{s.key}: {s.what}", s.fix)
            for s in simulated_devices(config)]


# -- serial ports ----------------------------------------------------------------------

def serial_ports(config: AppConfig) -> list[tuple[str, str]]:
    """(what, port) for every serial device other than printers (they are probed above)."""
    ports: list[tuple[str, str]] = []
    for i, s in enumerate(config.gpio.serial_inputs):
        ports.append((f"gpio.serial_inputs.{i} ({s.type})", s.port))
    for name, bus in config.boards.buses.items():
        port = getattr(bus, "port", None)
        if port:
            ports.append((f"boards.buses.{name}", port))
    return ports


def _holders(opened: Callable[[str], bool], proc: Path) -> list[str]:
    """'PID (command)' of other processes with an open file that `opened` accepts (the
    readlink of /proc/PID/fd/N), among those this user may see."""
    holders: list[str] = []
    for pid_dir in proc.glob("[0-9]*"):
        if pid_dir.name == str(os.getpid()):
            continue
        try:
            fds = list((pid_dir / "fd").iterdir())
        except OSError:
            continue  # gone, or another user's process and we are not root
        for fd in fds:
            try:
                if opened(os.readlink(fd)):
                    comm = (pid_dir / "comm").read_text(encoding="utf-8", errors="replace").strip()
                    holders.append(f"{pid_dir.name} ({comm})")
                    break
            except OSError:
                continue
    return holders


def port_holders(port: str, proc: Path = Path("/proc")) -> list[str]:
    """'PID (command)' of other processes that have `port` open (those we may see)."""
    try:
        target = os.path.realpath(port)
    except OSError:
        return []
    return _holders(lambda link: link == target, proc)


def tcp_listeners(port: int, proc: Path = Path("/proc")) -> list[str]:
    """'PID (command)' of the processes listening on TCP `port` (those we may see)."""
    sockets: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            # local address "0100007F:1F90", state 0A = LISTEN, the socket's inode
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                sockets.add(f"socket:[{cols[9]}]")
    return _holders(sockets.__contains__, proc) if sockets else []


def check_serial_port(what: str, port: str, proc: Path = Path("/proc")) -> Check:
    label = f"serial {what}"
    if not os.path.exists(port):
        return Check(label, False, f"{port}: no such device",
                     "plug the adapter in; list ports with `ls -l /dev/serial/by-id/` and put "
                     "that path in the config")
    holders = port_holders(port, proc)
    if holders:
        return Check(label, False, f"{port}: in use by {', '.join(holders)}",
                     "stop that program (if it is kezek itself: systemctl stop kezek, or use "
                     "`kezek status` instead)")
    import serial
    try:
        s = serial.Serial(port, timeout=0, write_timeout=0, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as e:
        hint = ("add the service user to group dialout (sudo usermod -aG dialout kezek)"
                if "ermission" in str(e) else "check the adapter and the port name")
        return Check(label, False, f"{port}: cannot open: {e}", hint)
    s.close()
    return Check(label, True, f"{port}: present and free")


# -- GPIO -------------------------------------------------------------------------------

def gpio_pins(config: AppConfig) -> list[tuple[str, int]]:
    g = config.gpio
    return ([(f"gpio.buttons.{i}", b.pin) for i, b in enumerate(g.buttons)]
            + [(f"gpio.leds.{i}", led.pin) for i, led in enumerate(g.leds)]
            + [(f"gpio.buzzers.{n}", z.pin) for n, z in g.buzzers.items()])


def check_gpio(config: AppConfig, factory: Any = None) -> list[Check]:
    """Claim each configured pin as an input for a moment, then release it.

    `factory` is a gpiozero pin factory; None builds the configured one. Claiming fails
    when another process (the running service) holds the pin, or the pin does not exist.
    """
    pins = gpio_pins(config)
    if not pins:
        return []
    from edge.errors import DeviceError
    if factory is None and config.gpio.pin_factory == "mock":
        return []  # check_simulated reports it: mock pins are always "available"
    if factory is None:
        from edge.drivers.gpio.pins import make_pin_factory
        try:
            factory = make_pin_factory(config.gpio.pin_factory)
            if factory is None:
                from gpiozero import Device
                factory = Device._default_pin_factory()
        except DeviceError as e:
            return [Check("gpio", False, e.problem, e.hint)]
        except Exception as e:  # gpiozero's own: no pin library works on this machine
            return [Check("gpio", False, f"no pin library works here: {e}",
                          "on a Pi 5 install lgpio (pip install lgpio) and set "
                          "gpio.pin_factory = 'lgpio'; on a laptop use 'mock'")]
    from gpiozero import DigitalInputDevice
    rows: list[Check] = []
    for what, pin in pins:
        label = f"gpio {pin} ({what})"
        try:
            dev = DigitalInputDevice(pin, pull_up=None, active_state=True, pin_factory=factory)
        except Exception as e:  # GPIOPinInUse, PinInvalidPin, lgpio's 'GPIO busy'
            rows.append(Check(label, False, f"cannot claim GPIO {pin}: {type(e).__name__}: {e}",
                              "another program (or kezek itself) uses the pin: stop it, or check "
                              "the BCM number; the service user must be in group gpio"))
            continue
        dev.close()
        rows.append(Check(label, True, f"GPIO {pin} available"))
    return rows


# -- announcements ----------------------------------------------------------------------

def check_announce(config: AppConfig, snd_dir: Path = Path("/dev/snd"),
                   path: str | None = None) -> list[Check]:
    """The clips every call can need, and the sound output (aplay, a playback device).

    `path` is the PATH to look for programs in (None: this process's)."""
    import shutil

    cfg = config.announce
    if not cfg.enabled:
        return []
    from edge.announce.service import load_clips
    from edge.errors import ConfigError
    rows: list[Check] = []
    try:
        clips = load_clips(cfg, config)
    except ConfigError as e:
        shown = e.problems[:3] + ([f"... {len(e.problems) - 3} more"] if len(e.problems) > 3 else [])
        rows.append(Check("announce clips", False, "; ".join(shown),
                          "record the missing clips (names in docs/announce.md), or make a first "
                          "set with `kezek clips --out /var/lib/kezek/clips`"))
    else:
        rows.append(Check("announce clips", True,
                          f"{clips.loaded} clips ({clips.format}), languages "
                          f"{', '.join(cfg.languages)}"))
    out = cfg.output
    if out.type == "alsa":
        if shutil.which("aplay", path=path) is None:
            rows.append(Check("announce output", False, "aplay not found: calls cannot be spoken",
                              "sudo apt install alsa-utils"))
        elif out.device == "null":
            rows.append(Check("announce output", True, "aplay to ALSA device 'null' (silent)"))
        else:
            pcms = sorted(snd_dir.glob("pcmC*D*p"))  # playback devices of every sound card
            usable = [p for p in pcms if os.access(p, os.R_OK | os.W_OK)]
            if not pcms:
                rows.append(Check("announce output", False,
                                  f"no sound card: no playback device in {snd_dir}",
                                  "plug in the speaker (a USB sound card), or enable the Pi's "
                                  "audio (dtparam=audio=on in /boot/firmware/config.txt); "
                                  "`aplay -l` lists cards"))
            elif not usable:
                rows.append(Check("announce output", False,
                                  f"cannot open {pcms[0]}: permission denied",
                                  "add the service user to group audio (sudo usermod -aG audio "
                                  "kezek), then restart kezek"))
            else:
                rows.append(Check("announce output", True,
                                  f"aplay -D {out.device}; {len(pcms)} playback device(s) in "
                                  f"{snd_dir}"))
    elif out.type == "command":
        prog = out.argv[0]
        if shutil.which(prog, path=path) is None:
            rows.append(Check("announce output", False,
                              f"announce.output.argv: {prog!r} not found or not executable",
                              "install the program or put its full path in announce.output.argv"))
        else:
            rows.append(Check("announce output", True, f"command {prog}"))
    # file and fake outputs: check_simulated says that nothing is heard.
    return rows


# -- broker --------------------------------------------------------------------------

def check_broker(config: AppConfig, timeout: float = 5.0) -> list[Check]:
    """A login as the service makes it: its own MQTT v5 client, TLS settings, client
    certificate and password (edge/sync/mqtt.py), with a client id of its own
    (`<site>-<device>-doctor`, so the service's session is not disturbed) and a clean
    start without session expiry, so the broker keeps nothing of it."""
    from edge.sync.mqtt import broker_settings, close_client, make_client

    sc = config.sync
    if not sc.enabled:
        return []
    where = f"{sc.host}:{sc.port}"
    label = "broker"
    try:
        settings = broker_settings(sc)
    except OSError as e:
        return [Check(label, False, f"cannot read the MQTT password: {e}",
                      "check sync.password_file, or set it in /etc/kezek/secrets.env")]
    settings = replace(settings, connect_timeout_s=min(timeout, sc.connect_timeout_s))
    try:
        client = make_client(settings, f"{config.center.site}-{config.center.device}-doctor",
                             manual_ack=False)
    except (OSError, ssl.SSLError, ValueError) as e:
        return [Check(label, False, f"cannot load the TLS files: {e}",
                      "check sync.ca_file / cert_file / key_file exist and are readable "
                      "by the service user")]
    answer: dict[str, Any] = {}
    client.on_connect = lambda _c, _u, _f, reason, _p: answer.setdefault("connack", reason)
    client.on_disconnect = lambda _c, _u, _f, reason, _p: answer.setdefault("lost", reason)
    try:
        try:
            client.connect(sc.host, sc.port, keepalive=max(5, int(timeout) + 1), clean_start=True)
        except socket.gaierror as e:
            return [Check(label, False, f"{where}: cannot resolve {sc.host}: {e.strerror}",
                          "check sync.host and the DNS settings (resolvectl status)")]
        except ssl.SSLCertVerificationError as e:
            return [Check(label, False, f"{where}: broker certificate not trusted: "
                                        f"{e.verify_message}",
                          "set sync.ca_file to the CA that signed the broker's certificate; "
                          "check the clock (a wrong date fails every certificate)")]
        except ssl.SSLError as e:
            return [Check(label, False, f"{where}: TLS handshake failed: {e}",
                          "is sync.port a TLS port (8883)? check the client certificate")]
        except OSError as e:
            return [Check(label, False, f"{where}: cannot connect: {e.strerror or e}",
                          "check the network cable, sync.host / sync.port and the firewall; "
                          "the queue keeps working offline meanwhile")]
        deadline = time.monotonic() + timeout
        while "connack" not in answer and "lost" not in answer and time.monotonic() < deadline:
            if client.loop(timeout=0.1) != 0:
                break
        reason = answer.get("connack")
        if reason is None:
            lost = answer.get("lost")
            got = f" (the connection ended: {lost})" if lost is not None else \
                f" in {timeout:g} s"
            return [Check(label, False, f"{where}: no MQTT answer{got}",
                          "is this port an MQTT broker? check sync.port and sync.tls")]
        if reason.is_failure:
            password = settings.password
            refused = f"{where}: broker refused the login: {str(reason).lower()}"
            if sc.username and password is None:
                # The usual cause when doctor runs as `sudo -u kezek`: the service gets the
                # password from secrets.env through systemd, and that file is root's alone.
                return [Check(label, False, f"{refused} (this doctor had no password: "
                                            f"{sc.password_env} is not set here)",
                              "the service reads it from /etc/kezek/secrets.env, which only root "
                              "can read; to test the login as the service does, run: sudo sh -c "
                              "'set -a; . /etc/kezek/secrets.env; exec setpriv --reuid=kezek "
                              "--regid=kezek --init-groups /opt/kezek/venv/bin/kezek doctor "
                              "--config /etc/kezek/kezek.toml'")]
            return [Check(label, False, refused,
                          "check sync.username and the password in /etc/kezek/secrets.env "
                          "(or the client certificate)")]
        return [Check(label, True, f"{where}: {'TLS, ' if sc.tls else 'no TLS, '}MQTT 5, "
                                   f"login accepted")]
    finally:
        close_client(client)


# -- the machine ------------------------------------------------------------------------

def check_clock(synced: Callable[[], bool] | None = None) -> Check:
    if synced is None:
        from edge.clock import wall_clock_synced
        synced = wall_clock_synced
    if synced():
        return Check("clock", True, "synchronized (NTP)")
    return Check("clock", False, "not synchronized: times are marked unsynced until NTP sets it",
                 "check the network and `timedatectl timesync-status`; the Pi has no clock "
                 "battery, so after a power cut it needs NTP")


def check_disk(state_dir: Path, min_free_mb: int) -> Check:
    free = disk_free_mb(state_dir)
    if free is None:
        return Check("disk", False, f"cannot read the free space of {state_dir}",
                     "check that the state directory's disk is mounted")
    if state_dir.exists():
        try:
            readonly = bool(os.statvfs(state_dir).f_flag & os.ST_RDONLY)
        except OSError:
            readonly = False
        if readonly:
            return Check("disk", False, f"{state_dir} is on a read-only file system (the kernel "
                                        "does this after SD card errors; see dmesg)",
                         "reboot; if it happens again, replace the SD card and restore a backup "
                         "(docs/operations.md)")
        if not os.access(state_dir, os.W_OK | os.X_OK):
            return Check("disk", False, f"{state_dir} is not writable by this user",
                         f"sudo chown -R kezek:kezek {state_dir} && sudo chmod 750 {state_dir}")
    if free[0] < min_free_mb:
        return Check("disk", False, f"{free[0]} MB free of {free[1]} MB at {state_dir} "
                                    f"(minimum {min_free_mb} MB)",
                     "delete old files (journalctl --vacuum-size=100M) or use a larger SD card")
    return Check("disk", True, f"{free[0]} MB free of {free[1]} MB at {state_dir}")


def check_database(db_path: Path) -> Check:
    """PRAGMA integrity_check on a read-only connection; refuses a newer schema too."""
    from edge.storage.migrations import LATEST
    backups = db_path.parent / "backups"
    if not db_path.exists():
        return Check("database", True, f"{db_path} not created yet (the first start creates it)")
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error as e:
        return Check("database", False, f"{db_path}: cannot open: {e}",
                     f"check its owner (kezek) and mode; or restore a copy from {backups}")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        result = [r[0] for r in conn.execute("PRAGMA integrity_check(20)")]
    except sqlite3.Error as e:
        return Check("database", False, f"{db_path}: {e}",
                     f"the file is damaged: stop kezek, move it aside and restore a copy from "
                     f"{backups} (the SD card may be failing)")
    finally:
        conn.close()
    if result != ["ok"]:
        return Check("database", False, f"{db_path}: integrity check failed: {'; '.join(result[:3])}",
                     f"stop kezek, keep the file for analysis, restore a copy from {backups}; "
                     "replace the SD card")
    if version > LATEST:
        return Check("database", False, f"{db_path}: schema v{version} is newer than this kezek "
                                        f"(v{LATEST})",
                     "install the newer kezek again, or restore a backup from " + str(backups))
    return Check("database", True, f"{db_path}: integrity ok, schema v{version}")


def check_service_user(user: str = SERVICE_USER) -> Check | None:
    """The installed service user's groups (None when kezek is not installed as a service)."""
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return None
    member = {g.gr_name for g in grp.getgrall() if user in g.gr_mem}
    member.add(grp.getgrgid(pw.pw_gid).gr_name)
    missing = [g for g in SERVICE_GROUPS if g not in member]
    if missing:
        return Check("service user", False, f"{user} is not in group(s) {', '.join(missing)}",
                     f"sudo usermod -aG {','.join(missing)} {user}  (or run scripts/install.sh again)")
    return Check("service user", True, f"{user} in groups {', '.join(SERVICE_GROUPS)}")


def check_temperature(limit_c: float, thermal_root: Path | None = None) -> Check | None:
    temp = cpu_temperature_c(thermal_root) if thermal_root else cpu_temperature_c()
    if temp is None:
        return None
    if temp >= limit_c:
        return Check("cpu temperature", False, f"{temp} °C (limit {limit_c:g} °C)",
                     "give the case air, add a heatsink or fan; check the power supply")
    return Check("cpu temperature", True, f"{temp} °C")


def check_hall(config: AppConfig, proc: Path = Path("/proc")) -> list[Check]:
    """The hall page's port can be listened on (or the running service already serves it)."""
    cfg = config.hall
    if not cfg.enabled or cfg.port == 0:
        return []
    import errno

    from edge.web.ports import listen_problem, served_by_kezek, try_listen
    where = f"{cfg.bind}:{cfg.port}"
    error = try_listen(cfg.bind, cfg.port)
    if error is None:
        return [Check("hall port", True, f"{where} free")]
    if error.errno == errno.EADDRINUSE and served_by_kezek(cfg.bind, cfg.port):
        return [Check("hall port", True, f"{where}: the hall screen of a running kezek answers")]
    problem, fix = listen_problem(cfg.bind, cfg.port, error)
    holders = tcp_listeners(cfg.port, proc) if error.errno == errno.EADDRINUSE else []
    if holders:
        problem += f" (held by {', '.join(holders)})"
    return [Check("hall port", False, problem, fix)]


# -- all of it --------------------------------------------------------------------------

@dataclass
class DoctorDeps:
    """What the probes use from the machine; tests replace parts of it."""

    pin_factory: Any = None
    clock_synced: Callable[[], bool] | None = None
    proc: Path = Path("/proc")
    thermal_root: Path | None = None
    service_user: str = SERVICE_USER
    snd_dir: Path = Path("/dev/snd")
    path: str | None = None  # PATH for programs such as aplay (None: the process's own)


def run_checks(config: AppConfig, state_dir: Path, db_path: Path,
               deps: DoctorDeps | None = None) -> list[Check]:
    deps = deps or DoctorDeps()
    rows: list[Check] = []
    rows += check_simulated(config)
    rows += check_printers(config, state_dir)
    rows += [check_serial_port(what, port, deps.proc) for what, port in serial_ports(config)]
    rows += check_gpio(config, deps.pin_factory)
    rows += check_announce(config, deps.snd_dir, deps.path)
    rows += check_hall(config, deps.proc)
    rows += check_broker(config)
    from edge.system.listening import check_ports   # imports this module's Check
    rows += check_ports(config, deps.proc)
    rows.append(check_clock(deps.clock_synced))
    rows.append(check_disk(state_dir, config.system.min_free_mb))
    from edge.system.doctor_layout import check_sd_layout  # the SD card's layout (issue 24)
    rows += check_sd_layout(state_dir)
    rows.append(check_database(db_path))
    extra: Iterable[Check | None] = (check_service_user(deps.service_user),
                                     check_temperature(config.system.cpu_temp_warn_c, deps.thermal_root))
    rows += [c for c in extra if c is not None]
    return rows


def render_table(rows: list[Check]) -> str:
    """CHECK / RESULT / DETAIL, with a `fix:` line under every failure."""
    width = max([len("CHECK")] + [len(r.name) for r in rows]) + 2
    lines = [f"{'CHECK':<{width}}{'RESULT':<8}DETAIL"]
    for r in rows:
        lines.append(f"{r.name:<{width}}{'ok' if r.ok else 'FAIL':<8}{r.detail}")
        if not r.ok and r.hint:
            lines.append(f"{'':<{width + 8}}fix: {r.hint}")
    failed = sum(not r.ok for r in rows)
    lines.append("")
    lines.append("all checks passed" if not failed else
                 f"{failed} of {len(rows)} checks failed")
    return "\n".join(lines)
