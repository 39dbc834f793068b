"""The link drops: broker killed and restarted, partitions (silence, resets) through a proxy."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.sync.conftest import (Broker, CentralRig, EdgeRig, TcpProxy, assert_exactly_once,
                                 make_config, wait_for)


def _record_in_background(edge: EdgeRig, n: int) -> threading.Thread:
    t = threading.Thread(target=edge.record, args=(n,), name="test-recorder", daemon=True)
    t.start()
    return t


def test_broker_sigkill_and_restart_mid_stream(broker: Broker, central: CentralRig,
                                               tmp_path: Path, edges: list[EdgeRig]) -> None:
    """Risk: messages in the broker's memory (persistence off) vanish with it."""
    edge = EdgeRig(make_config(broker.port), tmp_path / "edge")
    edges.append(edge)
    edge.record(100)
    wait_for(lambda: central.contiguous() > 0, 10, "first acks")
    writer = _record_in_background(edge, 300)
    broker.kill()
    wait_for(lambda: not edge.link.health()["connected"], 10, "the edge to notice")
    broker.start()  # same port, empty: no retained state, no sessions
    writer.join(30)
    last = edge.last_seq()
    wait_for(lambda: central.contiguous() == last, 30, "the backlog to drain after the restart")
    assert_exactly_once(central, last, edge.ids)


def test_partition_silence_longer_than_keepalive(broker: Broker, proxy: TcpProxy,
                                                 central: CentralRig, tmp_path: Path,
                                                 edges: list[EdgeRig]) -> None:
    """Risk: a half-open TCP link looks alive and the edge waits forever for acks."""
    edge = EdgeRig(make_config(proxy.port), tmp_path / "edge")
    edges.append(edge)
    edge.record(50)
    wait_for(lambda: central.contiguous() == edge.last_seq(), 10, "first events")
    session = edge.link.health()["session"]
    proxy.silent.set()
    edge.record(100, start=50)      # stored while the link is silently dead
    wait_for(lambda: not edge.link.health()["connected"], 10, "keepalive to declare it dead")
    # The broker saw the silence too and published the will of that session.
    wait_for(lambda: central.central.store is not None and _state(central) == (0, session), 10,
             "the edge's last will at central")
    proxy.silent.clear()
    last = edge.last_seq()
    wait_for(lambda: central.contiguous() == last, 20, "the backlog after the partition")
    assert_exactly_once(central, last, edge.ids)
    online, new_session = wait_for(lambda: _state(central) if _state(central)[0] else None, 10,
                                   "the birth of the new session")
    assert new_session > session


def _state(central: CentralRig) -> tuple[int, int]:
    row = central._reader._conn.execute(
        "SELECT online, session FROM states").fetchone()
    return (row[0], row[1]) if row else (-1, -1)


def test_connection_resets_during_streaming(broker: Broker, proxy: TcpProxy, central: CentralRig,
                                            tmp_path: Path, edges: list[EdgeRig]) -> None:
    """Risk: a reset between PUBLISH and PUBACK, or between commit and ack, loses a batch."""
    edge = EdgeRig(make_config(proxy.port), tmp_path / "edge")
    edges.append(edge)
    writer = _record_in_background(edge, 400)
    resets = 0
    while writer.is_alive() and resets < 8:
        wait_for(lambda: edge.link.health()["connected"] or not writer.is_alive(), 10, "reconnect")
        writer.join(0.15)
        proxy.reset_all()
        resets += 1
    writer.join(30)
    last = edge.last_seq()
    wait_for(lambda: central.contiguous() == last, 30, "the backlog after resets")
    assert_exactly_once(central, last, edge.ids)
    assert edge.link.health()["connects"] >= 2
