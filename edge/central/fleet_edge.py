"""A simulated edge for the fleet benchmark: the real protocol, an in-memory outbox.

It speaks what edge/sync sends and answers (docs/protocol.md): a will and a birth with a
session counter bumped on every connect, a broker session kept across reconnects, event
batches with `db` and `floor` sent only while central's retained state says online, a
go-back-N window moved by central's acks (resend on `resend_from`, on a reconnect and
after an ack timeout), and the downlink: a newer retained cfg is applied and reported
(`sync.applied`), a command runs once per cmd_id and reports `cmd.result`. Its events are
a center's day: visits issued, printed, called, served and rated. What it leaves out is
the queue engine and SQLite (hundreds of them would measure this machine, not central).
It is driven by one thread (fleet.py) through paho's external-loop calls.
"""

from __future__ import annotations

import json
import random
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.sync.protocol import CENTRAL_STATE_TOPIC, Topics

SERVICES = ("docs", "realty", "auto", "benefits")


@dataclass
class Visit:
    ticket_id: int
    label: str
    service: str
    visit: str
    issued: float
    window: int = 0
    step: int = 0


@dataclass
class EdgeStats:
    lags: list[float] = field(default_factory=list)          # commit -> ack, made online
    catchup_lags: list[float] = field(default_factory=list)  # made offline or paused
    sent_batches: int = 0
    sent_events: int = 0          # more than made when batches were sent again
    rewinds: int = 0
    connects: int = 0


class SimEdge:
    def __init__(self, site: str, device: str, host: str, port: int, *, rng: random.Random,
                 rate_eps: float, batch_max: int = 500, window: int = 4,
                 ack_timeout_s: float = 5.0, keepalive_s: int = 30,
                 on_socket: Callable[[str, Any, Any], None] | None = None) -> None:
        self.site, self.device = site, device
        self.host, self.port = host, port
        self.rng = rng
        self.rate = rate_eps
        self.batch_max, self.window, self.ack_timeout = batch_max, window, ack_timeout_s
        self.keepalive = keepalive_s
        self.topics = Topics(site, device)
        self.db = str(uuid.uuid4())
        self.boot = str(uuid.uuid4())
        self.boot_at = time.monotonic()
        # seq -> (event, commit time, made while it could not send: offline or paused)
        self.outbox: dict[int, tuple[dict[str, Any], float, bool]] = {}
        self.last_seq = 0
        self.acked = 0
        self.cursor = 1
        self.inflight: deque[tuple[int, int, float]] = deque()
        self.cwnd = window      # as edge/sync/pump.py: halved on a loss, +1 per ack progress
        self.session = 0
        self.connected_at: float | None = None
        self.central_online = False
        self.offline_until = 0.0        # cut off from the network until then
        self.paused = False             # not sending (a backlog builds up)
        self.next_connect = 0.0
        self.stats = EdgeStats()
        self.cfg_version = 0
        self.cmds_seen: set[str] = set()
        self.visits: list[Visit] = []
        self.tickets = 0
        self.day = time.strftime("%Y-%m-%d")
        self._on_socket = on_socket
        self.client = self._new_client()

    # -- the MQTT client ------------------------------------------------------------------
    def _new_client(self) -> Any:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{self.site}-{self.device}",
                        protocol=mqtt.MQTTv5)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.max_inflight_messages_set(self.window + 4)
        if self._on_socket is not None:
            hook = self._on_socket
            c.on_socket_open = lambda cl, u, s: hook("open", cl, s)
            c.on_socket_close = lambda cl, u, s: hook("close", cl, s)
            c.on_socket_register_write = lambda cl, u, s: hook("write", cl, s)
            c.on_socket_unregister_write = lambda cl, u, s: hook("nowrite", cl, s)
        return c

    @property
    def connected(self) -> bool:
        return self.connected_at is not None

    def connect(self, now: float) -> None:
        """One connection attempt (blocking TCP connect on loopback: short). The CONNACK
        comes later, through the loop; a new attempt only if none came in 10 s."""
        self.next_connect = now + 10.0
        self.session += 1
        self.client.will_set(self.topics.state, json.dumps(
            {"v": 1, "online": False, "session": self.session, "db": self.db}), qos=1,
            retain=True)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        try:
            self.client.connect(self.host, self.port, keepalive=self.keepalive,
                                clean_start=False, properties=props)
            sock = self.client.socket()
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            self.next_connect = now + 1.0 + self.rng.random()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                    props: Any) -> None:
        if reason.is_failure:
            return
        self.connected_at = time.monotonic()
        self.stats.connects += 1
        client.subscribe([(self.topics.ack, 1), (self.topics.cfg, 1), (self.topics.bookings, 1),
                          (self.topics.cmd, 1), (CENTRAL_STATE_TOPIC, 1)])
        client.publish(self.topics.state, json.dumps(
            {"v": 1, "online": True, "session": self.session, "db": self.db,
             "boot": self.boot, "last_seq": self.last_seq, "acked_seq": self.acked,
             "ts": int(time.time() * 1000), "software": "kezek-fleet"}), qos=1, retain=True)
        self._rewind()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                       props: Any) -> None:
        self.connected_at = None
        self.central_online = False
        self.next_connect = max(time.monotonic() + 0.5 + self.rng.random(), self.offline_until)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        try:
            doc = json.loads(msg.payload) if msg.payload else None
        except ValueError:
            return
        if not isinstance(doc, dict):
            return
        if msg.topic == CENTRAL_STATE_TOPIC:
            self.central_online = bool(doc.get("online"))
            if self.central_online:
                self._rewind()
        elif msg.topic == self.topics.ack:
            self._ack(doc)
        elif msg.topic == self.topics.cfg and isinstance(doc.get("version"), int):
            if doc["version"] > self.cfg_version:
                self.cfg_version = doc["version"]
                self.record("sync.applied", {"topic": "cfg", "version": doc["version"]})
        elif msg.topic == self.topics.cmd and isinstance(doc.get("cmd_id"), str):
            if doc["cmd_id"] not in self.cmds_seen:
                self.cmds_seen.add(doc["cmd_id"])
                self.record("cmd.result", {"cmd_id": doc["cmd_id"], "name": doc.get("name"),
                                           "ok": True, "code": "ok", "message": "done"})

    def _ack(self, doc: dict[str, Any]) -> None:
        if doc.get("db") not in (None, self.db):
            return
        n = doc.get("acked_seq")
        if not isinstance(n, int) or n > self.last_seq:
            return
        now = time.monotonic()
        if n > self.acked:
            for seq in range(self.acked + 1, n + 1):
                ev, committed, late = self.outbox.pop(seq, (None, now, False))
                if ev is None:
                    continue
                (self.stats.catchup_lags if late else self.stats.lags).append(now - committed)
            self.acked = n
            self.cwnd = min(self.window, self.cwnd + 1)
            self.cursor = max(self.cursor, n + 1)
            while self.inflight and self.inflight[0][1] <= n:
                self.inflight.popleft()
            if self.inflight:   # progress: the oldest batch in flight is timed from now
                first, last, _ = self.inflight[0]
                self.inflight[0] = (first, last, now)
        # A gap central saw is believed only once the oldest batch in flight had time to
        # arrive (edge/sync/pump.py): with several instances, batches of one edge are
        # stored out of order as a matter of course, and the next ack covers them.
        if isinstance(doc.get("resend_from"), int) and self.inflight and \
                now - self.inflight[0][2] >= min(1.0, self.ack_timeout):
            self._rewind(loss=True)

    def _rewind(self, loss: bool = False) -> None:
        if self.inflight:
            self.stats.rewinds += 1
            if loss:
                self.cwnd = max(1, min(self.cwnd, len(self.inflight)) // 2)
        self.inflight.clear()
        self.cursor = self.acked + 1

    def cut(self, seconds: float) -> None:
        """The network goes away (no DISCONNECT: the broker publishes the will)."""
        self.offline_until = time.monotonic() + seconds
        sock = self.client.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- events ---------------------------------------------------------------------------
    def record(self, type_: str, data: dict[str, Any]) -> None:
        """Commit one event to the outbox (an edge's transaction, in memory here)."""
        self.last_seq += 1
        now = time.monotonic()
        ev = {"v": 1, "id": str(uuid.uuid4()), "site": self.site, "device": self.device,
              "seq": self.last_seq, "boot": self.boot, "type": type_,
              "ts": int(time.time() * 1000), "mono_ms": int((now - self.boot_at) * 1000),
              "clock_synced": True, "hist": False, "data": data}
        self.outbox[self.last_seq] = (ev, now, self.paused or not self.connected)

    def generate(self, dt: float) -> None:
        """About rate × dt events of the day: the next step of a visit, or a new one."""
        expected = self.rate * dt
        n = int(expected) + (1 if self.rng.random() < expected - int(expected) else 0)
        for _ in range(n):
            self.step_day()

    def step_day(self) -> None:
        r = self.rng
        if not self.visits or (len(self.visits) < 30 and r.random() < 0.2):
            self.tickets += 1
            service = r.choice(SERVICES)
            v = Visit(self.tickets, f"{'ABCD'[SERVICES.index(service)]}-{self.tickets % 1000:03d}",
                      service, str(uuid.uuid4()), time.time())
            self.visits.append(v)
            self.record("ticket.issued", {
                "ticket_id": v.ticket_id, "ticket": v.label, "service": service,
                "category": r.choice(("normal",) * 8 + ("pensioner", "disability")),
                "booked": False, "booking": None, "visit": v.visit, "day": self.day,
                "number": v.ticket_id % 1000, "ahead": len(self.visits), "wait_min": 5,
                "printer": "kiosk", "issued_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "source": "sim"})
            return
        v = r.choice(self.visits)
        base = {"ticket_id": v.ticket_id, "ticket": v.label, "service": v.service}
        if v.step == 0:
            self.record("ticket.printed", {**base, "printer": "kiosk"})
        elif v.step == 1:
            v.window = r.randint(1, 8)
            self.record("ticket.called", {**base, "window": v.window, "calls": 1,
                                          "wait_s": int(time.time() - v.issued) + r.randint(60, 1800)})
        elif v.step == 2 and r.random() < 0.05:
            self.visits.remove(v)
            self.record("ticket.no_show", {**base, "window": v.window, "reason": "operator"})
            return
        elif v.step == 2:
            self.record("ticket.serving", {**base, "window": v.window, "wait_s": r.randint(60, 1800)})
        elif v.step == 3:
            self.record("ticket.done", {**base, "window": v.window, "service_s": r.randint(120, 1500),
                                        "visit_s": r.randint(600, 5400), "implicit": False})
        else:
            self.visits.remove(v)
            self.record("rating.recorded", {**base, "window": v.window, "visit": v.visit,
                                            "score": r.choice((5, 5, 5, 4, 4, 3, 2, 1))})
            return
        v.step += 1

    # -- the pump -------------------------------------------------------------------------
    def pump(self, now: float) -> None:
        """Send what the window allows; rewind when acks stopped coming."""
        if not self.connected:
            if now >= self.next_connect and now >= self.offline_until:
                self.connect(now)
            return
        if self.inflight and now - self.inflight[0][2] > self.ack_timeout:
            self._rewind(loss=True)
        if self.paused or not self.central_online:
            return
        while len(self.inflight) < self.cwnd and self.cursor <= self.last_seq:
            first = self.cursor
            last = min(self.last_seq, first + self.batch_max - 1)
            events = []
            for seq in range(first, last + 1):
                ev, committed, _ = self.outbox[seq]
                ev["hist"] = self.connected_at is not None and committed < self.connected_at
                events.append(ev)
            payload = json.dumps({"v": 1, "site": self.site, "device": self.device,
                                  "session": self.session, "floor": self.acked, "db": self.db,
                                  "events": events}, separators=(",", ":"))
            self.client.publish(self.topics.evt, payload, qos=1)
            self.inflight.append((first, last, now))
            self.cursor = last + 1
            self.stats.sent_batches += 1
            self.stats.sent_events += len(events)

    def goodbye(self) -> None:
        if self.connected:
            self.client.publish(self.topics.state, json.dumps(
                {"v": 1, "online": False, "session": self.session, "db": self.db}), qos=1,
                retain=True)
            self.client.disconnect()
