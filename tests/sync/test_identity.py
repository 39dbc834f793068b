"""Two controllers configured as one device: both say so, and it clears once one is gone."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from edge.clock import ClockReading, SystemClock
from edge.sync.identity import IdentityWatch
from edge.sync.protocol import Topics, dumps
from tests.sync.conftest import (DEVICE, SITE, Broker, EdgeRig, Probe, TcpProxy, make_config,
                                 wait_for)


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


class SkewedClock:
    """A Pi without a battery clock before NTP: the wall clock hours off, not synced."""

    def __init__(self, offset_ms: int) -> None:
        self.inner = SystemClock()
        self.offset_ms = offset_ms

    def read(self) -> ClockReading:
        r = self.inner.read()
        return replace(r, wall_ms=r.wall_ms + self.offset_ms, synced=False)


def test_identity_conflict_is_found_when_one_clock_is_hours_off(
        tmp_path: Path, broker: Broker, edges: list[EdgeRig]) -> None:
    """Risk: the other box's birth `ts` was compared with our wall clock, so a box whose
    clock was 2 h behind looked like an old birth and the two fought unnoticed."""
    config = make_config(broker.port, reconnect_max_s=1.0)
    first = EdgeRig(config, tmp_path / "first")
    edges.append(first)
    wait_for(lambda: first.link.health()["connected"], 10, "the first edge connected")
    second = EdgeRig(config, tmp_path / "second", clock=SkewedClock(-2 * 3600 * 1000))
    edges.append(second)
    wait_for(lambda: identity_alarm(first) and identity_alarm(second), 20,
             "sync.identity on both edges")
    for rig in (first, second):
        assert len(rig.events_of("alarm.raised")) == 1, "one alarm per conflict, not per retry"


def test_a_stale_foreign_birth_raises_nothing(tmp_path: Path, broker: Broker, proxy: TcpProxy,
                                              probe: Probe, edges: list[EdgeRig]) -> None:
    """Risk: a box replaced without its will leaves an online birth of its database
    retained; the new box must not take it for a live second device, even after the
    connection drops and comes back."""
    state = Topics(SITE, DEVICE).state
    probe.publish(state, dumps({"v": 1, "online": True, "session": 7,
                                "ts": int(time.time() * 1000), "boot": "gone",
                                "db": "a-replaced-card"}), retain=True)
    probe.subscribe(state)
    edge = EdgeRig(make_config(proxy.port, reconnect_max_s=1.0), tmp_path / "edge")
    edges.append(edge)
    wait_for(lambda: edge.link.health()["connected"], 10, "the edge connected")
    wait_for(lambda: any(b'"online":true' in p and edge.link.db_id.encode() in p
                         for p in probe.seen(state)), 10, "our birth over the stale one")
    for _ in range(2):   # lost connections (not closed by the edge), then back
        connects = edge.link.health()["connects"]
        proxy.reset_all()
        wait_for(lambda: edge.link.health()["connects"] > connects
                 and edge.link.health()["connected"], 10, "the edge back")
    time.sleep(1.5)
    assert not identity_alarm(edge)
    assert edge.events_of("alarm.raised") == []
    assert edge.link.health()["connected"]


OURS = "our-database"


def state(db: str, session: int, *, online: bool = True, boot: str = "b1") -> bytes:
    return dumps({"v": 1, "online": online, "session": session, "boot": boot, "db": db})


# Each row: connections in order, each (our session, what our state topic brought on it,
# how it ended: "lost", or "closed" by us), and what the watch answered for every message,
# then whether sync.identity was raised.
CONNECTIONS: list[tuple[str, list[tuple[int, list[bytes], str]], list[str | None], bool]] = [
    ("a stale birth, redelivered by the broker on the next connections: never a device",
     [(1, [state("gone", 7)], "lost"), (2, [state("gone", 7)], "lost"),
      (3, [state("gone", 7), state(OURS, 2, online=False)], "lost")],
     ["birth", "birth", "birth", "birth"], False),
    ("a birth of another database, then a new one of it after we lost the connection",
     [(1, [state("other", 4)], "lost"), (2, [state("other", 5)], "lost")],
     ["birth", "conflict"], True),
    ("the same after a reboot of the other box (same session number, new boot)",
     [(1, [state("other", 4)], "lost"), (2, [state("other", 4, boot="b2")], "lost")],
     ["birth", "conflict"], True),
    ("a connection we closed ourselves proves nothing about the next birth",
     [(1, [state("other", 4)], "closed"), (2, [state("other", 5)], "lost")],
     ["birth", "birth"], False),
    ("our birth over it never got its PUBACK: the next one proves nothing",
     [(1, [state("other", 4)], "lost-unacked"), (2, [state("other", 5)], "lost")],
     ["birth", "birth"], False),
    ("our own birth, a will of an older session, garbage",
     [(3, [state(OURS, 3), state(OURS, 2, online=False), b"{not json", b""], "lost")],
     [None, "birth", "birth", "birth"], False),
]


@pytest.mark.parametrize("what, connections, answers, raised", CONNECTIONS,
                         ids=[r[0] for r in CONNECTIONS])
def test_what_our_state_topic_tells_about_another_device(
        what: str, connections: list[tuple[int, list[bytes], str]], answers: list[str | None],
        raised: bool) -> None:
    events: list[tuple[str, dict]] = []
    watch = IdentityWatch(SITE, DEVICE, lambda t, d: events.append((t, d)))
    got: list[str | None] = []
    for session, messages, end in connections:
        answered: Any = None
        for payload in messages:
            action, seen = watch.state_message(payload, db_id=OURS, session=session,
                                               answered_here=answered)
            got.append(action)
            answered = seen or answered
        watch.connection_ended(lost=end.startswith("lost"), foreign=answered,
                               birth_acked=end != "lost-unacked")
    assert got == answers
    assert watch.raised is raised
    assert [t for t, _ in events] == (["alarm.raised"] if raised else [])
