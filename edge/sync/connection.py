"""One connection to the broker (what paho's callbacks saw), reconnect backoff, the watchdog.

One named thread owns the paho client and drives it with `client.loop()`: callbacks run
on that thread and only record what arrived, so the client is never touched from two
threads (paho's thread safety is partial). Each connection gets a fresh client. A
watchdog thread replaces the network thread and its client when the loop stops showing
life (an exception, a hang): the old thread sees that its generation is no longer the
current one and ends.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from edge.backoff import Backoff
from edge.sync.limits import SESSION_TAKEN_OVER, Seen

logger = logging.getLogger(__name__)


@dataclass
class Conn:
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
    # An online birth of another database seen on our state topic: (db, session, boot).
    foreign: tuple[str, int, str] | None = None
    birth_acked: bool = False                 # a birth of ours got its PUBACK (retained)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> bool:
        """QoS 1; False when the client refused it (the connection is going)."""
        if not self.connected or self.lost:
            return False
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        # Callbacks run on this thread inside loop(), so the PUBACK cannot come first.
        self.pub_topics[info.mid] = topic
        return bool(info.rc == 0)

    def goodbye(self, topic: str, payload: bytes, mono: Callable[[], float]) -> None:
        """A clean stop: say offline (the will is only for unclean ends) and disconnect."""
        try:
            info = self.client.publish(topic, payload, qos=1, retain=True)
            deadline = mono() + 1.0
            while not info.is_published() and mono() < deadline:
                if self.client.loop(timeout=0.05) != 0:
                    break
            self.client.disconnect()
            self.client.loop(timeout=0.05)
        except Exception:
            logger.debug("sync: goodbye failed", exc_info=True)

    def seen(self, acked_seq: int) -> Seen:
        return Seen(subscribed=self.subscribed, published=self.published,
                    accepted=frozenset(self.accepted), central_acked=self.central_acked,
                    acked_seq=acked_seq)


class Callbacks:
    """paho's callbacks for one client: record into its Conn, never raise.

    An exception in a callback can kill paho's loop while publish() keeps returning
    (paho #365, #894), so each is guarded. `connected(conn)` and `taken_over()`
    are the link's hooks for what must happen at once on the network thread.
    """

    def __init__(self, *, state_topic: str, mono: Callable[[], float],
                 connected: Callable[[Conn], None],
                 taken_over: Callable[[], None]) -> None:
        self.state_topic = state_topic
        self._mono = mono
        self._connected = connected
        self._taken_over = taken_over

    def attach(self, client: Any, conn: Conn) -> None:
        client.user_data_set(conn)
        client.on_connect = self.on_connect
        client.on_disconnect = self.on_disconnect
        client.on_message = self.on_message
        client.on_subscribe = self.on_subscribe
        client.on_publish = self.on_publish

    def on_connect(self, client: Any, conn: Conn, flags: Any, reason: Any, props: Any) -> None:
        try:
            if reason.is_failure:
                conn.lost, conn.lost_reason = True, f"broker refused: {reason}"
                return
            conn.connected = True
            conn.connected_at = self._mono()
            limit = getattr(props, "MaximumPacketSize", None) if props is not None else None
            conn.max_packet = limit if isinstance(limit, int) and limit > 0 else None
            self._connected(conn)
        except Exception:
            logger.exception("sync: on_connect failed")
            conn.lost, conn.lost_reason = True, "on_connect failed"

    def on_disconnect(self, client: Any, conn: Conn, flags: Any, reason: Any,
                      props: Any) -> None:
        try:
            conn.lost = True
            value = getattr(reason, "value", reason)
            conn.lost_code = value if isinstance(value, int) else None
            conn.lost_by_broker = bool(getattr(flags, "is_disconnect_packet_from_server", False))
            if value == SESSION_TAKEN_OVER:
                conn.lost_reason = "session taken over by another client with the same identity"
                self._taken_over()
            else:
                conn.lost_reason = f"disconnected: {reason}"
        except Exception:
            logger.exception("sync: on_disconnect failed")

    def on_subscribe(self, client: Any, conn: Conn, mid: int, reason_codes: list[Any],
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

    def on_publish(self, client: Any, conn: Conn, mid: int, reason: Any, props: Any) -> None:
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
                if topic == self.state_topic:
                    conn.birth_acked = True
        except Exception:
            logger.exception("sync: on_publish failed")

    def on_message(self, client: Any, conn: Conn, msg: Any) -> None:
        try:
            conn.inbox.append((msg.topic, bytes(msg.payload), msg.mid, msg.qos))
        except Exception:
            logger.exception("sync: on_message failed")


class Reconnect:
    """When to try again: doubling from min to max with jitter; the longest when refused."""

    def __init__(self, min_s: float, max_s: float, mono: Callable[[], float]) -> None:
        self.max_s = max_s
        self.backoff = Backoff(min_s, max_s)
        self._mono = mono
        self.next_attempt = 0.0

    def failed(self, *, slow: bool = False) -> float:
        delay = self.backoff.next()
        if slow:
            # Another process uses our identity, or the broker refuses us: retrying at
            # once cannot help (and would resend every event), so wait the longest delay.
            delay = self.max_s
        # Jitter spreads the reconnects of many centers after a broker restart.
        delay *= random.uniform(0.5, 1.0)
        self.next_attempt = self._mono() + delay
        return delay

    def stable(self) -> None:
        """A connection that lasted: the next loss starts from the shortest delay again."""
        self.backoff.reset()


class NetworkThreads:
    """The network thread (numbered by generation) and the watchdog that replaces it.

    `run(gen)` is the loop body's owner: it must call `beat()` on every turn and end once
    `current(gen)` is false.
    """

    def __init__(self, run: Callable[[int], None], *, watchdog_s: float,
                 mono: Callable[[], float], stop: threading.Event) -> None:
        self._run = run
        self.watchdog_s = watchdog_s
        self._mono = mono
        self._stop = stop
        self._gen = 0
        self._gen_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self._beat = 0.0
        self.restarts = 0
        self.on_restart: Callable[[str], None] = lambda why: None

    def start(self) -> None:
        self._spawn()
        self._watchdog = threading.Thread(target=self._watch, name="kezek-sync-watchdog",
                                          daemon=True)
        self._watchdog.start()

    def join(self, timeout: float) -> list[str]:
        """Wait for both threads; the names of those still running after `timeout`."""
        deadline = time.monotonic() + timeout
        busy = []
        for t in (self._watchdog, self._thread):
            if t is not None:
                t.join(max(0.1, deadline - time.monotonic()))
                if t.is_alive():
                    busy.append(t.name)
        return busy

    def beat(self) -> None:
        self._beat = self._mono()

    def current(self, gen: int) -> bool:
        return gen == self._gen and not self._stop.is_set()

    def latest(self, gen: int) -> bool:
        """Is `gen` the newest generation (even while stopping)?"""
        return gen == self._gen

    def _spawn(self) -> None:
        with self._gen_lock:
            self._gen += 1
            gen = self._gen
        self._beat = self._mono()
        self._thread = threading.Thread(target=self._run, args=(gen,),
                                        name=f"kezek-sync-net-{gen}", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        period = min(1.0, self.watchdog_s / 4)
        while not self._stop.wait(period):
            t = self._thread
            stale = self._mono() - self._beat > self.watchdog_s
            if t is not None and t.is_alive() and not stale:
                continue
            why = "hangs" if t is not None and t.is_alive() else "died"
            logger.error("sync: the network loop %s; starting a new client", why)
            self.restarts += 1
            self.on_restart(why)
            self._spawn()
