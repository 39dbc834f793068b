"""The visitor's IIN never reaches the edge's database from MQTT (docs/bookings.md)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import zoneinfo
from pathlib import Path

import pytest

from edge.clock import ManualClock
from edge.errors import CommandError
from edge.queue.commands import CheckIn
from edge.sync.protocol import Topics
from tests.sync.conftest import (DEVICE, SITE, Broker, CentralRig, EdgeRig, Probe, make_config,
                                 wait_for)

T = Topics(SITE, DEVICE)
IIN = "900101300126"        # valid check digit
OTHER_IIN = "900101300127"  # invalid check digit, on an entry the engine refuses anyway


def iin_bytes_in(state_dir: Path, *more: Path) -> dict[str, int]:
    """How often either IIN's digits occur in the edge's database files (and `more`)."""
    paths = [*sorted(state_dir.glob("kezek.db*")), *more]
    found: dict[str, int] = {}
    for iin in (IIN, OTHER_IIN):
        for name, n in _files_holding(iin, *paths).items():
            found[name] = found.get(name, 0) + n
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


def _files_holding(iin: str, *paths: Path) -> dict[str, int]:
    """How often `iin`'s digits occur in each of `paths` that holds them (incl. -wal files)."""
    found: dict[str, int] = {}
    for path in paths:
        blob = path.read_bytes() if path.exists() else b""
        n = blob.count(iin.encode()) + blob.count(iin.encode("utf-16-le"))
        if n:
            found[path.name] = n
    return found


def test_an_iin_in_a_central_entrys_code_site_service_or_rebooked_to_is_refused_and_never_kept(
        broker: Broker, central: CentralRig, probe: Probe, tmp_path: Path,
        edges: list[EdgeRig], monkeypatch: pytest.MonkeyPatch) -> None:
    """Risk: a booking code (or site, service, rebooked_to) that is or holds a valid IIN
    was refused in files only: from central it was stored in clear in the bookings table
    and the saved snapshot (database and WAL), and sent to central in ticket events when
    the visitor checked in with it."""
    monkeypatch.setenv("KEZEK_IIN_SECRET", "0123456789abcdef0123456789abcdef")
    state = tmp_path / "edge"
    config = make_config(broker.port)
    # A fixed time (the kiosk checks the slot against it): Monday 10:00 at the center.
    day, slot = "2026-11-23", "10:00"
    at = dt.datetime(2026, 11, 23, 10, 0, tzinfo=zoneinfo.ZoneInfo(config.center.timezone))
    edge = EdgeRig(config, state, clock=ManualClock(int(at.timestamp() * 1000)))
    edges.append(edge)
    wait_for(lambda: edge.link.health()["connected"], 10, "connection")

    def entry(code: str, **extra: object) -> dict[str, object]:
        return {"code": code, "service": "docs", "date": day, "slot_start": slot, **extra}

    doc = {"v": 1, "version": 5, "bookings": [
        entry(IIN),                                   # the code is the IIN (a shifted column)
        entry(f"Q-{IIN}"),                            # a code made from the IIN
        entry("AB-301", site=f"ЦОН {IIN}"),
        entry("AB-302", status="rebooked", rebooked_to=IIN),
        entry("AB-303", service=IIN),
        entry(IIN, note="x"),                         # refused by the link for its key too
        entry("AB-304"),                              # fine: loads
        entry("KZ-20261123-0042", slot_minutes=30)]}  # digits, but no IIN: loads
    probe.publish(T.bookings, json.dumps(doc), retain=True)
    wait_for(lambda: edge.link.health()["bookings_version"] == 5, 10, "bookings applied")

    # The visitor scans or types the code from the portal's message at the kiosk.
    with pytest.raises(CommandError) as refused:
        edge.app.controller.call(CheckIn(f"Q-{IIN}"), timeout=60)
    assert refused.value.code == "unknown_booking"
    assert IIN not in str(refused.value)
    edge.app.controller.call(CheckIn("AB-304"), timeout=60)

    [rejected] = edge.events_of("bookings.rejected")
    items = {i["index"]: i for i in rejected["items"]}
    assert sorted(items) == [0, 1, 2, 3, 4, 5], "each entry is refused on its own"
    for index, field in [(0, "code"), (1, "code"), (2, "site"), (3, "rebooked_to"),
                         (4, "service"), (5, "code")]:
        reason = items[index]["reason"]
        assert f"{field}: holds an IIN" in reason, (index, reason)
        assert "iin_hmac" in reason, "the reason says where the IIN belongs"
    assert [items[i]["code"] for i in range(6)] == [None, None, "AB-301", "AB-302", "AB-303",
                                                    None]
    assert IIN not in json.dumps(rejected)
    with sqlite3.connect(f"file:{edge.db_path}?mode=ro", uri=True) as db:
        codes = sorted(r[0] for r in db.execute("SELECT code FROM bookings"))
    assert codes == ["AB-304", "KZ-20261123-0042"]
    wait_for(lambda: central.contiguous() == edge.last_seq(), 10, "events at central")
    assert any(e["type"] == "bookings.rejected" for e in central.events())

    def files() -> list[Path]:
        return [*sorted(state.glob("kezek.db*")), *sorted(tmp_path.glob("central.db*"))]

    # While both run, much of what they wrote is still in their WAL files only.
    assert sum(p.name.endswith("-wal") for p in files()) == 2
    assert _files_holding(IIN, *files()) == {}
    edge.close()
    edges.remove(edge)
    central.stop()
    assert _files_holding(IIN, *files()) == {}

    # An edge before this check saved such a snapshot as it came: the first start after
    # the update replaces it with the sanitised copy (secure_delete: no old bytes left).
    saved = {"v": 1, "version": 5, "bookings": doc["bookings"]}
    with sqlite3.connect(str(state / "kezek.db")) as db:
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('sync.bookings', ?)",
                   (json.dumps(json.dumps(saved)),))
    assert _files_holding(IIN, *files())
    edge = EdgeRig(make_config(broker.port), state)
    edges.append(edge)
    wait_for(lambda: edge.link.health()["connected"], 10, "connection after restart")
    edge.close()
    edges.remove(edge)
    assert _files_holding(IIN, *files()) == {}
