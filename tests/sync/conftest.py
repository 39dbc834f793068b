"""Sync test rig: a real Mosquitto on a free port, a TCP proxy for partitions, a central, edges."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from edge.central.server import Central
from edge.central.store import CentralStore
from edge.config import AppConfig, parse_config
from edge.sync.mqtt import BrokerSettings

ROOT = Path(__file__).resolve().parents[2]
SITE = "test-site"
DEVICE = "edge-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The least time any wait_for here waits, whatever deadline the test names: the suite
# must pass on a loaded 2-core machine (CI, a laptop building something), where a broker
# start, a reconnect or a drain takes several times what it takes on an idle one. A wait
# ends as soon as its condition holds, so a long deadline costs nothing when it passes.
MIN_WAIT_S = 30.0


def wait_for(pred: Callable[[], Any], timeout: float = 20.0, what: str = "condition",
             interval: float = 0.05) -> Any:
    timeout = max(timeout, MIN_WAIT_S)
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def mosquitto_exe() -> str | None:
    """Debian installs the broker as /usr/sbin/mosquitto, which is not on a normal user's
    PATH (only root's): look there too, or the suite fails for a user who installed it."""
    return (shutil.which("mosquitto")
            or shutil.which("mosquitto", path="/usr/local/sbin:/usr/sbin:/sbin"))


class Broker:
    """A Mosquitto process on 127.0.0.1:port; kill() is SIGKILL, start() again reuses the port."""

    def __init__(self, workdir: Path, *, extra: str = "") -> None:
        if mosquitto_exe() is None:
            pytest.fail("install mosquitto: apt-get install mosquitto")
        self.port = free_port()
        self.conf = workdir / f"mosquitto-{self.port}.conf"
        self.log = workdir / f"mosquitto-{self.port}.log"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                             f"persistence false\n{extra}", encoding="ascii")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = mosquitto_exe()
        if exe is None:
            pytest.fail("install mosquitto: apt-get install mosquitto")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([exe, "-c", str(self.conf)], stdout=log,
                                         stderr=subprocess.STDOUT)
        wait_for(self._listening, 10, f"mosquitto on port {self.port}")

    def _listening(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"mosquitto exited: {self.log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


class TcpProxy:
    """Forwards 127.0.0.1:port to the broker; can go silent (blackhole) or reset everything."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self.silent = threading.Event()
        self.refuse = threading.Event()
        # cut_after(n, times): reset a connection once n bytes went up it, `times` times.
        self._cut_bytes = 0
        self._cuts_left = 0
        self.cuts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._threads: list[threading.Thread] = []
        self._accept_thread = threading.Thread(target=self._accept, name="test-proxy-accept",
                                               daemon=True)
        self._accept_thread.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            if self.refuse.is_set():
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            for a, b, name in ((client, upstream, "up"), (upstream, client, "down")):
                t = threading.Thread(target=self._pipe, args=(a, b, name == "up"),
                                     name=f"test-proxy-{name}", daemon=True)
                t.start()
                self._threads.append(t)

    def cut_after(self, nbytes: int, times: int) -> None:
        """A flaky link: each of the next `times` connections is reset (RST both ways) as
        soon as `nbytes` went up it, i.e. right after a large message was sent."""
        with self._lock:
            self._cut_bytes, self._cuts_left = nbytes, times

    def _pipe(self, src: socket.socket, dst: socket.socket, up: bool = False) -> None:
        try:
            src.settimeout(0.1)
        except OSError:
            return  # reset_all() closed the pair before this thread got to run
        uploaded = 0
        while not self._stop.is_set():
            try:
                data = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            if self.silent.is_set():
                continue  # a partition: bytes vanish, nobody is told
            try:
                dst.sendall(data)
            except OSError:
                break
            if up:
                uploaded += len(data)
                if self._cut(uploaded):
                    _reset(src)
                    _reset(dst)
                    break
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _cut(self, uploaded: int) -> bool:
        with self._lock:
            if self._cuts_left <= 0 or uploaded < self._cut_bytes:
                return False
            self._cuts_left -= 1
            self.cuts += 1
            return True

    def reset_all(self) -> None:
        """Every open connection gets a TCP RST (as from a NAT box that forgot it)."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            _reset(a)
            _reset(b)

    def close(self) -> None:
        self._stop.set()
        self.reset_all()
        self._accept_thread.join(2)
        for t in self._threads:
            t.join(2)
        self._listener.close()


def _reset(s: socket.socket) -> None:
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    except OSError:
        pass


@pytest.fixture
def proxy(broker: Broker) -> Iterator[TcpProxy]:
    p = TcpProxy(broker.port)
    yield p
    p.close()


def sync_section(port: int, **overrides: Any) -> dict[str, Any]:
    """A [sync] section tuned for tests: plain TCP, short keepalive and timeouts.

    The watchdog is not short: on a loaded machine the network thread can spend seconds
    on one 4 MB bookings snapshot, and a watchdog that replaced it then would start over
    with the same retained snapshot, again and again (test_resilience sets its own)."""
    section: dict[str, Any] = {
        "enabled": True, "host": "127.0.0.1", "port": port, "tls": False, "keepalive_s": 2,
        "connect_timeout_s": 2.0, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5,
        "ack_timeout_s": 2.0, "health_interval_s": 1.0, "watchdog_s": 30.0,
        "batch_max_events": 50, "inflight_batches": 4, "session_expiry_s": 60}
    section.update(overrides)
    return section


def config_dict(port: int, *, device: str = DEVICE, outbox_cap: int = 100_000,
                **sync: Any) -> dict[str, Any]:
    return {
        "center": {"site": SITE, "device": device, "name": {"kk": "Тест", "ru": "Тест"}},
        "storage": {"outbox_cap": outbox_cap},
        "services": [{"id": "docs", "names": {"kk": "Құжат", "ru": "Документы"}, "prefix": "A"},
                     {"id": "realty", "names": {"kk": "Мүлік", "ru": "Недвижимость"},
                      "prefix": "B"}],
        "windows": [{"number": 1, "services": {"docs": 1, "realty": 1}},
                    {"number": 2, "services": {"docs": 1}}],
        "sync": sync_section(port, **sync),
    }


def make_config(port: int, **kwargs: Any) -> AppConfig:
    return parse_config(config_dict(port, **kwargs), "<sync test>")


class CentralRig:
    """A reference central on the broker, with its own SQLite file."""

    def __init__(self, port: int, db: Path, **kwargs: Any) -> None:
        self.db = db
        self.central = Central(BrokerSettings("127.0.0.1", port, keepalive_s=5), db, **kwargs)
        self.central.start()
        assert self.central.wait_connected(10), "central did not connect"
        self._reader = CentralStore(db)

    def contiguous(self, site: str = SITE, device: str = DEVICE) -> int:
        d = self._reader.device(site, device)
        return d["contiguous"] if d else 0

    def events(self, site: str = SITE, device: str = DEVICE) -> list[dict[str, Any]]:
        return self._reader.events(site, device)

    def stop(self) -> None:
        self.central.stop()
        self._reader.close()


@pytest.fixture
def central(broker: Broker, tmp_path: Path) -> Iterator[CentralRig]:
    rig = CentralRig(broker.port, tmp_path / "central.db")
    yield rig
    rig.stop()


def edge_last_seq(db_path: Path) -> int:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='last_seq'").fetchone()
        return int(json.loads(row[0])) if row else 0
    finally:
        conn.close()


def edge_outbox_count(db_path: Path) -> int:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    finally:
        conn.close()


def edge_outbox_first(db_path: Path) -> int:
    """The oldest seq still in the edge's outbox (0 when it is empty)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute("SELECT MIN(seq) FROM outbox").fetchone()[0] or 0
    finally:
        conn.close()


def assert_exactly_once(rig: CentralRig, last_seq: int, ids: dict[int, str] | None = None,
                        device: str = DEVICE) -> list[dict[str, Any]]:
    """Central holds the edge's events 1..last_seq: no gap, no duplicate, same ids."""
    events = rig.events(device=device)
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, last_seq + 1)), \
        f"central has {len(seqs)} events, expected 1..{last_seq}; missing " \
        f"{sorted(set(range(1, last_seq + 1)) - set(seqs))[:10]}"
    assert len({e["id"] for e in events}) == len(events), "an event id appears twice"
    if ids is not None:
        assert {e["seq"]: e["id"] for e in events} == ids
    assert rig.contiguous(device=device) == last_seq
    return events


def kezek_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from edge.cli import main; sys.exit(main())", *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["KEZEK_CLOCK_SYNCED"] = "1"
    return env


class EdgeRig:
    """A real edge in this process: store, engine, controller and the components of `config`.

    `ids` collects seq -> event id of every committed event (the edge's truth, kept even
    after the outbox rows are deleted on central's ack).
    """

    def __init__(self, config: AppConfig, state_dir: Path, clock: Any = None,
                 machine: Any = None) -> None:
        import io

        from edge.service import App

        self.config = config
        self.state_dir = state_dir
        self.app = App(config, state_dir, stdout=io.StringIO(), stdin=io.StringIO(), clock=clock)
        # Which board the card is in (edge.sync.machine.Machine); None: this machine.
        self.app.ctx.machine = (lambda: machine) if machine is not None else None
        self.db_path = self.app.db_path
        self.ids: dict[int, str] = {}
        self.events: list[Any] = []
        self.app.controller.subscribe(self._collect)
        self.app.start_components()
        self.thread = threading.Thread(target=self.app.run, name="test-edge-loop", daemon=True)
        self.thread.start()

    def _collect(self, applied: Any) -> None:
        for e in applied.events:
            self.ids[e.seq] = e.id
            self.events.append(e)

    @property
    def link(self) -> Any:
        return self.app.ctx.components["sync"]

    def record(self, n: int, start: int = 0) -> None:
        from edge.queue.commands import RecordEvent

        for i in range(start, start + n):
            self.app.controller.call(RecordEvent("test.event", {"i": i}), timeout=60)

    def last_seq(self) -> int:
        return self.app.store.last_seq

    def events_of(self, type_: str) -> list[dict[str, Any]]:
        """Data of the events of one type this rig committed, oldest first."""
        return [e.data for e in list(self.events) if e.type == type_]

    def close(self) -> None:
        self.app.stop_event.set()
        self.thread.join(10)
        self.app.stop()


@pytest.fixture
def edges() -> Iterator[list[EdgeRig]]:
    """Edges a test starts are appended here and closed at the end, even on failure."""
    started: list[EdgeRig] = []
    yield started
    for rig in reversed(started):
        try:
            rig.close()
        except Exception:  # a rig already closed by the test
            pass


class Probe:
    """A plain MQTT v5 client for tests: publishes raw payloads and records what it sees."""

    def __init__(self, port: int, name: str = "probe") -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{name}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)

    def seen(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p, _ in self.messages if t == topic]

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False,
                expiry_s: int | None = None) -> None:
        from edge.sync.mqtt import publish_properties

        props = publish_properties(expiry_s) if expiry_s is not None else None
        info = self.client.publish(topic, payload, qos=1, retain=retain, properties=props)
        info.wait_for_publish(timeout=30)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def probe(broker: Broker) -> Iterator[Probe]:
    p = Probe(broker.port)
    yield p
    p.close()
