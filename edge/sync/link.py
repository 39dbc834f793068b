"""The MQTT link to central: lifecycle, one turn of the network loop, births, what comes in.

The parts it drives, each in a module of its own: connection.py (the client's callbacks,
reconnect backoff, the watchdog), identity.py (the database id; another device as us),
limits.py (what the broker refuses: ACL denials, batches too large), cap.py (the outbox
cap), health.py (health and the retained snapshot), pump.py (the window of event
batches), incoming.py (what each topic's message does) and downlink.py (cfg, bookings,
commands). Everything here runs on the network
thread except start(), stop(), health() and the controller's commit callback.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from edge.config.sync import SyncConfig
from edge.queue.commands import RecordEvent
from edge.sync.cap import OutboxCap
from edge.sync.connection import Callbacks, Conn, NetworkThreads, Reconnect
from edge.sync.downlink import Downlink
from edge.sync.health import health_message, link_health
from edge.sync.identity import IdentityWatch, open_database_id
from edge.sync.incoming import handle_inbox
from edge.sync.limits import BrokerLimits, Loss, Sent
from edge.sync.lock import acquire_database_lock
from edge.sync.machine import MachineSource, read_machine
from edge.sync.mqtt import (ClientFactory, broker_settings, close_client, connect_properties,
                            make_client)
from edge.sync.outbox import Fork, OutboxDb
from edge.sync.protocol import CENTRAL_STATE_TOPIC, EdgeState, Topics, dumps
from edge.sync.pump import OutboxPump
from edge.control import QueueControl

if TYPE_CHECKING:
    from edge.component import AppContext

logger = logging.getLogger(__name__)

SOFTWARE = "kezek-edge/0.1"
CAP_CHECK_EVERY_S = 2.0


def build(ctx: "AppContext") -> list[Any]:
    """Wiring entry: the link, once this process holds the database's lock."""
    c = ctx.config
    acquire_database_lock(ctx.db_path)
    return [SyncLink(c.sync, app_config=c, controller=ctx.controller, clock=ctx.clock,
                     db_path=ctx.db_path, state_dir=ctx.state_dir, components=ctx.components,
                     machine=ctx.machine)]


class SyncLink:
    name = "sync"

    def __init__(self, config: SyncConfig, *, app_config: Any, controller: QueueControl,
                 clock: Any,
                 db_path: Path, state_dir: Path, components: dict[str, Any] | None = None,
                 client_factory: ClientFactory | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 current_config: Callable[[], Any] | None = None,
                 machine: MachineSource | None = None) -> None:
        self.config = config
        # Which board this is (passed in so tests can move the card to another board).
        self._machine = machine or read_machine
        self.app_config = app_config
        # The file's config as last loaded (start or SIGHUP), as the controller committed
        # it: what central's cfg is merged over. [center], [storage] and [sync] need a
        # restart, so app_config serves for those.
        self.current_config = current_config or (lambda: self.controller.file_config)
        self.site = app_config.center.site
        self.device = app_config.center.device
        self.controller = controller
        self.clock = clock
        self.db_path = Path(db_path)
        self.state_dir = Path(state_dir)
        self.components = components if components is not None else {}
        self.topics = Topics(self.site, self.device)
        self.client_id = f"kezek-{self.site}-{self.device}"
        self._factory = client_factory or self._default_factory
        self.mono = monotonic
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.threads = NetworkThreads(self._run, watchdog_s=config.watchdog_s, mono=monotonic,
                                      stop=self._stop)
        self.threads.on_restart = self._restarted
        self.callbacks = Callbacks(state_topic=self.topics.state, mono=monotonic,
                                   connected=self._connected, taken_over=self._taken_over)
        self.reconnect = Reconnect(config.reconnect_min_s, config.reconnect_max_s, monotonic)
        self.limits = BrokerLimits(config.batch_max_bytes, self.topics.evt, self.device)
        self.identity = IdentityWatch(self.site, self.device, self.emit)
        self._subscribed = False
        self.conn: Conn | None = None
        self.db: OutboxDb | None = None
        self.db_id: str | None = None
        self.fork: Fork | None = None
        self._fork_committed = threading.Event()   # our sync.db_changed event is stored
        self.pump: OutboxPump | None = None
        self.downlink: Downlink | None = None
        self.cap: OutboxCap | None = None
        self._next_health = 0.0
        self._next_cap_check = 0.0
        # Counters for health().
        self.connects = 0
        self.bad_messages = 0
        self.last_error = ""

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        acquire_database_lock(self.db_path)
        self.db = OutboxDb(self.db_path)
        self.db_id, self.fork, error = open_database_id(self.db, self._machine, self.emit)
        if error:
            self.last_error = error
        c = self.config
        self.pump = OutboxPump(self.db, site=self.site, device=self.device,
                               window=c.inflight_batches, max_events=c.batch_max_events,
                               max_bytes=c.batch_max_bytes, ack_timeout_s=c.ack_timeout_s,
                               db_id=self.db_id, fork=self.fork)
        self.downlink = Downlink(self.db, self.controller, self.current_config, self.clock,
                                 emit=self.emit, resend=self._resend,
                                 max_bytes=c.downlink_max_bytes)
        self.cap = OutboxCap(self.db, cap=self.app_config.storage.outbox_cap,
                             alarm_ratio=c.outbox_alarm_ratio, policy=c.outbox_full_policy,
                             dropped=self.pump.note_dropped, emit=self.emit)
        # The engine keeps alarms across restarts: one raised by an earlier run is
        # cleared by the first connection that gets through what was refused.
        alarms = self.controller.snapshot.alarms
        if "sync.denied" in alarms:
            self.limits.restore(str(alarms["sync.denied"].get("message") or ""))
        self.identity.raised = "sync.identity" in alarms
        self.downlink.restore()
        if not self._subscribed:
            self.controller.subscribe(self._on_applied)
            self._subscribed = True
        self._stop.clear()
        self.threads.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        busy = self.threads.join(timeout)
        if self.db is not None:
            if busy:
                # Closing a SQLite connection while another thread is inside a call on it
                # crashes the process (seen under load: a segfault in the link's read).
                logger.warning("sync: %s still busy after %.1f s; its database connection "
                               "is left to the end of the process", ", ".join(busy), timeout)
            else:
                self.db.close()

    def health(self) -> dict[str, Any]:
        return link_health(self)

    def emit(self, type_: str, data: dict[str, Any]) -> None:
        """Record an event of the link's own (results, rejections, alarms) via the loop."""
        self.controller.submit(RecordEvent(type_, data, source="sync"))

    def _on_applied(self, applied: Any) -> None:
        # Runs on the controller's thread after a commit: only wake the pump.
        if applied.events:
            if self.fork is not None and not self.fork.reported and any(
                    e.type == "sync.db_changed" and e.data.get("db") == self.db_id
                    for e in applied.events):
                self._fork_committed.set()   # persisted by the network thread
            self._wake.set()

    def _resend(self, from_seq: int) -> int:
        assert self.pump is not None
        return self.pump.rewind(from_seq, self.mono(), "central asked")

    def _restarted(self, why: str) -> None:
        self.last_error = f"network loop {why}; restarted by the watchdog"

    # -- the network thread ---------------------------------------------------------
    def _run(self, gen: int) -> None:
        conn: Conn | None = None
        try:
            while self.threads.current(gen):
                self.threads.beat()
                try:
                    conn = self._step(gen, conn)
                except Exception as e:  # never let the loop die on a bug or odd input
                    logger.exception("sync: network loop error")
                    self.last_error = f"{type(e).__name__}: {e}"
                    self._drop(conn, f"error: {e}")
                    conn = None
        finally:
            if conn is not None:
                if self._stop.is_set() and conn.connected and self.threads.latest(gen):
                    conn.goodbye(self.topics.state, self._death(conn.session), self.mono)
                close_client(conn.client)
            if self.conn is conn:
                self.conn = None

    def _step(self, gen: int, conn: Conn | None) -> Conn | None:
        assert self.pump is not None
        now = self.mono()
        if conn is None:
            if now < self.reconnect.next_attempt:
                self._wake.wait(min(0.25, self.reconnect.next_attempt - now))
                self._wake.clear()
                self._periodic(None, now)
                return None
            return self._connect()
        rc = conn.client.loop(timeout=0.05 if conn.connected else 0.1)
        if not self.threads.current(gen):
            return conn
        if rc != 0 or conn.lost:
            self._lost(conn, conn.lost_reason or f"connection lost (rc {rc})")
            return None
        if conn.denied:
            self._refused(conn)
            return None
        if self.limits.denied and self.limits.cured(conn.seen(self.pump.acked)):
            logger.info("sync: the broker accepts our subscriptions and publishes again")
            self.emit("alarm.cleared", {"alarm": "sync.denied"})
        if not conn.connected and now - conn.started > self.config.connect_timeout_s:
            self._drop(conn, "no CONNACK in time")
            return None
        handle_inbox(self, conn)
        if conn.connected:
            if now - conn.connected_at > max(5.0, self.config.keepalive_s):
                self.reconnect.stable()
            self.identity.connected_for(now - conn.connected_at, self.config.reconnect_max_s)
            if conn.central_online:
                self._wake.clear()
                self.pump.pump(now, lambda payload: conn.publish(self.topics.evt, payload))
        self._periodic(conn, now)
        return conn

    def _periodic(self, conn: Conn | None, now: float) -> None:
        if self._fork_committed.is_set() and self.db is not None and self.fork is not None:
            self._fork_committed.clear()
            self.db.fork_reported()
            self.fork = replace(self.fork, reported=True)
        if self.downlink is not None:
            self.downlink.poll()
        if self.cap is not None and now >= self._next_cap_check:
            self._next_cap_check = now + CAP_CHECK_EVERY_S
            self.cap.check()
        if conn is not None and conn.connected and now >= self._next_health:
            self._next_health = now + self.config.health_interval_s
            conn.publish(self.topics.health, dumps(health_message(self, conn)), retain=True)

    # -- connecting and losing ------------------------------------------------------
    def _default_factory(self, client_id: str) -> Any:
        return make_client(broker_settings(self.config), client_id)

    def _connect(self) -> Conn | None:
        assert self.db is not None
        session = self.db.next_session()
        client = self._factory(self.client_id)
        conn = Conn(client=client, session=session, started=self.mono())
        self.callbacks.attach(client, conn)
        client.max_inflight_messages_set(max(20, self.config.inflight_batches + 10))
        client.will_set(self.topics.state, self._death(session), qos=1, retain=True)
        self.conn = conn
        try:
            client.connect(self.config.host, self.config.port, keepalive=self.config.keepalive_s,
                           clean_start=False,
                           properties=connect_properties(self.config.session_expiry_s))
        except (OSError, ValueError) as e:
            self._drop(conn, f"cannot connect to {self.config.host}:{self.config.port}: {e}")
            return None
        logger.debug("sync: connecting, session %s", session)
        return conn

    def _connected(self, conn: Conn) -> None:
        """CONNACK accepted (paho's on_connect): subscribe, birth, resend from the start."""
        assert self.pump is not None
        self.connects += 1
        t = self.topics
        topics = [t.ack, t.cfg, t.bookings, t.cmd, t.state, CENTRAL_STATE_TOPIC]
        _, mid = conn.client.subscribe([(topic, 1) for topic in topics])
        conn.sub_topics[mid] = topics
        self.birth(conn)
        self.pump.start_session(conn.session, self.mono())
        self._fit_batches(conn)
        self._next_health = 0.0
        logger.info("sync: connected to %s:%s, session %s", self.config.host,
                    self.config.port, conn.session)

    def _fit_batches(self, conn: Conn) -> None:
        """Keep event batches within the Maximum Packet Size the broker announced (CONNACK):
        the broker's own statement of its limit, so no batch is refused for its size."""
        assert self.pump is not None
        fit = self.limits.fit(conn.max_packet)
        if fit < self.limits.limit:
            logger.info("sync: the broker takes packets of at most %s bytes: event "
                        "batches of at most %s bytes", conn.max_packet, fit)
        self.pump.max_bytes = fit

    def _taken_over(self) -> None:
        self.identity.conflict(f"another device connected as {self.site}/{self.device}")

    def _lost(self, conn: Conn, reason: str) -> None:
        """The connection ended: closed by us, lost, or the broker's refusal of a batch."""
        assert self.pump is not None
        if conn.ended_by_us:
            self._drop(conn, reason)
            return
        pump = self.pump
        sent_at = pump.last_sent_at
        refusal = self.limits.lost(Loss(
            reason, code=conn.lost_code, by_broker=conn.lost_by_broker,
            connected=conn.connected,
            inflight=tuple(Sent(b.first, b.last, b.size) for b in pump.inflight),
            since_sent=None if sent_at is None else self.mono() - sent_at,
            max_packet=conn.max_packet))
        if refusal is None:
            self._drop(conn, reason, lost=True)
            return
        pump.max_bytes = self.limits.limit
        logger.error("sync: %s", refusal.message)
        if refusal.raise_alarm:
            self.emit("alarm.raised", {"alarm": "sync.denied", "severity": "critical",
                                       "message": refusal.message[:500]})
        self._drop(conn, refusal.message, slow=True, lost=True)

    def _refused(self, conn: Conn) -> None:
        """The broker refused a publish or subscription: say why, alarm, back off."""
        refusal = self.limits.refused(conn.denied, conn.refused_pub)
        if refusal.raise_alarm:
            logger.error("sync: %s", refusal.message)
            self.emit("alarm.raised", {"alarm": "sync.denied", "severity": "critical",
                                       "message": refusal.message[:500]})
        self._drop(conn, refusal.message, slow=True)

    def _drop(self, conn: Conn | None, reason: str, *, slow: bool = False,
              lost: bool = False) -> None:
        if conn is not None:
            if conn.connected:
                self.identity.connection_ended(lost=lost, foreign=conn.foreign,
                                               birth_acked=conn.birth_acked)
                logger.warning("sync: link to %s:%s down: %s", self.config.host,
                               self.config.port, reason)
            else:
                logger.info("sync: connection attempt failed: %s", reason)
            self.last_error = reason
            close_client(conn.client)
            if self.conn is conn:
                self.conn = None
        self.reconnect.failed(slow=slow or "taken over" in reason)

    # -- outgoing -------------------------------------------------------------------
    def birth(self, conn: Conn) -> None:
        assert self.db is not None and self.pump is not None
        reading = self.clock.read()
        birth = EdgeState(online=True, session=conn.session, ts=reading.wall_ms, boot=reading.boot,
                          last_seq=self.db.last_assigned_seq(), acked_seq=self.pump.acked,
                          software=SOFTWARE, db=self.db_id)
        conn.publish(self.topics.state, dumps(birth.model_dump(exclude_none=True)), retain=True)

    def _death(self, session: int) -> bytes:
        """Our state when offline: the will, and what a clean stop publishes."""
        return dumps({"v": 1, "online": False, "session": session, "db": self.db_id})
