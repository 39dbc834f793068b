"""The calendar from central, end to end: cfg over a real Mosquitto drives the refusals.

Risk: a holiday or a duty roster announced per city reached the edge only by someone
editing the TOML file on the Pi; the center then issued tickets on a closed day, or
refused them on a working Saturday, and told visitors a wrong "opens at".
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any


from edge.clock import ManualClock
from edge.errors import CommandError
from edge.queue.commands import IssueTicket
from edge.queue.policies import Refusal
from tests.conftest import MONDAY_9AM_MS
from tests.sync.conftest import (DEVICE, SITE, Broker, CentralRig, EdgeRig, make_config,
                                 wait_for)

WEEK = {d: {"open": "09:00", "close": "18:00"} for d in ("mon", "tue", "wed", "thu", "fri")}
# Monday the 23rd is a holiday; Tuesday the 24th opens late; the next week the center is
# on duty: until 20:00 on weekdays and 09:00-13:00 on Saturday.
CALENDAR = {"closed": ["2026-11-23"],
            "days": [{"date": "2026-11-24", "open": "10:00", "close": "13:00"}],
            "periods": [{"start": "2026-11-30", "end": "2026-12-06",
                         "hours": {"sat": {"open": "09:00", "close": "13:00"}}}]}


def cfg(version: int, calendar: Any) -> dict[str, Any]:
    return {"v": 1, "version": version,
            "config": {"policies": {"hours": WEEK}, "calendar": calendar}}


def walk_in(edge: EdgeRig) -> Any:
    try:
        return edge.app.controller.call(IssueTicket("docs"), timeout=10)
    except CommandError as e:
        return e


def applied(edge: EdgeRig, version: int) -> bool:
    return any(e == {"topic": "cfg", "version": version} for e in edge.events_of("sync.applied"))


def test_central_sends_the_calendar_and_the_edge_follows_it(
        broker: Broker, central: CentralRig, tmp_path: Path, edges: list[EdgeRig]) -> None:
    clock = ManualClock(MONDAY_9AM_MS, synced=True)      # Monday 23rd, 09:00
    edge = EdgeRig(make_config(broker.port), tmp_path / "edge", clock=clock)
    edges.append(edge)
    assert not isinstance(walk_in(edge), CommandError)   # no hours yet: open

    central.central.publish_snapshot("cfg", SITE, DEVICE, cfg(1, CALENDAR))
    wait_for(lambda: applied(edge, 1), 20, "cfg version 1 to apply")
    err = walk_in(edge)
    assert isinstance(err, Refusal) and err.code == "closed"
    assert err.params["opens"] == "24.11 10:00"           # the late Tuesday, not 09:00

    # A shortened day's capacity: Tuesday at 12:50, ten minutes left.
    clock.advance(24 * 3600 + 3 * 3600 + 50 * 60)
    got = walk_in(edge)
    assert not isinstance(got, CommandError), got        # one fits (10 min x 2 windows)

    # Central takes the calendar back: the week's hours alone.
    central.central.publish_snapshot("cfg", SITE, DEVICE, cfg(2, {}))
    wait_for(lambda: applied(edge, 2), 20, "cfg version 2 to apply")
    schedule = edge.app.engine.policies.schedule
    assert schedule.spans(dt.date(2026, 11, 24)) == ((540, 1080),)   # Tuesday's week hours
    assert schedule.spans(dt.date(2026, 11, 23)) == ((540, 1080),)   # no holiday any more

    # A calendar of the wrong types is refused whole, naming the key; version 2 runs on.
    bad = cfg(3, {"closed": ["2026-11-24", 20261125]})
    central.central.publish_snapshot("cfg", SITE, DEVICE, bad)
    rejected = wait_for(lambda: edge.events_of("sync.rejected"), 20, "the rejection")
    assert rejected[0]["topic"] == "cfg" and "calendar.closed.1" in rejected[0]["reason"]
    assert edge.link.health()["cfg_version"] == 2

    # Central sees what happened, from the edge's events.
    wait_for(lambda: any(e["type"] == "sync.rejected" for e in central.events()), 20,
             "central to store the rejection")
    seen = [(e["type"], json.dumps(e["data"])) for e in central.events()
            if e["type"] in ("sync.applied", "sync.rejected")]
    assert [t for t, _ in seen] == ["sync.applied", "sync.applied", "sync.rejected"]
