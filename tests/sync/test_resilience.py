"""The watchdog replaces a hung network loop; the outbox alarm and the policy at the cap."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edge.clock import ManualClock
from edge.queue.commands import RecordEvent
from edge.sync.link import SyncLink
from edge.sync.mqtt import BrokerSettings, make_client
from tests.conftest import Harness
from tests.sync.conftest import (Broker, CentralRig, EdgeRig, assert_exactly_once, make_config,
                                 wait_for)


class HangingClient(mqtt.Client):
    """A paho client whose network loop hangs once connected (as in paho #365, #785)."""

    release = threading.Event()

    def loop(self, timeout: float = 1.0) -> Any:
        if self.is_connected():
            self.release.wait(30)
        return super().loop(timeout)


def test_watchdog_replaces_a_hung_network_loop(broker: Broker, central: CentralRig,
                                               tmp_path: Path) -> None:
    """Risk: the loop thread dies or hangs while the process looks healthy."""
    config = make_config(broker.port, watchdog_s=1.0)
    made: list[Any] = []

    def factory(client_id: str) -> Any:
        if not made:
            client = HangingClient(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                   protocol=mqtt.MQTTv5, manual_ack=True)
        else:
            client = make_client(BrokerSettings("127.0.0.1", broker.port), client_id)
        made.append(client)
        return client

    harness = Harness(config, tmp_path / "kezek.db", ManualClock(1_800_000_000_000))
    link = SyncLink(config.sync, app_config=config, controller=harness.controller,
                    clock=harness.clock, db_path=harness.db_path, state_dir=tmp_path,
                    client_factory=factory)
    ids: dict[int, str] = {}
    harness.controller.subscribe(lambda a: ids.update({e.seq: e.id for e in a.events}))
    link.start()
    try:
        for i in range(50):
            harness.call(RecordEvent("test.event", {"i": i}))
        wait_for(lambda: link.health()["watchdog_restarts"] >= 1, 10, "the watchdog")
        last = harness.store.last_seq
        wait_for(lambda: central.contiguous() == last, 15, "events through the new client")
        assert_exactly_once(central, last, ids)
        assert len(made) >= 2
    finally:
        HangingClient.release.set()
        link.stop()
        harness.close()


def test_outbox_alarm_at_80_percent_and_drop_policy_at_the_cap(
        broker: Broker, tmp_path: Path, edges: list[EdgeRig]) -> None:
    """Risk: months without central fill the card and stop the center."""
    edge = EdgeRig(make_config(broker.port, outbox_cap=1000), tmp_path / "edge")
    edges.append(edge)
    edge.record(820)                    # no central: everything stays in the outbox
    raised = wait_for(lambda: edge.events_of("alarm.raised"), 10, "the 80% alarm")
    assert raised[0]["alarm"] == "sync.outbox" and raised[0]["severity"] == "warning"
    edge.record(200, start=820)
    dropped = wait_for(lambda: edge.events_of("sync.outbox_dropped"), 10, "the cap policy")
    assert dropped[0]["from_seq"] == 1 and dropped[0]["count"] >= 20
    # At the cap the alarm is critical, and stays so while the outbox is kept near it.
    assert edge.link.health()["outbox_alarm"] == "critical"
    edge.record(5, start=1020)
    time.sleep(2.5)
    assert edge.link.health()["outbox_alarm"] == "critical"
    central = CentralRig(broker.port, tmp_path / "central.db")
    try:
        last = edge.last_seq()
        wait_for(lambda: central.contiguous() >= last, 20, "the rest to reach central")
        last = edge.last_seq()
        wait_for(lambda: central.contiguous() == last, 10, "the last events")
        # Kept near the cap, the outbox may drop again (the link's own events come on top
        # of the test's): the promise is every event after the last dropped one.
        through = max(d["to_seq"] for d in edge.events_of("sync.outbox_dropped"))
        seqs = [e["seq"] for e in central.events()]
        assert seqs == list(range(through + 1, last + 1))
        assert central._reader.gaps("test-site", "edge-1")[0][:2] == (1, through)
        wait_for(lambda: edge.events_of("alarm.cleared"), 10, "the alarm to clear")
    finally:
        central.stop()


def test_outbox_cap_holds_without_sync_and_a_later_link_starts_after_the_gap(
        broker: Broker, tmp_path: Path, edges: list[EdgeRig]) -> None:
    """Risk: a standalone center ([sync] enabled = false) grows its outbox forever."""
    from edge.config import parse_config
    from tests.sync.conftest import config_dict, edge_outbox_count, edge_outbox_first

    standalone = config_dict(broker.port, outbox_cap=1000)
    standalone["sync"]["enabled"] = False
    edge = EdgeRig(parse_config(standalone, "<standalone>"), tmp_path / "edge")
    edges.append(edge)
    assert "sync" not in edge.app.ctx.components
    edge.record(1500)
    wait_for(lambda: edge_outbox_count(edge.db_path) <= 1000, 10, "the outbox trimmed to its cap")

    def reported() -> int:
        return max((d["to_seq"] for d in edge.events_of("sync.outbox_dropped")), default=0)
    # On a slow machine the trim may have run twice while the events were recorded: the
    # gap is what every drop report says together, once the last one is committed.
    wait_for(lambda: reported() == edge_outbox_first(edge.db_path) - 1, 10, "the drop reports")
    dropped = edge.events_of("sync.outbox_dropped")
    assert dropped[0]["from_seq"] == 1 and dropped[0]["cap"] == 1000
    through = reported()
    edge.close()
    edges.remove(edge)

    # Sync turned on later: central gets what is left, and the gap is recorded.
    central = CentralRig(broker.port, tmp_path / "central.db")
    try:
        edge = EdgeRig(make_config(broker.port, outbox_cap=1000), tmp_path / "edge")
        edges.append(edge)
        assert "outbox-trim" not in edge.app.ctx.components
        # (the new link records events of its own: wait for the newest)
        wait_for(lambda: central.contiguous() == edge.last_seq(), 20, "the kept events")
        last = central.contiguous()
        assert [e["seq"] for e in central.events()] == list(range(through + 1, last + 1))
        assert central._reader.gaps("test-site", "edge-1")[0][:2] == (1, through)
    finally:
        central.stop()
