"""Downlink: cfg and bookings snapshots, commands, and garbage on every downlink topic."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from edge.clock import ManualClock
from edge.sync.protocol import CENTRAL_STATE_TOPIC, Topics
from tests.sync.conftest import (DEVICE, SITE, Broker, CentralRig, EdgeRig, Probe,
                                 assert_exactly_once, make_config, wait_for)

T = Topics(SITE, DEVICE)

NEW_SERVICES = [
    {"id": "docs", "names": {"kk": "Құжат", "ru": "Документы"}, "prefix": "A"},
    {"id": "realty", "names": {"kk": "Мүлік", "ru": "Недвижимость"}, "prefix": "B"},
    {"id": "tax", "names": {"kk": "Салық", "ru": "Налоги"}, "prefix": "C"},
]
NEW_WINDOWS = [{"number": 1, "services": {"docs": 1, "realty": 1}},
               {"number": 2, "services": {"docs": 1, "tax": 2}},
               {"number": 3, "services": {"tax": 1}}]


IIN = "870412300125"   # 12 digits, the form of an IIN


def cfg(version: int, **sections: object) -> str:
    return json.dumps({"v": 1, "version": version,
                       "config": sections or {"services": NEW_SERVICES, "windows": NEW_WINDOWS}})


def services_of(edge: EdgeRig) -> list[str]:
    return [s.id for s in edge.app.controller.snapshot.services]


def results(edge: EdgeRig, type_: str) -> list[dict]:
    return edge.events_of(type_)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(time.time_ns() // 1_000_000, synced=True)


def test_cfg_applied_persisted_and_newest_wins_across_restart(
        broker: Broker, central: CentralRig, probe: Probe, tmp_path: Path,
        edges: list[EdgeRig]) -> None:
    """Risk: a restart falls back to the file's services, or an old snapshot wins."""
    config = make_config(broker.port)
    edge = EdgeRig(config, tmp_path / "edge")
    edges.append(edge)
    probe.publish(T.cfg, cfg(5), retain=True)
    wait_for(lambda: "tax" in services_of(edge), 10, "cfg version 5 to apply")
    # Saved (and its sync.applied recorded) once the link saw the result: only then does
    # a restart find it.
    wait_for(lambda: results(edge, "sync.applied"), 10, "cfg version 5 recorded as applied")
    probe.publish(T.cfg, cfg(4, services=NEW_SERVICES[:2], windows=NEW_WINDOWS[:1]), retain=True)
    # MQTT keeps the order within a topic: once garbage sent after it is rejected, the
    # older version was handled too.
    probe.publish(T.cfg, b"{not json")
    wait_for(lambda: results(edge, "sync.rejected"), 10, "the garbage after version 4")
    assert "tax" in services_of(edge), "an older version must not win"
    edge.close()
    edges.remove(edge)
    probe.publish(T.cfg, b"", retain=True)   # central cleared the topic meanwhile
    edge = EdgeRig(config, tmp_path / "edge")
    edges.append(edge)
    wait_for(lambda: "tax" in services_of(edge), 10, "the saved cfg to apply again on start")
    assert edge.link.health()["cfg_version"] == 5
    wait_for(lambda: edge.link.health()["connected"], 10, "connection")
    edge.record(1)
    wait_for(lambda: central.contiguous() == edge.last_seq(), 10, "events")
    applied = [e["data"] for e in central.events() if e["type"] == "sync.applied"]
    assert applied == [{"topic": "cfg", "version": 5}]


def test_invalid_cfg_is_rejected_and_running_state_untouched(
        broker: Broker, central: CentralRig, probe: Probe, tmp_path: Path,
        edges: list[EdgeRig]) -> None:
    """Risk: half of a bad config is applied, or the edge stops working on it."""
    edge = EdgeRig(make_config(broker.port), tmp_path / "edge")
    edges.append(edge)
    before = services_of(edge)
    # Valid JSON and protocol, but window 1 names a service that does not exist.
    bad = cfg(7, services=NEW_SERVICES[:1], windows=NEW_WINDOWS[:2])
    probe.publish(T.cfg, bad, retain=True)
    rejected = wait_for(lambda: results(edge, "sync.rejected"), 10, "a rejection event")
    assert rejected[0]["topic"] == "cfg"
    assert "windows.0.services.realty" in rejected[0]["reason"]
    assert services_of(edge) == before
    # The same retained payload again (a reconnect) is not reported twice: once garbage
    # sent after it (on the same topic, so handled after it) is rejected, only that is new.
    probe.publish(T.cfg, bad, retain=True)
    probe.publish(T.cfg, b"{not json")
    wait_for(lambda: len(results(edge, "sync.rejected")) >= 2, 10, "the garbage after it")
    assert len(results(edge, "sync.rejected")) == 2
    assert "not JSON" in results(edge, "sync.rejected")[1]["reason"]
    assert edge.link.health()["cfg_version"] == 0


def test_commands_run_once_expire_and_report(broker: Broker, central: CentralRig, probe: Probe,
                                             tmp_path: Path, clock: ManualClock,
                                             edges: list[EdgeRig]) -> None:
    """Risk: a redelivered command runs twice, or a stale one runs hours later."""
    edge = EdgeRig(make_config(broker.port), tmp_path / "edge", clock=clock)
    edges.append(edge)
    wait_for(lambda: edge.link.health()["connected"], 10, "connection")
    now = clock.read().wall_ms

    def cmd(cmd_id: str, name: str, args: dict, ts: int = now, ttl: int = 60) -> str:
        return json.dumps({"v": 1, "cmd_id": cmd_id, "name": name, "args": args, "ts": ts,
                           "ttl_s": ttl})

    probe.publish(T.cmd, cmd("c1", "close_window", {"window": 2}))
    probe.publish(T.cmd, cmd("c1", "close_window", {"window": 2}))   # redelivered
    probe.publish(T.cmd, cmd("c2", "open_window", {"window": 2}, ts=now - 3_600_000))  # stale
    probe.publish(T.cmd, cmd("c3", "announce", {"text": "Окно 2 закрыто", "lang": "ru"}))
    probe.publish(T.cmd, cmd("c4", "pause_window", {"window": 99}))  # refused by the engine
    probe.publish(T.cmd, cmd("c5", "resend", {"from_seq": 1}))
    probe.publish(T.cmd, cmd("c6", "reload_config", {}))
    probe.publish(T.cmd, cmd("c7", "reprint", {"label": "A-001"}))
    done = wait_for(lambda: (r := results(edge, "cmd.result")) and len(r) >= 7 and r, 10,
                    "seven command results")
    by_id = {r["cmd_id"]: r for r in done}
    assert sorted(by_id) == ["c1", "c2", "c3", "c4", "c5", "c6", "c7"]
    assert len(done) == 7, "c1 must run once"
    assert by_id["c1"]["ok"] and by_id["c1"]["name"] == "close_window"
    windows = {w.number: w.state for w in edge.app.controller.snapshot.windows}
    assert windows[2] == "closed"
    assert (by_id["c2"]["ok"], by_id["c2"]["code"]) == (False, "expired")
    assert by_id["c3"]["ok"]
    assert edge.events_of("announce.text")[0]["text"] == "Окно 2 закрыто"
    assert not by_id["c4"]["ok"] and by_id["c4"]["code"] != "ok"
    assert by_id["c5"]["ok"]
    assert (by_id["c6"]["ok"], by_id["c6"]["code"]) == (False, "unsupported")
    assert not by_id["c7"]["ok"]  # no ticket A-001 today
    # The id survives a restart: a broker redelivery after restart does not run it again.
    edge.close()
    edges.remove(edge)
    edge = EdgeRig(make_config(broker.port), tmp_path / "edge", clock=clock)
    edges.append(edge)
    wait_for(lambda: edge.link.health()["connected"], 10, "connection")
    probe.publish(T.cmd, cmd("c1", "open_window", {"window": 2}))
    probe.publish(T.cmd, cmd("c8", "open_window", {"window": 1}))
    wait_for(lambda: any(r["cmd_id"] == "c8" for r in results(edge, "cmd.result")), 10, "c8")
    assert [r["cmd_id"] for r in results(edge, "cmd.result")] == ["c8"]
    windows = {w.number: w.state for w in edge.app.controller.snapshot.windows}
    assert windows[2] == "closed", "c1 (now saying open) was already run once"
    last = edge.last_seq()
    wait_for(lambda: central.contiguous() == last, 10, "events at central")
    assert_exactly_once(central, last)


GARBAGE = [
    b"\xff\xfe not utf-8",
    b"{not json",
    b"[1, 2, 3]",
    b'{"v": 2, "version": 99, "config": {}}',
    b'{"v": 1}',
    b'{"v": 1, "version": -1, "bookings": "x"}',
    b"x" * (1024 * 1024 + 1),   # over downlink_max_bytes as this test sets it
]


def test_garbage_on_every_downlink_topic(broker: Broker, central: CentralRig, probe: Probe,
                                         tmp_path: Path, edges: list[EdgeRig]) -> None:
    """Risk: one bad message kills the network loop or changes the running state."""
    # 1 MiB instead of the 8 MiB default keeps the oversized payload quick to publish.
    edge = EdgeRig(make_config(broker.port, downlink_max_bytes=1024 * 1024), tmp_path / "edge")
    edges.append(edge)
    edge.record(20)
    wait_for(lambda: central.contiguous() == edge.last_seq(), 10, "first events")
    before = edge.app.controller.snapshot
    for topic in (T.cfg, T.bookings, T.cmd, T.ack, T.state, CENTRAL_STATE_TOPIC):
        for payload in GARBAGE:
            probe.publish(topic, payload)
    # The real central's retained state comes back (the garbage was not retained).
    probe.publish(CENTRAL_STATE_TOPIC, json.dumps({"v": 1, "online": True, "session": 99}),
                  retain=True)
    wait_for(lambda: len(results(edge, "sync.rejected")) == 3 * len(GARBAGE), 15,
             "every bad cfg, bookings and cmd payload to be reported")
    edge.record(20, start=20)
    last = edge.last_seq()
    wait_for(lambda: central.contiguous() == last, 15, "events after the garbage")
    assert_exactly_once(central, last, edge.ids)
    rejected = [e["data"] for e in central.events() if e["type"] == "sync.rejected"]
    assert {r["topic"] for r in rejected} == {"cfg", "bookings", "cmd"}
    reasons = " | ".join(r["reason"] for r in rejected)
    for words in ("not UTF-8", "not JSON", "expected an object", "unsupported protocol version",
                  "over the limit"):
        assert words in reasons
    # Garbage on the ack and central-state topics leaves no event, and MQTT keeps no order
    # between topics: counted once it has all been handled.
    wait_for(lambda: edge.link.health()["bad_messages"] >= 2 * len(GARBAGE) - 2, 15,
             "the bad acks and central states to be counted")
    health = edge.link.health()
    assert health["connected"] and health["watchdog_restarts"] == 0
    after = edge.app.controller.snapshot
    assert (after.services, after.windows) == (before.services, before.windows)


def test_clock_jumps_do_not_reorder_or_lose(broker: Broker, central: CentralRig, tmp_path: Path,
                                            clock: ManualClock, edges: list[EdgeRig]) -> None:
    """Risk: a Pi without RTC steps its clock by hours; ordering by time would scramble."""
    edge = EdgeRig(make_config(broker.port), tmp_path / "edge", clock=clock)
    edges.append(edge)
    edge.record(30)
    clock.jump_wall(-3 * 3600)          # NTP steps the clock back three hours
    clock.synced = False
    edge.record(30, start=30)
    clock.jump_wall(+6 * 3600)
    clock.synced = True
    edge.record(30, start=60)
    last = edge.last_seq()
    wait_for(lambda: central.contiguous() == last, 15, "events")
    events = assert_exactly_once(central, last, edge.ids)
    tests = [e for e in events if e["type"] == "test.event"]
    assert [e["data"]["i"] for e in tests] == list(range(90))
    assert any(not e["clock_synced"] for e in tests)


RELOAD_TOML = """
[center]
site = "{site}"
device = "{device}"
name = {{ kk = "T", ru = "T" }}
[policies]
recall_limit = {recall}
[[services]]
id = "docs"
names = {{ kk = "D", ru = "D" }}
prefix = "A"
[[windows]]
number = 1
services = {{ docs = 1 }}
[sync]
enabled = true
host = "127.0.0.1"
port = {port}
tls = false
keepalive_s = 2
reconnect_min_s = 0.1
reconnect_max_s = 0.5
"""


class _Notifier:
    def reloading(self) -> None:
        pass

    def ready(self, *_: object) -> None:
        pass


def test_cfg_after_sighup_merges_over_the_reloaded_file(
        broker: Broker, central: CentralRig, probe: Probe, tmp_path: Path,
        edges: list[EdgeRig]) -> None:
    """Risk: central's next cfg was merged over the config of process start, undoing a
    SIGHUP reload of the sections central leaves out."""
    from edge.config import load_config
    from edge.service import reload_config

    path = tmp_path / "center.toml"
    path.write_text(RELOAD_TOML.format(site=SITE, device=DEVICE, recall=3, port=broker.port))
    edge = EdgeRig(load_config(path), tmp_path / "edge")
    edges.append(edge)
    assert edge.app.engine.policies.recall_limit == 3
    path.write_text(RELOAD_TOML.format(site=SITE, device=DEVICE, recall=7, port=broker.port))
    reload_config(edge.app, path, _Notifier())   # what SIGHUP does
    wait_for(lambda: edge.app.engine.policies.recall_limit == 7, 10, "the reload")
    # Central manages the windows only: [policies] stays the (reloaded) file's.
    probe.publish(T.cfg, cfg(1, windows=[{"number": 1, "services": {"docs": 1}},
                                         {"number": 2, "services": {"docs": 1}}]), retain=True)
    wait_for(lambda: edge.link.health()["cfg_version"] == 1, 10, "cfg version 1")
    assert sorted(w.number for w in edge.app.controller.snapshot.windows) == [1, 2]
    assert edge.app.engine.policies.recall_limit == 7


def test_a_full_bookings_snapshot_fits_the_default_limit(
        broker: Broker, central: CentralRig, probe: Probe, tmp_path: Path,
        edges: list[EdgeRig]) -> None:
    """Risk: the default downlink_max_bytes (1 MiB) refused snapshots above ~4,700
    bookings although protocol.md promises up to 20,000."""
    import hashlib

    edge = EdgeRig(make_config(broker.port), tmp_path / "edge")
    edges.append(edge)
    doc = json.dumps({"v": 1, "version": 1, "bookings": [
        {"code": f"AB-{i:05d}", "service": "docs", "date": "2026-11-24",
         "slot_start": f"{9 + (i // 60) % 9:02d}:{i % 60:02d}", "slot_minutes": 15,
         "iin_hmac": hashlib.sha256(str(i).encode()).hexdigest(), "status": "active",
         "version": 1} for i in range(20_000)]})
    assert len(doc) > 4_000_000
    probe.publish(T.bookings, doc, retain=True)
    wait_for(lambda: edge.link.health()["bookings_version"] == 1, 120,
             "the 20,000-booking snapshot to load")
    assert results(edge, "sync.rejected") == []
    assert results(edge, "bookings.loaded")[0]["changed"] == 20_000


def test_hostile_json_is_rejected_with_its_reason_and_the_next_message_applies(
        broker: Broker, central: CentralRig, probe: Probe, tmp_path: Path,
        edges: list[EdgeRig], caplog: pytest.LogCaptureFixture) -> None:
    """Risk: json.loads raises RecursionError on deep nesting and a bare ValueError on a
    5,000-digit number, and lets NaN and lone surrogate escapes through (SQLite refuses
    those later, as a 'storage' error): the message vanished into a log traceback, with
    no sync.rejected for central, or failed with a reason that does not name the input."""
    edge = EdgeRig(make_config(broker.port), tmp_path / "edge")
    edges.append(edge)
    edge.record(1)
    wait_for(lambda: central.contiguous() == edge.last_seq(), 10, "the edge to be subscribed")
    good = {"code": "ABC-1", "service": "docs", "date": "2026-11-24", "slot_start": "10:00"}
    hostile = [
        (T.cfg, b'{"v": 1, "version": 5, "config": ' + b"[" * 5000 + b"]" * 5000 + b"}",
         "nested too deeply"),
        (T.bookings, b'{"v": 1, "version": ' + b"9" * 5000 + b', "bookings": []}',
         "5000 digits is too large"),
        (T.cfg, b'{"v": 1, "version": 6, "config": {"policies": {"recall_limit": NaN}}}',
         "NaN is not a JSON number"),
        (T.bookings, json.dumps({"v": 1, "version": 3, "bookings": [
            {**good, "site": "\ud800"}]}).encode(), "bookings[0].site: holds a lone UTF-16"),
        (T.cmd, json.dumps({"v": 1, "cmd_id": "c-sur", "name": "announce", "ts": 0,
                            "ttl_s": 60, "args": {"text": "x\udcff"}}).encode(),
         "args.text: holds a lone UTF-16 surrogate"),
        # Wrong types were converted: `true` closed window 1, "9" was version 9, a cfg's
        # recall_limit true was 1 and "5" minutes were 5.
        (T.cmd, json.dumps({"v": 1, "cmd_id": "c-bool", "name": "close_window", "ts": 0,
                            "ttl_s": 60, "args": {"window": True}}).encode(),
         "args.window: expected an integer, got true"),
        (T.bookings, json.dumps({"v": 1, "version": "9", "bookings": []}).encode(),
         'version: expected an integer, got the string "9"'),
        (T.cfg, b'{"v": true, "version": 8, "config": {}}', "unsupported protocol version v=true"),
        (T.cfg, json.dumps({"v": 1, "version": 9, "config": {"policies": {
            "recall_limit": True}}}).encode(), "policies.recall_limit: expected a whole number "
                                               "(got true)"),
        (T.cfg, json.dumps({"v": 1, "version": 10, "config": {"policies": {
            "no_show_return_min": "5"}}}).encode(),
         "policies.no_show_return_min: expected a whole number (got '5'); remove the quotes: "
         "no_show_return_min = 5"),
        # The sender's values in a reason: cut short, an IIN-like run of digits masked.
        (T.cmd, json.dumps({"v": IIN, "cmd_id": IIN, "name": "close_window"}).encode(),
         "unsupported protocol version v='<12 digits>'"),
        (T.cfg, json.dumps({"v": 1, "version": 11, "config": {"policies": {
            IIN + "y" * 300: 1}}}).encode(), "policies.<12 digits>yyyy"),
        (T.cmd, json.dumps({"v": 1, "cmd_id": IIN, "name": "close_window", "ts": 0,
                            "ttl_s": 60, "args": {"window": IIN + "x" * 500}}).encode(),
         'args.window: expected an integer, got the string "<12 digits>xxxxxxxxxxxx…"'),
    ]
    for topic, payload, _ in hostile:
        probe.publish(topic, payload)
    wait_for(lambda: len(results(edge, "sync.rejected")) == len(hostile), 15,
             "every hostile payload to be reported")
    reasons = [r["reason"] for r in results(edge, "sync.rejected")]
    # cfg, bookings and cmd are three topics: MQTT keeps order within a topic only.
    for _, _, words in hostile:
        assert sum(words in reason for reason in reasons) == 1, (words, reasons)
    assert results(edge, "cmd.result") == [], "the refused commands must not run"
    rejected = json.dumps(results(edge, "sync.rejected"))
    assert IIN not in rejected and IIN not in caplog.text, "an IIN-like value was copied"
    assert all(len(r) <= 500 for r in reasons)
    assert results(edge, "sync.applied") == [], "a refused cfg or bookings was applied"
    assert {w.number: w.state for w in edge.app.controller.snapshot.windows}[1] == "open"
    # Nothing is stuck behind them: the next cfg and bookings apply.
    probe.publish(T.cfg, cfg(7))
    probe.publish(T.bookings, json.dumps({"v": 1, "version": 4, "bookings": [good]}))
    wait_for(lambda: "tax" in services_of(edge), 10, "the good cfg to apply")
    wait_for(lambda: edge.link.health()["bookings_version"] == 4, 10, "the good bookings")
    # Their sync.applied events are recorded after that (the link submits them once it
    # saw the results): the last seq is read once they are committed.
    wait_for(lambda: {(a["topic"], a["version"]) for a in results(edge, "sync.applied")}
             >= {("cfg", 7), ("bookings", 4)}, 10, "both recorded as applied")
    last = edge.last_seq()
    wait_for(lambda: central.contiguous() == last, 15, "every event to reach central")
    assert_exactly_once(central, last, edge.ids)
    assert edge.link.health()["bad_messages"] == 0, "no message may end in a traceback"


def test_integral_numbers_written_as_floats_are_taken_and_a_saved_cfg_of_the_previous_edge_restores(
        broker: Broker, central: CentralRig, probe: Probe, tmp_path: Path,
        edges: list[EdgeRig], caplog: pytest.LogCaptureFixture) -> None:
    """Risk: the strict downlink types refuse 5.0 for version 5 (a central that keeps
    numbers as floats or decimals: JSON has one number type), and an edge upgraded with a
    cfg snapshot an older edge accepted and saved ("version": "5") starts without it:
    the queue runs the file's services instead of central's."""
    import sqlite3
    config = make_config(broker.port)
    edge = EdgeRig(config, tmp_path / "edge")
    edges.append(edge)
    probe.publish(T.cfg, json.dumps({"v": 1, "version": 5.0, "config": {
        "services": NEW_SERVICES, "windows": NEW_WINDOWS}}), retain=True)
    wait_for(lambda: "tax" in services_of(edge), 10, "cfg version 5.0 to apply")
    wait_for(lambda: edge.link.health()["cfg_version"] == 5, 10, "cfg version 5 recorded")
    probe.publish(T.cmd, json.dumps({"v": 1, "cmd_id": "c-float", "name": "close_window",
                                     "ts": 0, "ttl_s": 60, "args": {"window": 3.0}}))
    wait_for(lambda: results(edge, "cmd.result"), 10, "the command to run")
    assert {w.number: w.state for w in edge.app.controller.snapshot.windows}[3] == "closed"
    # Still refused: a fraction, a string, a boolean.
    probe.publish(T.cmd, json.dumps({"v": 1, "cmd_id": "c-frac", "name": "close_window",
                                     "ts": 0, "ttl_s": 60, "args": {"window": 2.5}}))
    wait_for(lambda: results(edge, "sync.rejected"), 10, "the fraction to be refused")
    assert "args.window" in results(edge, "sync.rejected")[0]["reason"]
    edge.close()
    edges.remove(edge)

    # As an edge before the strict types saved a snapshot whose version came as a string.
    probe.publish(T.cfg, b"", retain=True)
    conn = sqlite3.connect(tmp_path / "edge" / "kezek.db")
    saved = json.loads(conn.execute("SELECT value FROM meta WHERE key='sync.cfg'").fetchone()[0])
    older = json.loads(saved)
    older["version"] = "5"
    older["config"]["services"][0]["avg_minutes"] = "9"   # an older edge took it as 9
    conn.execute("UPDATE meta SET value=? WHERE key='sync.cfg'", (json.dumps(json.dumps(older)),))
    conn.commit()
    conn.close()
    edge = EdgeRig(config, tmp_path / "edge")
    edges.append(edge)
    wait_for(lambda: "tax" in services_of(edge), 10, "the saved cfg to apply again on start")
    assert not results(edge, "sync.rejected")
    # Applied as before, but not silently: the log names what central should fix.
    assert "holds values of the wrong type (version: expected an integer, got the string " \
           '"5"' in caplog.text
