"""Two controllers configured as one device: both say so, and it clears once one is gone."""

from __future__ import annotations

from pathlib import Path

from tests.sync.conftest import Broker, EdgeRig, make_config, wait_for


def identity_alarm(rig: EdgeRig) -> bool:
    return "sync.identity" in rig.app.controller.snapshot.alarms


def test_two_devices_with_one_identity_raise_sync_identity_then_it_clears(
        tmp_path: Path, broker: Broker, edges: list[EdgeRig]) -> None:
    """Risk: Mosquitto closes the older connection without DISCONNECT 0x8E, so the two
    took the session from each other all day with no alarm anywhere."""
    config = make_config(broker.port, reconnect_max_s=1.0)
    first = EdgeRig(config, tmp_path / "first")
    edges.append(first)
    wait_for(lambda: first.link.health()["connected"], 10, "the first edge connected")
    second = EdgeRig(config, tmp_path / "second")   # a second box, same center.device
    edges.append(second)
    wait_for(lambda: identity_alarm(first) and identity_alarm(second), 20,
             "sync.identity on both edges")
    raised = first.events_of("alarm.raised") + second.events_of("alarm.raised")
    assert {e["alarm"] for e in raised} == {"sync.identity"}
    assert all(e["severity"] == "critical" and "center.device" in e["message"] for e in raised)

    second.close()
    edges.remove(second)
    wait_for(lambda: not identity_alarm(first), 40, "sync.identity cleared on the first edge")
    assert first.events_of("alarm.cleared")[-1]["alarm"] == "sync.identity"
    wait_for(lambda: first.link.health()["connected"], 10, "the first edge connected")
