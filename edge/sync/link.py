"""The MQTT link to central: state birth/will, outbox pump, downlink, health, watchdog.

One named thread owns the paho client and drives it with `client.loop()`: callbacks run
on that thread and only record what arrived, so the client is never touched from two
threads (paho's thread safety is partial). Each connection gets a fresh client and a new
persisted session number (its will carries it). A watchdog thread replaces the network
thread and its client when the loop stops showing life (an exception, a hang).
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from edge.config.sync import SyncConfig
from edge.queue.commands import RecordEvent
from edge.storage.outbox import trim_to_cap
from edge.sync.downlink import Downlink
from edge.sync.lock import acquire_identity_lock
from edge.sync.mqtt import (BrokerSettings, ClientFactory, close_client, connect_properties,
                            make_client)
from edge.sync.machine import Machine, MachineSource, read_machine
from edge.sync.outbox import Fork, OutboxDb
from pydantic import ValidationError

from edge.sync.protocol import (CENTRAL_STATE_TOPIC, Ack, CentralState, EdgeState, PayloadError,
                                Topics, dumps, explain, parse)
from edge.sync.pump import OutboxPump
from edge.backoff import Backoff
from edge.control import QueueControl

if TYPE_CHECKING:
    from edge.component import AppContext

logger = logging.getLogger(__name__)

SOFTWARE = "kezek-edge/0.1"
SESSION_TAKEN_OVER = 142  # MQTT v5 reason code: another client connected with our id
PROTOCOL_ERROR = 130      # MQTT v5 reason code (also paho's own, for an unreadable packet)
PACKET_TOO_LARGE = 149    # MQTT v5 reason code 0x95
CRITICAL_CLEAR_RATIO = 0.95  # a critical outbox alarm goes back to warning below this
# How a broker refuses a message that is too large, and what the edge takes as proof:
# - A DISCONNECT with reason 0x95 "packet too large" (Mosquitto's max_packet_size, MQTT 5
#   brokers in general): the broker says so; believed at once.
# - Mosquitto 2.0's message_size_limit answers with a PUBACK 0x95, a code MQTT 5 does not
#   allow in a PUBACK: paho cannot read it and ends the connection as a "protocol error".
#   Believed when it happens OVERSIZE_LOSSES times in a row, each within OVERSIZE_WINDOW_S
#   of an event batch going out, with the same first unacked seq.
# A connection merely lost (reset, EOF, keepalive timeout) is never taken for a refusal,
# however often it follows a large batch: that is a flaky link, and halving the batches
# for good (and a critical alarm) would be the wrong answer to it.
OVERSIZE_LOSSES = 2
OVERSIZE_WINDOW_S = 5.0
# Bytes of an MQTT 5 PUBLISH beyond its payload and topic: fixed header (1 + up to 4 for
# the remaining length), topic length (2), packet id (2), property length (1, none sent).
PUBLISH_OVERHEAD = 10


def build(ctx: "AppContext") -> list[Any]:
    """Wiring entry: the link, once this process holds the device's identity lock."""
    c = ctx.config
    acquire_identity_lock(ctx.state_dir, c.center.site, c.center.device)
    return [SyncLink(c.sync, app_config=c, controller=ctx.controller, clock=ctx.clock,
                     db_path=ctx.db_path, state_dir=ctx.state_dir, components=ctx.components,
                     machine=ctx.machine)]


@dataclass
class _Conn:
    """One connection attempt: its client, session and what its callbacks saw."""

    client: Any
    session: int
    started: float
    connected: bool = False
    lost: bool = False
    lost_reason: str = ""
    central_online: bool = False
    inbox: deque[tuple[str, bytes, int, int]] = field(default_factory=deque)
    connected_at: float = 0.0
    lost_code: int | None = None              # reason code of the disconnect, if any
    lost_by_broker: bool = False              # the broker sent a DISCONNECT packet
    max_packet: int | None = None             # the broker's Maximum Packet Size (CONNACK)
    # mid -> topic(s) of our SUBSCRIBE / PUBLISH packets, to name a refused one.
    sub_topics: dict[int, list[str]] = field(default_factory=dict)
    pub_topics: dict[int, str] = field(default_factory=dict)
    subscribed: bool = False                  # every subscription granted
    published: bool = False                   # a publish got a successful PUBACK
    accepted: set[str] = field(default_factory=set)  # topics of publishes PUBACKed
    refused_pub: set[str] = field(default_factory=set)  # topics of publishes refused
    central_acked: bool = False               # central acked our events on it
    denied: list[str] = field(default_factory=list)  # "publish to T: reason", ...
    ended_by_us: bool = False                 # we chose to drop it (not a lost connection)
    saw_foreign: bool = False                 # an online birth of another database seen
    birth_acked: bool = False                 # a birth of ours got its PUBACK (retained)


class SyncLink:
    name = "sync"

    def __init__(self, config: SyncConfig, *, app_config: Any, controller: QueueControl, clock: Any,
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
        self._mono = monotonic
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._gen = 0
        self._gen_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self._beat = 0.0
        self._subscribed = False
        self._conn: _Conn | None = None
        self.db: OutboxDb | None = None
        self.db_id: str | None = None
        self.fork: Fork | None = None
        self._fork_committed = threading.Event()   # our sync.db_changed event is stored
        self.pump: OutboxPump | None = None
        self.downlink: Downlink | None = None
        # Reconnects wait longer after each failure in a row, reset by a stable connection.
        self._reconnect = Backoff(config.reconnect_min_s, config.reconnect_max_s)
        self._next_attempt = 0.0
        self._next_health = 0.0
        self._next_cap_check = 0.0
        self._outbox_level = "ok"
        self._outbox_count = 0
        self._denied = ""   # what the broker refused on the last connection ("" = nothing)
        # Topics whose publishes the broker refused while sync.denied is raised: it clears
        # only once a publish to each is accepted (or central acks our events).
        self._denied_topics: set[str] = set()
        self._identity_alarm = False  # sync.identity raised and not cleared yet
        # The previous connection saw another database's online birth on our state topic,
        # published our birth over it, and was then lost (not closed by us): if the next
        # connection sees a foreign birth again, another device is live with our identity.
        self._foreign_before = False
        # Connections ended by a protocol error right after an event batch went out:
        # (first unacked seq, count).
        self._oversize: tuple[int, int] = (0, 0)
        # The batch byte limit: sync.batch_max_bytes, lowered when the broker refuses a
        # batch as too large; each connection uses the lower of it and the broker's limit.
        self._batch_limit = config.batch_max_bytes
        # Counters for health().
        self.connects = 0
        self.watchdog_restarts = 0
        self.bad_messages = 0
        self.last_error = ""

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        acquire_identity_lock(self.state_dir, self.site, self.device)
        self.db = OutboxDb(self.db_path)
        self._open_database()
        c = self.config
        self.pump = OutboxPump(self.db, site=self.site, device=self.device,
                               window=c.inflight_batches, max_events=c.batch_max_events,
                               max_bytes=c.batch_max_bytes, ack_timeout_s=c.ack_timeout_s,
                               db_id=self.db_id, fork=self.fork)
        self.downlink = Downlink(self.db, self.controller, self.current_config, self.clock,
                                 emit=self.emit, resend=self._resend,
                                 max_bytes=c.downlink_max_bytes)
        self._outbox_level = self.db.get("sync.outbox_alarm", "ok") or "ok"
        # The engine keeps alarms across restarts: one raised by an earlier run is
        # cleared by the first connection the broker fully accepts.
        alarms = self.controller.snapshot.alarms
        if "sync.denied" in alarms:
            self._denied = str(alarms["sync.denied"].get("message") or "refused by the broker")
            self._denied_topics = set(re.findall(r"publish to (\S+):", self._denied))
        self._identity_alarm = "sync.identity" in alarms
        self.downlink.restore()
        if not self._subscribed:
            self.controller.subscribe(self._on_applied)
            self._subscribed = True
        self._stop.clear()
        self._spawn_network()
        self._watchdog = threading.Thread(target=self._watch, name="kezek-sync-watchdog",
                                          daemon=True)
        self._watchdog.start()

    def _open_database(self) -> None:
        """The database id, bound to this machine; a new one if the card came from another."""
        assert self.db is not None
        try:
            machine = self._machine()
        except Exception as e:   # never keep the controller from starting over this
            logger.exception("sync: cannot tell which machine this is")
            machine = Machine()
            self.last_error = f"machine id: {type(e).__name__}: {e}"
        if not machine.ids:
            logger.warning("sync: no board serial, machine UUID, hardware MAC or machine-id "
                           "readable: a copy of this card on another board cannot be told "
                           "apart (docs/operations.md)")
        elif not machine.strong:
            logger.warning("sync: only /etc/machine-id identifies this machine, and an image "
                           "copy keeps it: a cloned card is not detected (docs/operations.md)")
        ident = self.db.database_id(machine)
        self.db_id, self.fork = ident.db, ident.fork
        if ident.moved is not None:
            logger.warning(
                "sync: this database was made on another machine (now identified by %s): "
                "the SD card was moved or copied. Sending as the new database %s (was %s); "
                "events up to seq %s came with the card", machine.describe(), ident.db,
                ident.moved.prev_db, ident.moved.fork_seq)
        fork = self.fork
        if fork is not None and not fork.reported:
            # Emitted at every start until it is committed (a power cut right after the
            # new id was written must not leave it untold).
            self.emit("sync.db_changed", {
                "reason": "other_machine", "db": self.db_id, "prev_db": fork.prev_db,
                "fork_seq": fork.fork_seq, "acked_seq": fork.acked_seq,
                "machine": machine.describe(),
                "message": "the SD card was moved to or copied onto another machine: its "
                           "events continue as a new stream at central"})

    def stop(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        for t in (self._watchdog, self._thread):
            if t is not None:
                t.join(max(0.1, deadline - time.monotonic()))
        if self.db is not None:
            self.db.close()

    def health(self) -> dict[str, Any]:
        conn = self._conn
        out: dict[str, Any] = {
            "ok": bool(conn and conn.connected) and not self._denied,
            "broker": f"{self.config.host}:{self.config.port}",
            "connected": bool(conn and conn.connected),
            "central_online": bool(conn and conn.central_online),
            "session": conn.session if conn else None, "connects": self.connects,
            "watchdog_restarts": self.watchdog_restarts, "bad_messages": self.bad_messages,
            "outbox": self._outbox_count, "outbox_cap": self.app_config.storage.outbox_cap,
            "outbox_alarm": self._outbox_level, "last_error": self.last_error,
            "denied": self._denied,
            # Which stream central keeps this box's events in; prev_db when the card came
            # from another machine (see sync.db_changed).
            "db": self.db_id, "prev_db": self.fork.prev_db if self.fork else None,
        }
        if self.pump is not None:
            out.update(self.pump.health())
        if self.downlink is not None:
            out.update(self.downlink.health())
        return out

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
        return self.pump.rewind(from_seq, self._mono(), "central asked")

    # -- threads --------------------------------------------------------------------
    def _spawn_network(self) -> None:
        with self._gen_lock:
            self._gen += 1
            gen = self._gen
        self._beat = self._mono()
        self._thread = threading.Thread(target=self._run, args=(gen,),
                                        name=f"kezek-sync-net-{gen}", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        period = min(1.0, self.config.watchdog_s / 4)
        while not self._stop.wait(period):
            t = self._thread
            stale = self._mono() - self._beat > self.config.watchdog_s
            if t is not None and t.is_alive() and not stale:
                continue
            why = "hangs" if t is not None and t.is_alive() else "died"
            logger.error("sync: the network loop %s; starting a new client", why)
            self.last_error = f"network loop {why}; restarted by the watchdog"
            self.watchdog_restarts += 1
            self._spawn_network()

    def _current(self, gen: int) -> bool:
        return gen == self._gen and not self._stop.is_set()

    def _run(self, gen: int) -> None:
        conn: _Conn | None = None
        try:
            while self._current(gen):
                self._beat = self._mono()
                try:
                    conn = self._step(gen, conn)
                except Exception as e:  # never let the loop die on a bug or odd input
                    logger.exception("sync: network loop error")
                    self.last_error = f"{type(e).__name__}: {e}"
                    self._drop(conn, f"error: {e}")
                    conn = None
        finally:
            if conn is not None:
                if self._stop.is_set() and conn.connected and gen == self._gen:
                    self._goodbye(conn)
                close_client(conn.client)
            if self._conn is conn:
                self._conn = None

    def _step(self, gen: int, conn: _Conn | None) -> _Conn | None:
        now = self._mono()
        if conn is None:
            if now < self._next_attempt:
                self._wake.wait(min(0.25, self._next_attempt - now))
                self._wake.clear()
                self._periodic(None, now)
                return None
            return self._connect()
        rc = conn.client.loop(timeout=0.05 if conn.connected else 0.1)
        if not self._current(gen):
            return conn
        if rc != 0 or conn.lost:
            reason = conn.lost_reason or f"connection lost (rc {rc})"
            lost = not conn.ended_by_us
            too_big = self._too_big(conn, reason) if lost else None
            if too_big:
                self._drop(conn, too_big, slow=True, lost=True)
                return None
            self._drop(conn, reason, lost=lost)
            return None
        if conn.denied:
            self._refused(conn)
            return None
        if self._denied and self._accepted(conn):
            self._authorized()
        if not conn.connected and now - conn.started > self.config.connect_timeout_s:
            self._drop(conn, "no CONNACK in time")
            return None
        self._handle_inbox(conn)
        if conn.connected:
            if now - conn.connected_at > max(5.0, self.config.keepalive_s):
                self._reconnect.reset()  # a stable connection
            if self._identity_alarm and now - conn.connected_at > 2 * self.config.reconnect_max_s:
                # Another device with our identity would have taken the session back by
                # now (it retries every reconnect_max_s): it is gone.
                self._identity_alarm = False
                logger.info("sync: no other device has used our identity for a while")
                self.emit("alarm.cleared", {"alarm": "sync.identity"})
            if conn.central_online:
                assert self.pump is not None
                self._wake.clear()
                self.pump.pump(now, lambda payload: self._publish(conn, self.topics.evt, payload))
        self._periodic(conn, now)
        return conn

    # -- connection -----------------------------------------------------------------
    def _default_factory(self, client_id: str) -> Any:
        c = self.config
        settings = BrokerSettings(host=c.host, port=c.port, tls=c.tls, ca_file=c.ca_file,
                                  cert_file=c.cert_file, key_file=c.key_file,
                                  username=c.username,
                                  password=c.read_password() if c.username else None,
                                  keepalive_s=c.keepalive_s, connect_timeout_s=c.connect_timeout_s)
        return make_client(settings, client_id)

    def _connect(self) -> _Conn | None:
        assert self.db is not None
        session = self.db.next_session()
        client = self._factory(self.client_id)
        conn = _Conn(client=client, session=session, started=self._mono())
        client.user_data_set(conn)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        client.max_inflight_messages_set(max(20, self.config.inflight_batches + 10))
        client.will_set(self.topics.state, dumps({"v": 1, "online": False, "session": session,
                                                  "db": self.db_id}), qos=1, retain=True)
        self._conn = conn
        try:
            client.connect(self.config.host, self.config.port, keepalive=self.config.keepalive_s,
                           clean_start=False,
                           properties=connect_properties(self.config.session_expiry_s))
        except (OSError, ValueError) as e:
            self._drop(conn, f"cannot connect to {self.config.host}:{self.config.port}: {e}")
            return None
        logger.debug("sync: connecting, session %s", session)
        return conn

    def _drop(self, conn: _Conn | None, reason: str, *, slow: bool = False,
              lost: bool = False) -> None:
        if conn is not None:
            if conn.connected:
                self._foreign_before = lost and conn.saw_foreign and conn.birth_acked
            if conn.connected:
                logger.warning("sync: link to %s:%s down: %s", self.config.host,
                               self.config.port, reason)
            else:
                logger.info("sync: connection attempt failed: %s", reason)
            self.last_error = reason
            close_client(conn.client)
            if self._conn is conn:
                self._conn = None
        delay = self._reconnect.next()
        c = self.config
        if slow or "taken over" in reason:
            # Another process uses our identity, or the broker refuses us: retrying at
            # once cannot help (and would resend every event), so wait the longest delay.
            delay = c.reconnect_max_s
        # Jitter spreads the reconnects of many centers after a broker restart.
        self._next_attempt = self._mono() + delay * random.uniform(0.5, 1.0)
        return None

    def _on_connect(self, client: Any, conn: _Conn, flags: Any, reason: Any, props: Any) -> None:
        try:
            if reason.is_failure:
                conn.lost, conn.lost_reason = True, f"broker refused: {reason}"
                return
            conn.connected = True
            conn.connected_at = self._mono()
            self.connects += 1
            t = self.topics
            topics = [t.ack, t.cfg, t.bookings, t.cmd, t.state, CENTRAL_STATE_TOPIC]
            _, mid = client.subscribe([(topic, 1) for topic in topics])
            conn.sub_topics[mid] = topics
            self._birth(conn)
            assert self.pump is not None
            self.pump.start_session(conn.session, self._mono())
            self._fit_batches(conn, props)
            self._next_health = 0.0
            logger.info("sync: connected to %s:%s, session %s", self.config.host,
                        self.config.port, conn.session)
        except Exception:
            logger.exception("sync: on_connect failed")
            conn.lost, conn.lost_reason = True, "on_connect failed"

    def _on_disconnect(self, client: Any, conn: _Conn, flags: Any, reason: Any,
                       props: Any) -> None:
        try:
            conn.lost = True
            value = getattr(reason, "value", reason)
            conn.lost_code = value if isinstance(value, int) else None
            conn.lost_by_broker = bool(getattr(flags, "is_disconnect_packet_from_server", False))
            if value == SESSION_TAKEN_OVER:
                conn.lost_reason = "session taken over by another client with the same identity"
                self._identity_conflict(f"another device connected as {self.site}/{self.device}")
            else:
                conn.lost_reason = f"disconnected: {reason}"
        except Exception:
            logger.exception("sync: on_disconnect failed")

    def _on_subscribe(self, client: Any, conn: _Conn, mid: int, reason_codes: list[Any],
                      props: Any) -> None:
        # The broker grants or refuses each subscription on its own (SUBACK reason codes):
        # an ACL that does not match our identity refuses them all with 0x87.
        try:
            topics = conn.sub_topics.pop(mid, [])
            for i, rc in enumerate(reason_codes):
                if getattr(rc, "is_failure", False):
                    topic = topics[i] if i < len(topics) else "?"
                    conn.denied.append(f"subscribe to {topic}: {rc}")
            if not conn.denied:
                conn.subscribed = True
        except Exception:
            logger.exception("sync: on_subscribe failed")

    def _on_publish(self, client: Any, conn: _Conn, mid: int, reason: Any, props: Any) -> None:
        # PUBACK with a failure code (0x87 not authorized, 0x97 quota...): the broker
        # dropped the message. Without this check the pump would resend it forever.
        try:
            topic = conn.pub_topics.pop(mid, "?")
            if getattr(reason, "is_failure", False):
                conn.denied.append(f"publish to {topic}: {reason}")
                conn.refused_pub.add(topic)
            else:
                conn.published = True
                conn.accepted.add(topic)
                if topic == self.topics.state:
                    conn.birth_acked = True
        except Exception:
            logger.exception("sync: on_publish failed")

    def _identity_conflict(self, what: str) -> None:
        message = f"{what}; check that no two controllers share center.device"
        logger.error("sync: %s", message)
        if self._identity_alarm:
            return  # raised already: one event per conflict, not one per reconnect
        self._identity_alarm = True
        self.emit("alarm.raised", {"alarm": "sync.identity", "severity": "critical",
                                   "message": message[:500]})

    def _refused(self, conn: _Conn) -> None:
        """The broker refused a publish or subscription: say why, alarm, back off."""
        what = "; ".join(conn.denied[:3]) + (f" (+{len(conn.denied) - 3} more)"
                                              if len(conn.denied) > 3 else "")
        fix = (f"check the broker's ACL and that the MQTT username or the client "
               f"certificate's CN equals center.device ({self.device})")
        message = f"the broker refused to {what}; {fix}"
        self._denied_topics |= conn.refused_pub
        if message != self._denied:
            logger.error("sync: %s", message)
            self._denied = message
            self.emit("alarm.raised", {"alarm": "sync.denied", "severity": "critical",
                                       "message": message[:500]})
        self._drop(conn, message, slow=True)
        return None

    def _fit_batches(self, conn: _Conn, props: Any) -> None:
        """Keep event batches within the Maximum Packet Size the broker announced (CONNACK):
        the broker's own statement of its limit, so no batch is refused for its size."""
        assert self.pump is not None
        limit = getattr(props, "MaximumPacketSize", None) if props is not None else None
        conn.max_packet = int(limit) if isinstance(limit, int) and limit > 0 else None
        fit = self._batch_limit
        if conn.max_packet is not None:
            fit = min(fit, max(1, conn.max_packet - PUBLISH_OVERHEAD
                               - len(self.topics.evt.encode("utf-8"))))
            if fit < self._batch_limit:
                logger.info("sync: the broker takes packets of at most %s bytes: event "
                            "batches of at most %s bytes", conn.max_packet, fit)
        self.pump.max_bytes = fit

    def _too_big(self, conn: _Conn, reason: str) -> str | None:
        """A lost connection: the broker's answer to an event batch it finds too large?

        Only the broker's own signals count (see OVERSIZE_LOSSES): a DISCONNECT 0x95, at
        once; the "protocol error" paho reports for Mosquitto's PUBACK 0x95, when it
        repeats after the same batch. Returns the refusal message (alarm raised, batch
        limit lowered), or None for a connection that was merely lost.
        """
        assert self.pump is not None
        pump = self.pump
        sent_at = pump.last_sent_at
        recent = conn.connected and bool(pump.inflight) and sent_at is not None \
            and self._mono() - sent_at <= OVERSIZE_WINDOW_S
        if recent and conn.lost_code == PACKET_TOO_LARGE and conn.lost_by_broker:
            self._oversize = (0, 0)
            big = max(pump.inflight, key=lambda b: b.size)
            return self._too_big_refused(big.size, f"the broker said so ({reason})",
                                         big.first, big.last)
        if not recent or conn.lost_code != PROTOCOL_ERROR:
            self._oversize = (0, 0)   # a flaky link, a broker restart: not the batch's fault
            return None
        head = pump.inflight[0]
        first, count = self._oversize
        count = count + 1 if first == head.first else 1
        self._oversize = (head.first, count)
        if count < OVERSIZE_LOSSES:
            return None
        big = max(pump.inflight, key=lambda b: b.size)
        return self._too_big_refused(
            big.size, f"the connection ended with a protocol error {count} times in a "
            f"row right after it went out ({reason})", big.first, big.last)

    def _too_big_refused(self, size: int, how: str, first: int = 0,
                         last: int = 0) -> str:
        """The broker refused an event batch of `size` bytes: alarm, smaller batches."""
        assert self.pump is not None
        pump = self.pump
        # Halve from the refused size; 1 means one event per batch (an event is never split).
        self._batch_limit = max(1, min(self._batch_limit, size) // 2)
        pump.max_bytes = self._batch_limit
        seqs = f" (seq {first}..{last})" if first else ""
        message = (f"the broker refused an event batch of {size} bytes{seqs}: {how}; it "
                   f"takes no messages that large (Mosquitto's message_size_limit or "
                   f"max_packet_size); raise that limit or lower sync.batch_max_bytes "
                   f"({self.config.batch_max_bytes}); trying batches of at most "
                   f"{pump.max_bytes} bytes")
        logger.error("sync: %s", message)
        self._denied_topics.add(self.topics.evt)
        if not self._denied:
            self.emit("alarm.raised", {"alarm": "sync.denied", "severity": "critical",
                                       "message": message[:500]})
        self._denied = message
        return message

    def _accepted(self, conn: _Conn) -> bool:
        """Did this connection get through what the broker refused before?

        Every subscription granted, and a publish accepted on each topic that was refused
        (a broker may take our birth and health but refuse evt: that is no cure); for evt,
        central's ack counts too. Without a refused topic on record, any accepted publish.
        """
        if not conn.subscribed:
            return False
        if not self._denied_topics:
            return conn.published
        return all(t in conn.accepted or (t == self.topics.evt and conn.central_acked)
                   for t in self._denied_topics)

    def _authorized(self) -> None:
        """A connection got through everything the broker refused before."""
        logger.info("sync: the broker accepts our subscriptions and publishes again")
        self._denied = ""
        self._denied_topics = set()
        self.emit("alarm.cleared", {"alarm": "sync.denied"})

    def _on_message(self, client: Any, conn: _Conn, msg: Any) -> None:
        try:
            conn.inbox.append((msg.topic, bytes(msg.payload), msg.mid, msg.qos))
        except Exception:
            logger.exception("sync: on_message failed")

    def _birth(self, conn: _Conn) -> None:
        assert self.db is not None and self.pump is not None
        reading = self.clock.read()
        birth = EdgeState(online=True, session=conn.session, ts=reading.wall_ms, boot=reading.boot,
                          last_seq=self.db.last_assigned_seq(), acked_seq=self.pump.acked,
                          software=SOFTWARE, db=self.db_id)
        info = conn.client.publish(self.topics.state,
                                   dumps(birth.model_dump(exclude_none=True)), qos=1, retain=True)
        conn.pub_topics[info.mid] = self.topics.state

    def _goodbye(self, conn: _Conn) -> None:
        """A clean stop: say offline (the will is only for unclean ends) and disconnect."""
        try:
            info = conn.client.publish(self.topics.state, dumps(
                {"v": 1, "online": False, "session": conn.session, "db": self.db_id}),
                qos=1, retain=True)
            deadline = self._mono() + 1.0
            while not info.is_published() and self._mono() < deadline:
                if conn.client.loop(timeout=0.05) != 0:
                    break
            conn.client.disconnect()
            conn.client.loop(timeout=0.05)
        except Exception:
            logger.debug("sync: goodbye failed", exc_info=True)

    def _publish(self, conn: _Conn, topic: str, payload: bytes, *, retain: bool = False) -> bool:
        if not conn.connected or conn.lost:
            return False
        info = conn.client.publish(topic, payload, qos=1, retain=retain)
        # Callbacks run on this thread inside loop(), so the PUBACK cannot come first.
        conn.pub_topics[info.mid] = topic
        return info.rc == 0

    # -- incoming -------------------------------------------------------------------
    def _handle_inbox(self, conn: _Conn) -> None:
        assert self.pump is not None and self.downlink is not None
        while conn.inbox:
            topic, payload, mid, qos = conn.inbox.popleft()
            try:
                self._dispatch(conn, topic, payload)
            except Exception:
                logger.exception("sync: handling a message on %s failed", topic)
                self.bad_messages += 1
            finally:
                # Manual ack: PUBACK only once the message was handled (a command's id
                # is persisted by then), so a crash before it means the broker resends.
                if qos > 0:
                    conn.client.ack(mid, qos)
        self.downlink.poll()

    def _dispatch(self, conn: _Conn, topic: str, payload: bytes) -> None:
        assert self.pump is not None and self.downlink is not None
        t = self.topics
        if topic == t.ack:
            try:
                ack = parse(Ack, payload, 4096)
            except (PayloadError, ValueError) as e:
                self.bad_messages += 1
                self.downlink.refuse_ack(e)   # counted, logged once per kind
                return
            if self.pump.on_ack(ack.acked_seq, self._mono(), ack.resend_from, ack.db):
                conn.central_acked = True
        elif topic == CENTRAL_STATE_TOPIC:
            try:
                state = parse(CentralState, payload, 4096) if payload else None
            except (PayloadError, ValueError) as e:
                self.bad_messages += 1
                logger.warning("sync: bad central state ignored: %s", _why(e))
                return
            online = bool(state and state.online)
            if online != conn.central_online:
                logger.info("sync: central is %s", "online" if online else "offline")
                if online:
                    self.pump.start_session(conn.session, self._mono())
            conn.central_online = online
        elif topic == t.state:
            # A late will of an older session (or a stranger) overwrote our birth.
            try:
                mine = parse(EdgeState, payload, 4096) if payload else None
            except (PayloadError, ValueError):
                mine = None
            if mine is not None and mine.online and mine.db and mine.db != self.db_id:
                # An online birth from another database on our own state topic. Either a
                # device gone without its will (a replaced card) left it, or another
                # controller runs as this device (Mosquitto just closes the older
                # connection, no DISCONNECT 0x8E to see). No clock can tell them apart (a
                # Pi's may be hours off), so answer with our birth: a stale one is then
                # overwritten for good, while a live device puts its own back when it takes
                # the connection from us, and we see it again on our next connection.
                conn.saw_foreign = True
                if self._foreign_before:
                    self._identity_conflict(
                        f"another device (database {mine.db}, boot {mine.boot}) is online as "
                        f"{self.site}/{self.device}")
                    conn.lost, conn.ended_by_us = True, True
                    conn.lost_reason = ("session taken over by another client with the same "
                                        "identity")
                else:
                    logger.info("sync: our state topic holds an online birth of database %s; "
                                "publishing our birth over it", mine.db)
                    self._birth(conn)
            elif mine is None or not mine.online or mine.session != conn.session:
                logger.info("sync: our state topic says offline; publishing birth again")
                self._birth(conn)
        elif topic in (t.cfg, t.bookings, t.cmd):
            self.downlink.handle(topic.rsplit("/", 1)[1], payload)

    # -- timers ---------------------------------------------------------------------
    def _periodic(self, conn: _Conn | None, now: float) -> None:
        if self._fork_committed.is_set() and self.db is not None and self.fork is not None:
            self._fork_committed.clear()
            self.db.fork_reported()
            self.fork = replace(self.fork, reported=True)
        if self.downlink is not None:
            self.downlink.poll()
        if now >= self._next_cap_check:
            self._next_cap_check = now + 2.0
            self._check_outbox()
        if conn is not None and conn.connected and now >= self._next_health:
            self._next_health = now + self.config.health_interval_s
            self._publish(conn, self.topics.health, dumps(self.health_message(conn)), retain=True)

    def health_message(self, conn: _Conn) -> dict[str, Any]:
        snap = self.controller.snapshot
        queue = snap.as_dict()
        components: dict[str, Any] = {}
        for name, comp in list(self.components.items()):
            try:
                components[name] = comp.health()
            except Exception as e:
                components[name] = {"ok": False, "error": f"health() failed: {e}"}
        alarms = list(snap.alarms)
        if self._outbox_level != "ok" and "sync.outbox" not in alarms:
            alarms.append("sync.outbox")
        return {"v": 1, "site": self.site, "device": self.device, "session": conn.session,
                "ts": self.clock.read().wall_ms,
                "summary": {"waiting": snap.waiting_total, "serving": snap.serving_total,
                            "alarms": alarms},
                "queue": queue, "components": components, "sync": self.health()}

    def _check_outbox(self) -> None:
        """Outbox size against storage.outbox_cap: alarm at the ratio, policy at the cap."""
        assert self.db is not None and self.pump is not None
        cap = self.app_config.storage.outbox_cap
        trim = trim_to_cap(self.db, cap, drop=self.config.outbox_full_policy == "drop_oldest")
        count = self._outbox_count = trim.count
        # The level is judged on the count before the policy trims: after a drop the
        # outbox is at 99 % and would always read "warning", never "critical".
        reached = count
        if trim.through:
            self.pump.note_dropped(trim.through)
            logger.error("sync: outbox reached its cap of %s; dropped seq %s..%s", cap,
                         trim.first, trim.through)
            self.emit("sync.outbox_dropped", {"from_seq": trim.first, "to_seq": trim.through,
                                              "count": trim.dropped, "cap": cap})
            count = trim.left
        ratio = self.config.outbox_alarm_ratio
        if reached >= cap:
            level = "critical"
        elif self._outbox_level == "critical" and count >= CRITICAL_CLEAR_RATIO * cap:
            level = "critical"  # hysteresis: drop_oldest keeps it at 99 % while cut off
        elif count >= ratio * cap:
            level = "warning"
        elif self._outbox_level != "ok" and count >= (ratio - 0.1) * cap:
            level = "warning"  # hysteresis: clear only well below the threshold
        else:
            level = "ok"
        if level == self._outbox_level:
            return
        self._outbox_level = level
        self.db.put({"sync.outbox_alarm": level})
        if level == "ok":
            self.emit("alarm.cleared", {"alarm": "sync.outbox", "count": count, "cap": cap})
        else:
            self.emit("alarm.raised", {
                "alarm": "sync.outbox", "severity": level, "count": count, "cap": cap,
                "message": f"{count} events wait for central ({100 * count // cap}% of the "
                           f"outbox cap {cap}); check the link to central"})


def _why(e: Exception) -> str:
    return explain(e) if isinstance(e, ValidationError) else str(e)[:200]
