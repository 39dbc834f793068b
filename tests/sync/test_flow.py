"""Happy path and the basic promises: every event reaches central once, in order."""

from __future__ import annotations

from pathlib import Path

from tests.sync.conftest import (Broker, CentralRig, EdgeRig, assert_exactly_once,
                                 edge_outbox_count, make_config, wait_for)


def test_events_reach_central_once_and_outbox_empties(broker: Broker, central: CentralRig,
                                                      tmp_path: Path, edges: list[EdgeRig]) -> None:
    edge = EdgeRig(make_config(broker.port), tmp_path / "edge")
    edges.append(edge)
    edge.record(300)
    last = edge.last_seq()
    wait_for(lambda: central.contiguous() == last, 20, "central to store every event")
    assert_exactly_once(central, last, edge.ids)
    wait_for(lambda: edge_outbox_count(edge.db_path) == 0, 10, "acked rows to be deleted")
    assert edge.link.health()["acked_seq"] == last
