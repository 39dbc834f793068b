"""The visitor's IIN never reaches the edge's database from MQTT (docs/bookings.md)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from edge.sync.protocol import Topics
from tests.sync.conftest import (DEVICE, SITE, Broker, CentralRig, EdgeRig, Probe, make_config,
                                 wait_for)

T = Topics(SITE, DEVICE)
IIN = "900101300126"        # valid check digit
OTHER_IIN = "900101300127"  # invalid check digit, on an entry the engine refuses anyway


def iin_bytes_in(state_dir: Path, *more: Path) -> dict[str, int]:
    """How often either IIN's digits occur in the edge's database files (and `more`)."""
    found: dict[str, int] = {}
    for path in [*sorted(state_dir.glob("kezek.db*")), *more]:
        blob = path.read_bytes() if path.exists() else b""
        n = blob.count(IIN.encode()) + blob.count(OTHER_IIN.encode())
        if n:
            found[path.name] = n
    return found


def test_clear_iin_from_central_is_refused_per_entry_and_never_stored(
        broker: Broker, central: CentralRig, probe: Probe, tmp_path: Path,
        edges: list[EdgeRig], monkeypatch: pytest.MonkeyPatch) -> None:
    """Risk: central's bookings snapshot was saved verbatim, clear IINs included."""
    monkeypatch.setenv("KEZEK_IIN_SECRET", "0123456789abcdef0123456789abcdef")
    state = tmp_path / "edge"
    edge = EdgeRig(make_config(broker.port), state)
    edges.append(edge)
    wait_for(lambda: edge.link.health()["connected"], 10, "connection")
    doc = {"v": 1, "version": 3, "bookings": [
        {"code": "AB-100", "service": "docs", "date": "2026-11-23", "slot_start": "10:00",
         "iin": IIN},
        {"code": "AB-101", "service": "nosuch", "date": "2026-11-23", "slot_start": "10:00",
         "iin": OTHER_IIN},
        {"code": "AB-102", "service": "docs", "date": "2026-11-23", "slot_start": "10:30",
         "IIN": IIN},
        {"code": "AB-103", "service": "docs", "date": "2026-11-23", "slot_start": "11:00"},
        # an IIN inside a known field, and in a top-level key the message model ignores
        {"code": "AB-104", "service": "docs", "date": "2026-11-23", "slot_start": "11:15",
         "site": {"iin": IIN}}],
        "removed": [{"code": "AB-099", "iin": OTHER_IIN}]}
    probe.publish(T.bookings, json.dumps(doc), retain=True)
    wait_for(lambda: edge.link.health()["bookings_version"] == 3, 10, "bookings applied")
    rejected = edge.events_of("bookings.rejected")
    assert len(rejected) == 1
    items = {i["index"]: i for i in rejected[0]["items"]}
    assert sorted(items) == [0, 1, 2, 4], "each entry is reported at its own index"
    assert "site: must be a string or a number" in items[4]["reason"]
    assert items[0]["code"] == "AB-100" and "send iin_hmac" in items[0]["reason"]
    assert "clear IIN" in items[1]["reason"]
    assert "IIN: not a booking field" in items[2]["reason"]
    with sqlite3.connect(f"file:{edge.db_path}?mode=ro", uri=True) as db:
        codes = [r[0] for r in db.execute("SELECT code FROM bookings")]
    assert codes == ["AB-103"], "only the entry without a clear IIN loads"
    wait_for(lambda: central.contiguous() == edge.last_seq(), 10, "events at central")
    edge.close()
    edges.remove(edge)
    assert iin_bytes_in(state, central.db) == {}

    # The saved snapshot still re-applies at start, and a copy that an older edge saved
    # verbatim is replaced by the sanitised one at the first start.
    with sqlite3.connect(str(edge.db_path)) as db:
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('sync.bookings', ?)",
                   (json.dumps(json.dumps(doc)),))
    assert iin_bytes_in(state)
    edge = EdgeRig(make_config(broker.port), state)
    edges.append(edge)
    wait_for(lambda: edge.link.health()["connected"], 10, "connection after restart")
    edge.close()
    edges.remove(edge)
    assert iin_bytes_in(state) == {}
    with sqlite3.connect(str(edge.db_path)) as db:
        saved = json.loads(json.loads(db.execute(
            "SELECT value FROM meta WHERE key='sync.bookings'").fetchone()[0]))
    assert saved["version"] == 3
    assert saved["bookings"][0] == {"code": "AB-100", "iin": None}
    assert saved["bookings"][3] == doc["bookings"][3]
    assert saved["bookings"][4] == {"code": "AB-104", "site": None} and "removed" not in saved
