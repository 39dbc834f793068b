"""Does Debian's RabbitMQ speak Kezek's protocol? Starts a node of its own and asks.

    .venv/bin/python bench/rabbitmq_probe.py

Needs Debian's `rabbitmq-server` (not installed by the setup script: it is a check for
the central team, docs/sync.md "Brokers beyond one machine"). The node gets its own name,
data folder, ports and port mapper (ERL_EPMD_PORT), so a RabbitMQ already running on the
machine is not touched; it is stopped at the end. Prints: whether an MQTT 5 client may
connect (the protocol needs it), whether MQTT 3.1.1 may, and whether a subscription to
`$share/kezek-central/qms/v1/+/+/evt` receives events published on a device's topic.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(base: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    amqp, mqtt_port, dist, epmd = free_port(), free_port(), free_port(), free_port()
    (base / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{amqp}\n"
        f"mqtt.listeners.tcp.default = 127.0.0.1:{mqtt_port}\n"
        "mqtt.allow_anonymous = true\nloopback_users = none\n", encoding="ascii")
    (base / "enabled_plugins").write_text("[rabbitmq_mqtt].\n", encoding="ascii")
    env = {**os.environ, "HOME": str(base), "RABBITMQ_NODENAME": "kezekprobe@localhost",
           "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(amqp),
           "RABBITMQ_DIST_PORT": str(dist), "ERL_EPMD_PORT": str(epmd),
           "RABBITMQ_MNESIA_BASE": str(base / "mnesia"), "RABBITMQ_LOG_BASE": str(base / "log"),
           "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
           "RABBITMQ_CONF_ENV_FILE": str(base / "none.env")}
    log = open(base / "server.log", "wb")
    proc = subprocess.Popen([SERVER], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    log.close()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        # The listener accepts before the node has booted: wait for the boot's last line.
        if b"completed with" in (base / "server.log").read_bytes():
            return proc, mqtt_port, str(epmd)
        time.sleep(0.5)
    raise RuntimeError(f"RabbitMQ's MQTT listener did not come up: see {base}/server.log")


def stop_port_mapper(epmd_port: str) -> None:
    """epmd daemonises itself out of the node's session: end the one started for our port
    (found by the ERL_EPMD_PORT it was given), never another."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            env = (proc / "environ").read_bytes().split(b"\0")
            cmd = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"epmd" in cmd and f"ERL_EPMD_PORT={epmd_port}".encode() in env:
            os.kill(int(proc.name), signal.SIGTERM)


def probe(port: int) -> None:
    import paho.mqtt.client as mqtt

    def client(name: str, proto: Any) -> tuple[Any, str]:
        answer: dict[str, str] = {}
        done = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=proto)

        def connected(cl: Any, u: Any, f: Any, rc: Any, p: Any) -> None:
            answer.setdefault("rc", str(rc))
            done.set()

        def closed(cl: Any, u: Any, f: Any, rc: Any, p: Any) -> None:
            answer.setdefault("rc", f"closed the connection ({rc})")
            done.set()

        c.on_connect = connected
        c.on_disconnect = closed
        c.connect("127.0.0.1", port, keepalive=10)
        c.loop_start()
        done.wait(15)
        return c, answer.get("rc", "no answer")

    c5, rc5 = client("kezek-probe-v5", mqtt.MQTTv5)
    print(f"MQTT 5 connect: {rc5}")
    c5.loop_stop()
    got = {"share": 0, "plain": 0}
    share, rc = client("kezek-probe-share", mqtt.MQTTv311)
    print(f"MQTT 3.1.1 connect: {rc}")
    plain, _ = client("kezek-probe-plain", mqtt.MQTTv311)
    pub, _ = client("kezek-probe-pub", mqtt.MQTTv311)
    share.on_message = lambda c, u, m: got.__setitem__("share", got["share"] + 1)
    plain.on_message = lambda c, u, m: got.__setitem__("plain", got["plain"] + 1)
    share.subscribe("$share/kezek-central/qms/v1/+/+/evt", 1)
    plain.subscribe("qms/v1/+/+/evt", 1)
    time.sleep(2)
    for _ in range(5):
        pub.publish("qms/v1/s1/edge-1/evt", b"{}", qos=1).wait_for_publish(5)
    time.sleep(3)
    print(f"5 events published: $share subscriber got {got['share']}, "
          f"plain subscriber got {got['plain']}")
    for c in (share, plain, pub):
        c.disconnect()
        c.loop_stop()


def main() -> int:
    if not os.access(SERVER, os.X_OK):
        print("install Debian's RabbitMQ first: apt-get install rabbitmq-server", file=sys.stderr)
        return 1
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "rabbitmq-server"],
                             capture_output=True, text=True).stdout
    print(f"rabbitmq-server {version}")
    base = Path(tempfile.mkdtemp(prefix="kezek-rabbitmq-"))
    proc = None
    epmd = ""
    try:
        proc, port, epmd = start(base)
        probe(port)
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)   # the node's own session
            proc.wait(60)
        if epmd:
            stop_port_mapper(epmd)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
