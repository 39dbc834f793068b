"""Batches too large for the broker are told apart from a flaky link by the broker's own signals."""

from __future__ import annotations

from pathlib import Path

from edge.queue.commands import RecordEvent
from tests.sync.conftest import (Broker, CentralRig, EdgeRig, TcpProxy, assert_exactly_once,
                                 make_config, wait_for)

DEFAULT_BATCH_BYTES = 256 * 1024


def _record_padded(edge: EdgeRig, n: int, pad: int = 1000) -> None:
    """n events of about `pad` bytes each: a few of them fill a batch."""
    for i in range(n):
        edge.app.controller.call(RecordEvent("test.event", {"i": i, "pad": "x" * pad}),
                                 timeout=60)


def _denied_raised(edge: EdgeRig) -> list[dict]:
    return [a for a in edge.events_of("alarm.raised") if a.get("alarm") == "sync.denied"]


def test_a_flaky_link_right_after_big_batches_is_not_taken_for_a_size_refusal(
        broker: Broker, proxy: TcpProxy, central: CentralRig, tmp_path: Path,
        edges: list[EdgeRig]) -> None:
    """Risk: connections lost (TCP resets) right after a large batch went out, a few times
    in a row, were taken for the broker refusing the batch's size: a false critical
    sync.denied alarm, and the batch limit halved for good (down to one event per batch)."""
    # A backlog first: the link is down while it builds up. Refused before the edge starts:
    # a connection made before would stay up, carry the events one by one as they are
    # recorded, and be the only one cut (on a slow machine, not every time).
    proxy.refuse.set()
    edge = EdgeRig(make_config(proxy.port, health_interval_s=600, batch_max_events=1000),
                   tmp_path / "edge")
    edges.append(edge)
    _record_padded(edge, 400)
    assert not edge.link.health()["connected"]
    proxy.cut_after(64_000, 4)         # each of the next 4 connections dies mid-first-batch
    proxy.refuse.clear()
    last = edge.last_seq()
    wait_for(lambda: central.contiguous() >= last, 40, "the backlog after a flaky start")
    assert proxy.cuts == 4
    assert _denied_raised(edge) == [], "a flaky link was reported as a size refusal"
    assert edge.link.health()["batch_max_bytes"] == DEFAULT_BATCH_BYTES
    assert "sync.denied" not in edge.app.controller.snapshot.alarms
    wait_for(lambda: central.contiguous() == edge.last_seq(), 10, "the link's own events")
    assert_exactly_once(central, edge.last_seq(), edge.ids)


def test_batches_fit_the_maximum_packet_size_the_broker_announces(
        tmp_path: Path, edges: list[EdgeRig]) -> None:
    """Risk: a broker with max_packet_size says its limit in CONNACK, yet the edge sent
    larger batches, lost the connection for each and cut its batches only after alarms."""
    broker = Broker(tmp_path, extra="max_packet_size 20000\n")
    broker.start()
    central = CentralRig(broker.port, tmp_path / "central.db")
    try:
        edge = EdgeRig(make_config(broker.port, health_interval_s=600), tmp_path / "edge")
        edges.append(edge)
        _record_padded(edge, 100)            # about 110 kB: several batches at this limit
        last = edge.last_seq()
        wait_for(lambda: central.contiguous() >= last, 20, "every event at central")
        assert _denied_raised(edge) == []
        health = edge.link.health()
        assert health["batch_max_bytes"] <= 20000
        assert health["connects"] == 1, "a batch over the announced limit cost a connection"
        assert health["sent_batches"] >= 5
        wait_for(lambda: central.contiguous() == edge.last_seq(), 10, "the link's own events")
        assert_exactly_once(central, edge.last_seq(), edge.ids)
    finally:
        central.stop()
        broker.stop()


def test_an_event_over_the_brokers_packet_limit_is_reported_on_the_first_refusal(
        tmp_path: Path, edges: list[EdgeRig]) -> None:
    """Risk: the broker's DISCONNECT 0x95 "packet too large" is proof, yet the edge waited
    for losses to repeat (or took it for a plain lost connection)."""
    broker = Broker(tmp_path, extra="max_packet_size 4000\n")
    broker.start()
    central = CentralRig(broker.port, tmp_path / "central.db")
    try:
        edge = EdgeRig(make_config(broker.port, health_interval_s=600, reconnect_max_s=30.0),
                       tmp_path / "edge")
        edges.append(edge)
        wait_for(lambda: edge.link.health()["connected"], 10, "the first connection")
        _record_padded(edge, 1, pad=6000)    # one event alone is over the limit
        raised = wait_for(lambda: _denied_raised(edge), 10, "the sync.denied alarm")
        assert "packet too large" in raised[0]["message"].lower()
        assert "max_packet_size" in raised[0]["message"]
        assert edge.link.health()["connects"] == 1, "one refusal is enough"
    finally:
        central.stop()
        broker.stop()


def test_the_alarm_stays_raised_once_while_the_batch_limit_is_learned(
        tmp_path: Path, edges: list[EdgeRig]) -> None:
    """Risk: sync.denied flapped while the edge halved its batches towards the broker's
    limit: a short batch that got through cleared it, the next full one (still too large)
    raised it again; central saw raise, clear, raise, clear for one cause."""
    # message_size_limit 4000; one batch in flight at a time, so each batch's fate is
    # known before the next goes out. The backlog (central offline while it builds up):
    # 4 small events, then 4 of about 2.3 kB. At the configured limit all 8 go in one
    # batch of about 10 kB: refused (the alarm), the limit halves to about 5 kB. Then
    # [1..5] (about 3.6 kB) gets through while [6..7] (about 4.6 kB) is still refused:
    # the limit halves again and [6], [7], [8] go one by one.
    limited = Broker(tmp_path, extra="message_size_limit 4000\n")
    limited.start()
    try:
        edge = EdgeRig(make_config(limited.port, health_interval_s=600, inflight_batches=1,
                                   batch_max_events=8, batch_max_bytes=16_000),
                       tmp_path / "edge")
        edges.append(edge)
        _record_padded(edge, 4, pad=50)
        _record_padded(edge, 4, pad=2000)
        central = CentralRig(limited.port, tmp_path / "central.db")
        try:
            wait_for(lambda: _denied_raised(edge), 30, "the sync.denied alarm")
            wait_for(lambda: "sync.denied" not in edge.app.controller.snapshot.alarms, 60,
                     "batches at the learned limit to get through")
            wait_for(lambda: central.contiguous() == edge.last_seq(), 30, "every event")
            assert_exactly_once(central, edge.last_seq(), edge.ids)
            assert len(_denied_raised(edge)) == 1, "raised again while the limit was learned"
            cleared = [a for a in edge.events_of("alarm.cleared") if a["alarm"] == "sync.denied"]
            assert len(cleared) == 1
            assert edge.link.health()["batch_max_bytes"] < 4000
        finally:
            central.stop()
    finally:
        limited.stop()
