"""Central's batch parser: one pass for good batches, the same clear errors for bad ones."""

from __future__ import annotations

import json
import socket

import pytest
from pydantic import ValidationError

from edge.sync.mqtt import BrokerSettings, close_client, make_client
from edge.sync.protocol import EventBatch, PayloadError, parse
from tests.sync.conftest import Broker, wait_for


def batch(**overrides) -> dict:
    ev = {"v": 1, "id": "e-1", "site": "ast01", "device": "e1", "seq": 1, "boot": "b",
          "type": "ticket.issued", "ts": 1, "mono_ms": 1, "clock_synced": True, "hist": False,
          "data": {"ticket": "A-001", "note": "Құжаттар"}}
    doc = {"v": 1, "site": "ast01", "device": "e1", "session": 1, "floor": 0,
           "events": [ev, {**ev, "id": "e-2", "seq": 2}]}
    doc.update(overrides)
    return doc


def test_a_good_batch_is_parsed_from_bytes() -> None:
    b = parse(EventBatch, json.dumps(batch(), ensure_ascii=False).encode(), 10_000)
    assert [e.seq for e in b.events] == [1, 2]
    assert b.events[0].data["note"] == "Құжаттар"


@pytest.mark.parametrize("payload, words", [
    (b"\xff\xfe{}", "not UTF-8"),
    (b'{"v": 1, "site": ', "not JSON"),
    (b"[1, 2]", "expected an object"),
    (json.dumps(batch(v=2)).encode(), "unsupported protocol version v=2"),
    (b"{" + b" " * 20_000 + b"}", "over the limit of 10000"),
    (b'{"v": 1, "x": ' + b"[" * 3000 + b"]" * 3000 + b"}", "nested too deeply"),
    (b'{"v": 1, "seq": ' + b"1" * 4400 + b"}", "4400 digits is too large"),
    (b'{"v": 1, "ts": Infinity}', "Infinity is not a JSON number"),
    (b'{"v": 1, "ts": 1e999}', "too large for a float"),
    (b'{"v": 1, "events": [{"data": {"k": "\\udc00"}}]}', r"events\[0\]\.data\.k: holds a lone"),
])
def test_unusable_payloads_name_their_problem(payload: bytes, words: str) -> None:
    with pytest.raises(PayloadError, match=words):
        parse(EventBatch, payload, 10_000)


def test_a_batch_with_a_hole_is_refused_by_the_model() -> None:
    doc = batch()
    doc["events"][1]["seq"] = 3
    with pytest.raises(ValidationError, match="seq 3 follows 1"):
        parse(EventBatch, json.dumps(doc).encode(), 10_000)


def test_clients_turn_off_nagle(broker: Broker) -> None:
    """Risk: each batch's last TCP segment waits for the broker's delayed ACK (40 ms)."""
    client = make_client(BrokerSettings("127.0.0.1", broker.port), "nodelay-check")
    try:
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        wait_for(client.is_connected, 10, "the client to connect")
        sock = client.socket()
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        client.loop_stop()
        close_client(client)
