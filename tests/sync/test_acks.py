"""Acks that are lost, duplicated, reordered or bogus, and a slow central behind the broker."""

from __future__ import annotations

import json
import logging
import random
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from edge.central.store import CentralStore
from edge.sync.protocol import CENTRAL_STATE_TOPIC, EventBatch, Topics, dumps
from tests.sync.conftest import (DEVICE, SITE, Broker, CentralRig, EdgeRig, Probe,
                                 assert_exactly_once, edge_outbox_count, make_config, wait_for)


class ScramblingCentral:
    """Stores like the reference central, but its acks get lost, doubled and reordered."""

    def __init__(self, port: int, db: Path, seed: int = 7) -> None:
        self.store = CentralStore(db)
        self.rng = random.Random(seed)
        self.held: list[bytes] = []
        self.lock = threading.Lock()
        self.sent = 0
        self.bogus_sent = False
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-scrambler",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.subscribe(f"qms/v1/{SITE}/{DEVICE}/evt", qos=1)
        self.client.publish(CENTRAL_STATE_TOPIC, dumps({"v": 1, "online": True, "session": 1}),
                            qos=1, retain=True)
        self.client.loop_start()
        self.ack_topic = Topics(SITE, DEVICE).ack

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        result = self.store.store_batch(EventBatch.model_validate_json(msg.payload))
        ack = dumps({"acked_seq": result.acked_seq})
        roll = self.rng.random()
        with self.lock:
            if roll < 0.3:
                return                                   # lost
            if roll < 0.45:
                self.held.append(ack)                    # held back: arrives after newer ones
                return
            self._send(ack)
            if roll < 0.65:
                self._send(ack)                          # duplicated
            if self.held and self.rng.random() < 0.5:
                self._send(self.held.pop(0))             # an old ack, late
            if self.rng.random() < 0.05:
                self._send(b'{"acked_seq": 0}')          # stale
            if self.sent >= 3 and not self.bogus_sent:
                self.bogus_sent = True
                self._send(b'{"acked_seq": 999999999}')  # bogus: beyond anything sent

    def _send(self, payload: bytes) -> None:
        self.sent += 1
        self.client.publish(self.ack_topic, payload, qos=1)

    def contiguous(self) -> int:
        d = self.store.device(SITE, DEVICE)
        return d["contiguous"] if d else 0

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.store.close()


def test_lost_duplicated_reordered_and_bogus_acks(broker: Broker, tmp_path: Path,
                                                  edges: list[EdgeRig]) -> None:
    """Risk: a late or doubled ack deletes unsent rows, or a lost ack stalls the pump."""
    central = ScramblingCentral(broker.port, tmp_path / "central.db")
    try:
        edge = EdgeRig(make_config(broker.port, batch_max_events=10, ack_timeout_s=0.5),
                       tmp_path / "edge")
        edges.append(edge)
        edge.record(300)
        last = edge.last_seq()
        wait_for(lambda: central.contiguous() == last, 30, "central to have everything")
        # Lost acks are made good by later cumulative acks or by a resend after the timeout.
        wait_for(lambda: edge_outbox_count(edge.db_path) == 0, 20, "the final ack")
        rows = central.store.events(SITE, DEVICE)
        assert [e["seq"] for e in rows] == list(range(1, last + 1))
        assert {e["seq"]: e["id"] for e in rows} == edge.ids
        assert edge.link.health()["bad_acks"] >= 1
    finally:
        central.close()


# The broker's queue per client in the next test (Mosquitto's default is 1000), and the
# backlog sent at once: 3x the limit, so ~100 more than it holds wait even after central
# took its 20 in flight and a loaded machine's share of the rest.
QUEUE_LIMIT = 100
BACKLOG = 3 * QUEUE_LIMIT


def test_slow_central_behind_the_broker_queue_limit(tmp_path: Path,
                                                    edges: list[EdgeRig]) -> None:
    """Risk: Mosquitto drops messages beyond max_queued_messages (1000) without a word.

    The edge's window is set far above the broker's queue on purpose so that the broker
    does drop; central's gap-aware acks and the edge's resend still deliver everything.
    The broker's queue is set to 100 here (1000 by default): the same overflow with a
    tenth of the backlog.
    """
    broker = Broker(tmp_path, extra=f"max_queued_messages {QUEUE_LIMIT}\n")
    broker.start()
    # 20 ms per batch: at most 50 batches a second, well below the edge's rate even on a
    # loaded machine, so more than the limit wait at the broker and it must drop some (the
    # speed of central's own commits must not decide it: a central worker stores what
    # waits for it in one transaction, one fsync for up to 20 batches).
    central = CentralRig(broker.port, tmp_path / "central.db", delay_s=0.02)
    try:
        edge = EdgeRig(make_config(broker.port, batch_max_events=1,
                                   inflight_batches=BACKLOG + 50,
                                   ack_timeout_s=1.0), tmp_path / "edge")
        edges.append(edge)
        edge.link.stop()       # fill the outbox first, then let it all go at once
        edge.record(BACKLOG)
        last = edge.last_seq()
        edge.link.start()
        wait_for(lambda: central.contiguous() == last, 90, "a slow central to get everything")
        assert_exactly_once(central, last, edge.ids)
        assert edge.link.health()["rewinds"] >= 1, "the broker was expected to drop some"
    finally:
        central.stop()
        broker.stop()


def test_an_ack_for_another_database_deletes_nothing(broker: Broker, probe: Probe, tmp_path: Path,
                                                     edges: list[EdgeRig]) -> None:
    """Risk: two boxes with one center.device share the ack topic; central's ack for one
    box's stream deleted the other box's events that central never stored."""
    probe.publish(CENTRAL_STATE_TOPIC, dumps({"v": 1, "online": True, "session": 1}), retain=True)
    edge = EdgeRig(make_config(broker.port), tmp_path / "edge")   # nobody acks but the probe
    edges.append(edge)
    edge.record(10)
    wait_for(lambda: edge.link.health()["sent_events"] >= 10, 10, "the events sent")
    ack = Topics(SITE, DEVICE).ack
    mine = edge.link.db_id
    probe.publish(ack, dumps({"v": 1, "acked_seq": 10, "db": "another-box-db"}))
    # An older central names no stream: taken as before. Acks are handled in order, so
    # once this one is in, the foreign one was seen.
    probe.publish(ack, dumps({"v": 1, "acked_seq": 4}))
    wait_for(lambda: edge.link.health()["acked_seq"] >= 4, 10, "the acks handled")
    assert edge.link.health()["acked_seq"] == 4, "an ack for another database deleted events"
    assert edge_outbox_count(edge.db_path) >= 6
    assert edge.link.health().get("foreign_acks") == 1
    probe.publish(ack, dumps({"v": 1, "acked_seq": 10, "db": mine}))
    wait_for(lambda: edge.link.health()["acked_seq"] == 10, 10, "an ack naming our database")
    assert edge.link.health()["foreign_acks"] == 1


def test_central_names_the_stream_in_its_acks(broker: Broker, central: CentralRig, probe: Probe,
                                              tmp_path: Path, edges: list[EdgeRig]) -> None:
    """Risk: an ack without the stream's db cannot be told from another box's."""
    probe.subscribe(Topics(SITE, DEVICE).ack)
    edge = EdgeRig(make_config(broker.port), tmp_path / "edge")
    edges.append(edge)
    edge.record(5)
    acks = wait_for(lambda: probe.seen(Topics(SITE, DEVICE).ack), 10, "an ack from central")
    assert all(json.loads(a)["db"] == edge.link.db_id for a in acks)


def test_an_ack_of_the_wrong_types_deletes_nothing_and_is_counted_and_logged_once_per_kind(
        broker: Broker, probe: Probe, tmp_path: Path, edges: list[EdgeRig],
        caplog: pytest.LogCaptureFixture) -> None:
    """Risk: `Ack` converted types: `"acked_seq": "2"` (a central with a serialisation
    bug) deleted seqs 1-2 from the outbox, events central may never have stored, with no
    "bad ack" in the log or health; a stream of bad acks flooded the log instead."""
    topics = Topics(SITE, DEVICE)
    probe.subscribe(topics.health)
    probe.publish(CENTRAL_STATE_TOPIC, dumps({"v": 1, "online": True, "session": 1}), retain=True)
    edge = EdgeRig(make_config(broker.port), tmp_path / "edge")   # nobody acks but the probe
    edges.append(edge)
    edge.record(10)
    last = edge.last_seq()
    wait_for(lambda: edge.link.health()["sent_events"] >= last, 10, "the events sent")
    db = edge.link.db_id
    bad: list[tuple[str, bytes]] = [
        ("acked_seq:int_type", dumps({"v": 1, "acked_seq": "2", "db": db})),
        ("acked_seq:int_type", dumps({"v": 1, "acked_seq": "3", "db": db})),
        ("acked_seq:int_type", dumps({"v": 1, "acked_seq": True, "db": db})),
        ("acked_seq:int_type", dumps({"v": 1, "acked_seq": 2.5, "db": db})),
        ("version", dumps({"v": True, "acked_seq": 2, "db": db})),
        ("version", dumps({"v": "1", "acked_seq": 2, "db": db})),
        ("db:string_type", dumps({"v": 1, "acked_seq": 2, "db": 5})),
        ("resend_from:int_type", dumps({"v": 1, "acked_seq": 2, "resend_from": "1", "db": db})),
        ("json", b'{"v": 1, "acked_seq": 2'),
    ]
    for _, payload in bad:
        probe.publish(topics.ack, payload)
    wait_for(lambda: edge.link.health()["rejected_acks"] == len(bad), 10, "the bad acks handled")
    assert edge_outbox_count(edge.db_path) == last, "a bad ack deleted events"
    assert edge.link.health()["acked_seq"] == 0
    logged = [r.getMessage() for r in caplog.records
              if r.levelno == logging.WARNING and "bad ack ignored" in r.getMessage()]
    assert len(logged) == len({kind for kind, _ in bad}), logged
    assert any('acked_seq: expected an integer, got the string "2"' in m for m in logged)
    # The health message central reads counts them too.
    wait_for(lambda: any(json.loads(h)["sync"].get("rejected_acks") == len(bad)
                         for h in probe.seen(topics.health)), 10, "a health message counting them")
    # The link still takes good acks, a whole number written as a float included.
    probe.publish(topics.ack, dumps({"v": 1, "acked_seq": 2, "db": db}))
    wait_for(lambda: edge_outbox_count(edge.db_path) == last - 2, 10, "a good ack")
    probe.publish(topics.ack, dumps({"v": 1, "acked_seq": 3.0, "db": db}))
    wait_for(lambda: edge_outbox_count(edge.db_path) == last - 3, 10, "an ack of 3.0")
    assert edge.link.health()["rejected_acks"] == len(bad)
