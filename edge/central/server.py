"""The reference central: stores every edge's events once, acks after commit, pushes downlink.

For tests, demos and the central team (docs/protocol.md is the contract; this is one way
to meet it; docs/central.md runs it at national scale). Events come through the MQTT v5
shared subscription `$share/<group>/...`, so several instances share the load and one
store (a SQLite file, or PostgreSQL). A batch is acked to the edge only after its
transaction committed, and PUBACKed to the broker after that (manual ack, in arrival
order: intake.py), so neither a crash nor a dropped message loses anything: the edge
resends.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any, Callable

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError

from edge.central.intake import OrderedAcks, Workers
from edge.central.store import EventStore, format_summary, is_postgres_url, open_store
from edge.sync.mqtt import BrokerSettings, close_client, make_client, publish_properties
from edge.sync.protocol import (CENTRAL_STATE_TOPIC, ROOT, CentralState, EdgeState, EventBatch,
                                PayloadError, Topics, decode, dumps, explain, parse,
                                parse_topic)

logger = logging.getLogger(__name__)

EVT_FILTER = f"{ROOT}/+/+/evt"
MAX_BATCH_BYTES = 16 * 1024 * 1024
# QoS 1 messages the broker may have in flight to one instance per worker (MQTT 5 Receive
# Maximum): bounds what waits in the workers' queues, and so central's memory, under any
# backlog; 20 is Mosquitto's own default window, kept for one worker.
RECEIVE_PER_WORKER = 20
RETRY_S = 10.0          # how long a batch is retried while the database is unreachable
MAINTAIN_EVERY_S = 3600.0


class Central:
    def __init__(self, settings: BrokerSettings, db_path: Path | str, *,
                 group: str = "kezek-central", instance: str | None = None,
                 delay_s: float = 0.0, publish_dir: Path | None = None,
                 summary_every_s: float | None = None, out: IO[str] | None = None,
                 serve: bool = True, workers: int | None = None,
                 retention_days: int | None = None, timezone: str = "Asia/Almaty") -> None:
        # serve=False: a publishing tool only (kezek central publish/cmd): it neither
        # subscribes nor speaks for central's online state.
        # db_path: a SQLite file, or a postgresql:// URL (store.open_store).
        self.serve = serve
        self.settings = settings
        self.db_path = db_path
        # SQLite has one writer at a time: more threads would only wait for its lock.
        self.workers = workers if workers is not None else (
            4 if is_postgres_url(str(db_path)) else 1)
        self.retention_days = retention_days
        self.timezone = timezone
        self.listeners: list[Callable[[str, str, Any], None]] = []   # (site, device, result)
        self.group = group
        self.instance = instance or f"central-{uuid.uuid4().hex[:8]}"
        self.delay_s = delay_s
        self.publish_dir = Path(publish_dir) if publish_dir else None
        self.summary_every_s = summary_every_s
        self.out = out
        self.store: EventStore | None = None
        self._intake: Workers | None = None
        self._acks: OrderedAcks | None = None
        self.client: Any = None
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._will_session = 0
        self._session = 0
        self._published: dict[str, str] = {}   # file -> hash, reset on every connect
        self._lock = threading.Lock()
        # Counters.
        self.batches = 0
        self.bad_messages = 0
        self.store_failures = 0

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        self.store = open_store(self.db_path, timezone=self.timezone,
                                pool_size=self.workers + 2)
        self._will_session = self.store.next_session()
        self.client = make_client(self.settings, f"kezek-{self.instance}", manual_ack=True)
        self.client.max_inflight_messages_set(100)
        self._acks = OrderedAcks(lambda mid: self.client.ack(mid, 1))
        if self.serve:
            self._intake = Workers(self.workers, self._stored_batches, name=self.instance)
        if self.serve:
            self._set_will()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        props = Properties(PacketTypes.CONNECT)
        props.ReceiveMaximum = RECEIVE_PER_WORKER * self.workers
        self.client.connect_async(self.settings.host, self.settings.port,
                                  keepalive=self.settings.keepalive_s, properties=props)
        self.client.loop_start()
        for target, name in ((self._watch_files, "kezek-central-files"),
                             (self._print_summary, "kezek-central-summary"),
                             (self._maintain, "kezek-central-maintain")):
            if (target == self._watch_files and self.publish_dir is None) or \
                    (target == self._print_summary and not self.summary_every_s) or \
                    (target == self._maintain and not self.serve):
                continue
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        if self.client is not None:
            try:
                if self.connected.is_set() and self.serve:
                    info = self.client.publish(CENTRAL_STATE_TOPIC, dumps(
                        {"v": 1, "online": False, "session": self._session,
                         "instance": self.instance}), qos=1, retain=True)
                    info.wait_for_publish(timeout=min(2.0, timeout))
                self.client.disconnect()
            except (RuntimeError, ValueError) as e:
                logger.debug("central: goodbye failed: %s", e)
            self.client.loop_stop()
            close_client(self.client)
        if self._intake is not None:
            self._intake.stop(timeout)
        if self.store is not None:
            self.store.close()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self.connected.wait(timeout)

    # -- callbacks (paho's thread; every one guarded: an exception would kill it) ------
    def _set_will(self) -> None:
        self.client.will_set(CENTRAL_STATE_TOPIC, dumps(
            {"v": 1, "online": False, "session": self._will_session, "instance": self.instance}),
            qos=1, retain=True)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        try:
            if reason.is_failure:
                logger.error("central: broker refused the connection: %s", reason)
                return
            if not self.serve:
                self.connected.set()
                return
            client.subscribe([(f"$share/{self.group}/{EVT_FILTER}", 1),
                              (f"{ROOT}/+/+/health", 0), (f"{ROOT}/+/+/state", 1),
                              (CENTRAL_STATE_TOPIC, 1)])
            self._session = self._will_session
            assert self._acks is not None
            self._acks.reset()   # packet ids of the last connection mean nothing now
            self._birth()
            # The next connection gets the next session, and its will must say so.
            assert self.store is not None
            self._will_session = self.store.next_session()
            self._set_will()
            with self._lock:
                self._published.clear()   # retained snapshots go out again (broker restart)
            self.connected.set()
            logger.info("central %s connected, session %s", self.instance, self._session)
        except Exception:
            logger.exception("central: on_connect failed")

    def _birth(self) -> None:
        self.client.publish(CENTRAL_STATE_TOPIC, dumps(
            {"v": 1, "online": True, "session": self._session, "instance": self.instance,
             "ts": int(time.time() * 1000)}), qos=1, retain=True)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                       props: Any) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            logger.warning("central: disconnected: %s", reason)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        entry = None
        try:
            assert self._acks is not None
            entry = self._acks.received(msg.mid) if msg.qos > 0 else None
            parsed = parse_topic(msg.topic)
            if self._intake is not None and parsed is not None and parsed[2] == "evt":
                # Stored by a worker, which PUBACKs it (in order) when done.
                self._intake.submit(parsed[0], (parsed[0], parsed[1], bytes(msg.payload),
                                                entry))
                entry = None
                return
            self._dispatch(msg.topic, bytes(msg.payload))
        except Exception:
            logger.exception("central: handling %s failed", msg.topic)
            self.bad_messages += 1
        finally:
            if entry is not None and self._acks is not None:
                self._acks.done(entry)

    def _stored_batches(self, items: list[tuple[str, str, bytes, Any]]) -> None:
        """A worker's turn: the batches waiting for it, stored in one transaction."""
        try:
            parsed = [(site, device, self._parse_batch(site, device, payload))
                      for site, device, payload, _ in items]
            good = [(site, device, b) for site, device, b in parsed if b is not None]
            if good:
                if self.delay_s:   # a slow database, for tests and benchmarks: per batch
                    time.sleep(self.delay_s * len(good))
                results = self._store_retrying([b for _, _, b in good])
                if results is not None:
                    for (site, device, batch), result in zip(good, results):
                        self._ack_batch(site, device, batch, result)
        except Exception:
            logger.exception("central: storing %d batches failed", len(items))
        finally:
            for *_, entry in items:
                if entry is not None and self._acks is not None:
                    self._acks.done(entry)

    def _dispatch(self, topic: str, payload: bytes) -> None:
        assert self.store is not None
        if topic == CENTRAL_STATE_TOPIC:
            self._central_state(payload)
            return
        parsed = parse_topic(topic)
        if parsed is None:
            return
        site, device, kind = parsed
        if kind == "evt":
            self._stored_batches([(site, device, payload, None)])
        elif kind == "health" and payload:
            try:
                self.store.put_health(site, device, decode(payload, MAX_BATCH_BYTES))
            except PayloadError as e:
                logger.warning("central: bad health from %s/%s: %s", site, device, e)
        elif kind == "state" and payload:
            try:
                state = parse(EdgeState, payload, 4096)
            except (PayloadError, ValidationError) as e:
                logger.warning("central: bad state from %s/%s: %s", site, device,
                               explain(e) if isinstance(e, ValidationError) else e)
                return
            self.store.put_state(site, device, state.online, state.session, state.db)

    def _central_state(self, payload: bytes) -> None:
        # Several instances share the topic: when one goes (its will says offline) while
        # this one runs, say online again so edges keep sending.
        if not self.connected.is_set() or self._stop.is_set():
            return
        try:
            state = parse(CentralState, payload, 4096) if payload else None
        except (PayloadError, ValidationError):
            state = None
        if state is None or not state.online:
            self._birth()

    def _parse_batch(self, site: str, device: str, payload: bytes) -> EventBatch | None:
        try:
            batch = parse(EventBatch, payload, MAX_BATCH_BYTES)
        except PayloadError as e:
            self.bad_messages += 1
            logger.warning("central: unusable batch from %s/%s: %s", site, device, e)
            return None
        except ValidationError as e:
            self.bad_messages += 1
            logger.warning("central: invalid batch from %s/%s: %s", site, device, explain(e))
            return None
        if (batch.site, batch.device) != (site, device):
            self.bad_messages += 1
            logger.warning("central: batch on %s/%s names %s/%s; ignored", site, device,
                           batch.site, batch.device)
            return None
        return batch

    def _ack_batch(self, site: str, device: str, batch: EventBatch, result: Any) -> None:
        """The ack, after the commit: what the store holds 1..N of this stream."""
        with self._lock:
            self.batches += 1
        ack: dict[str, Any] = {"v": 1, "acked_seq": result.acked_seq}
        if result.resend_from is not None:
            ack["resend_from"] = result.resend_from
        if batch.db is not None:
            # Name the stream: two boxes with one device id share this topic, and an ack
            # for one database must not delete the other's unstored events.
            ack["db"] = batch.db
        self.client.publish(Topics(site, device).ack, dumps(ack), qos=1)
        for listener in list(self.listeners):
            try:
                listener(site, device, result)
            except Exception:
                logger.exception("central: a listener failed")

    def _store_retrying(self, batches: list[EventBatch]) -> list[Any] | None:
        """Store, retrying while the database is briefly unreachable (a PostgreSQL
        restart, a fail-over); None when it stays down: no ack, the edges resend."""
        assert self.store is not None
        deadline = time.monotonic() + RETRY_S
        pause = 0.2
        while True:
            try:
                return self.store.store_batches(batches)
            except Exception as e:
                if not self.store.is_transient(e) or time.monotonic() > deadline \
                        or self._stop.is_set():
                    with self._lock:
                        self.store_failures += 1
                    first = batches[0]
                    logger.error("central: %d batches (the first %s/%s seq %s-%s) not stored: "
                                 "%s", len(batches), first.site, first.device,
                                 first.events[0].seq, first.events[-1].seq, e)
                    return None
                logger.warning("central: database unreachable (%s); retrying", e)
                time.sleep(pause)
                pause = min(2.0, pause * 2)

    def _maintain(self) -> None:
        """Partitions ahead of need and the retention setting, at start and hourly."""
        assert self.store is not None
        while True:
            try:
                self.store.maintain(self.retention_days)
            except Exception:
                logger.exception("central: store maintenance failed")
            if self._stop.wait(MAINTAIN_EVERY_S):
                return

    # -- downlink -------------------------------------------------------------------
    def publish_snapshot(self, kind: str, site: str, device: str, doc: dict[str, Any]) -> Any:
        """Retained cfg or bookings snapshot (doc carries v and version)."""
        topic = getattr(Topics(site, device), kind)
        return self.client.publish(topic, dumps(doc), qos=1, retain=True)

    def send_command(self, site: str, device: str, name: str, args: dict[str, Any], *,
                     ttl_s: int = 300, cmd_id: str | None = None) -> str:
        cmd_id = cmd_id or uuid.uuid4().hex
        doc = {"v": 1, "cmd_id": cmd_id, "name": name, "args": args,
               "ts": int(time.time() * 1000), "ttl_s": ttl_s}
        self.client.publish(Topics(site, device).cmd, dumps(doc), qos=1,
                            properties=publish_properties(ttl_s))
        return cmd_id

    def _watch_files(self) -> None:
        """<dir>/<site>/<device>/{cfg,bookings}.json (retained) and cmd/*.json (once)."""
        assert self.publish_dir is not None
        while not self._stop.wait(1.0):
            if not self.connected.is_set():
                continue
            try:
                self._publish_files(self.publish_dir)
            except Exception:
                logger.exception("central: publishing files failed")

    def _publish_files(self, root: Path) -> None:
        for device_dir in sorted(p for p in root.glob("*/*") if p.is_dir()):
            site, device = device_dir.parent.name, device_dir.name
            for kind in ("cfg", "bookings"):
                path = device_dir / f"{kind}.json"
                if not path.is_file():
                    continue
                raw = path.read_bytes()
                digest = hashlib.sha256(raw).hexdigest()
                with self._lock:
                    if self._published.get(str(path)) == digest:
                        continue
                try:
                    doc = json.loads(raw)
                except json.JSONDecodeError as e:
                    logger.error("central: %s is not JSON: %s", path, e)
                    continue
                if isinstance(doc, dict):
                    doc.setdefault("v", 1)
                    doc.setdefault("version", path.stat().st_mtime_ns // 1_000_000)
                self.client.publish(getattr(Topics(site, device), kind), dumps(doc), qos=1,
                                    retain=True)
                with self._lock:
                    self._published[str(path)] = digest
                logger.info("central: published %s", path)
            for path in sorted((device_dir / "cmd").glob("*.json")):
                try:
                    doc = json.loads(path.read_bytes())
                    self.send_command(site, device, doc["name"], doc.get("args", {}),
                                      ttl_s=int(doc.get("ttl_s", 300)),
                                      cmd_id=doc.get("cmd_id") or path.stem)
                except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                    logger.error("central: %s is not a command: %s", path, e)
                path.rename(path.with_suffix(".json.sent"))

    def _print_summary(self) -> None:
        assert self.store is not None
        while not self._stop.wait(self.summary_every_s or 5.0):
            try:
                text = format_summary(self.store.summary())
            except Exception as e:
                text = f"(summary unavailable: {e})"
            if self.out is not None:
                self.out.write(f"\n{time.strftime('%H:%M:%S')}\n{text}\n")
                self.out.flush()
