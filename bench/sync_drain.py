"""Drain rate of an outbox backlog to the reference central, next to plain QoS 1 publishing.

    .venv/bin/python bench/sync_drain.py [--events 20000]

Starts its own Mosquitto on a free port (Debian package `mosquitto`), then in one run:
  1. baseline: one event per message, QoS 1, one paho client, as fast as PUBACKs come
     (what "the broker acknowledged it" costs; proves nothing about central's database);
  2. drain: a real edge (store, controller, sync link) with N events in its outbox and
     the link held back; the reference central comes up and the clock runs until central
     has committed, acked, and the edge has deleted every event.
Prints a Markdown table for docs/sync.md. Timing is measured here, never in tests.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    # Debian puts it in /usr/sbin, which is on root's PATH only (bench/run.py looks there too).
    exe = (shutil.which("mosquitto")
           or shutil.which("mosquitto", path="/usr/local/sbin:/usr/sbin:/sbin"))
    if exe is None:
        sys.exit("install mosquitto: apt-get install mosquitto")
    port = free_port()
    conf = tmp / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n", encoding="ascii")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("mosquitto did not start")


def baseline(port: int, n: int, payload: bytes) -> float:
    """One event per message at QoS 1: messages per second until the last PUBACK."""
    import paho.mqtt.client as mqtt

    from edge.sync.mqtt import no_delay

    acked = 0
    done = __import__("threading").Event()

    def on_publish(client: object, userdata: object, mid: int, rc: object, props: object) -> None:
        nonlocal acked
        acked += 1
        if acked == n:
            done.set()

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-baseline",
                    protocol=mqtt.MQTTv5)
    c.on_publish = on_publish
    # The same socket options as the edge's own client (edge/sync/mqtt.py): no Nagle.
    c.on_socket_open = no_delay
    c.connect("127.0.0.1", port)
    c.loop_start()
    t0 = time.perf_counter()
    for _ in range(n):
        c.publish("bench/baseline", payload, qos=1)
    done.wait(300)
    elapsed = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return n / elapsed


def _wait_central_online(db: Path, timeout_s: float = 30.0) -> None:
    """Central has connected once it has written its session number."""
    import sqlite3
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if db.exists():
            try:
                conn = sqlite3.connect(db, timeout=1)
                try:
                    if conn.execute("SELECT 1 FROM meta WHERE key='session'").fetchone():
                        time.sleep(0.2)  # its subscription goes out right after
                        return
                finally:
                    conn.close()
            except sqlite3.Error:
                pass
        time.sleep(0.05)
    raise RuntimeError("the reference central did not come up")


def drain(port: int, n: int, tmp: Path) -> tuple[float, dict[str, object]]:
    from edge.central.store import CentralStore
    from edge.config import parse_config
    from edge.queue.commands import RecordEvent
    from edge.service import App

    config = parse_config({
        "center": {"site": "bench", "device": "edge-1", "name": {"kk": "B", "ru": "B"}},
        "services": [{"id": "docs", "names": {"kk": "D", "ru": "D"}, "prefix": "A"}],
        "windows": [{"number": 1, "services": {"docs": 1}}],
        "storage": {"outbox_cap": max(1000, 2 * n)},
        "sync": {"enabled": True, "host": "127.0.0.1", "port": port, "tls": False,
                 "reconnect_min_s": 0.1, "reconnect_max_s": 1.0},
    }, "<bench>")
    app = App(config, tmp / "edge", stdout=io.StringIO(), stdin=io.StringIO())
    import threading
    loop = threading.Thread(target=app.run, name="bench-edge", daemon=True)
    loop.start()
    print(f"filling the outbox with {n} events...", file=sys.stderr)
    data = {"ticket": "A-001", "service": "docs", "window": 1, "note": "x" * 120}
    for i in range(n):
        app.controller.submit(RecordEvent("bench.event", {**data, "i": i}))
    app.controller.call(RecordEvent("bench.last", {}), timeout=600)
    last = app.store.last_seq
    # Central is another machine in real life: run it as its own process, so the edge and
    # central do not share one interpreter's lock (which would add their times up). It
    # starts first; the clock runs from the moment the edge's link starts.
    central = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "central", "run", "--host", "127.0.0.1",
         "--port", str(port), "--no-tls", "--db", str(tmp / "central.db"),
         "--summary-every", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_central_online(tmp / "central.db")
    reader = CentralStore(tmp / "central.db")
    t0 = time.perf_counter()
    app.start_components()
    link = app.ctx.components["sync"]
    while True:
        d = reader.device("bench", "edge-1")
        if d and d["contiguous"] >= last and link.health()["acked_seq"] >= last:
            break
        time.sleep(0.01)
    elapsed = time.perf_counter() - t0
    health = link.health()
    central.terminate()
    central.wait(10)
    reader.close()
    app.stop_event.set()
    loop.join(10)
    app.stop()
    return last / elapsed, {"events": last, "seconds": round(elapsed, 2),
                            "batches": health["sent_batches"], "rewinds": health["rewinds"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kezek-bench-") as d:
        tmp = Path(d)
        broker, port = start_broker(tmp)
        try:
            sample = json.dumps({"v": 1, "id": "0" * 36, "site": "bench", "device": "edge-1",
                                 "seq": 1, "boot": "b" * 36, "type": "bench.event",
                                 "ts": 1_800_000_000_000, "mono_ms": 1, "clock_synced": True,
                                 "hist": True, "data": {"ticket": "A-001", "service": "docs",
                                                        "window": 1, "note": "x" * 120}})
            base = baseline(port, args.events, sample.encode())
            rate, info = drain(port, args.events, tmp)
        finally:
            broker.terminate()
            broker.wait(5)
    print(f"| measurement | events/s |\n|---|---|\n"
          f"| one event per message, QoS 1, PUBACK only (no database) | {base:,.0f} |\n"
          f"| outbox drain to the reference central (committed + acked + deleted) | {rate:,.0f} |")
    print(f"\n{args.events} events, {len(sample)} B each on the wire; drain details: {info}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
