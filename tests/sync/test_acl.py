"""A broker whose ACL refuses the edge (login differs from center.device) is reported."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from edge.central.server import Central
from edge.central.store import CentralStore
from edge.sync.mqtt import BrokerSettings
from tests.sync.conftest import (DEVICE, SITE, Broker, CentralRig, EdgeRig, assert_exactly_once,
                                 make_config, wait_for)

ACL = ("pattern readwrite qms/v1/+/%u/#\npattern read qms/v1/central/state\n\n"
       "user central\ntopic readwrite qms/v1/#\n")


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory Mosquitto can read: started as root it reads its password and ACL
    files after dropping to its own user, and pytest's tmp_path is private."""
    path = Path(tempfile.mkdtemp(prefix="kezek-acl-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def broker_with_acl(tmp_path: Path, shared: Path, users: tuple[str, ...],
                    acl_text: str) -> Iterator[tuple[Broker, Path, CentralStore]]:
    """Mosquitto with a password for each of `users` ("secret") and the ACL `acl_text`
    (rewrite the yielded file and restart the broker to change it), the reference
    central logged in as "central", and a reader of central's store."""
    if shutil.which("mosquitto_passwd") is None:
        pytest.fail("install mosquitto (it provides mosquitto_passwd)")
    passwd = shared / "passwd"
    passwd.write_text("")
    for user in users:
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, "secret"], check=True)
    passwd.chmod(0o644)
    acl = shared / "acl"
    acl.write_text(acl_text)
    acl.chmod(0o644)
    broker = Broker(tmp_path, extra=f"password_file {passwd}\nacl_file {acl}\n")
    broker.start()
    central = Central(BrokerSettings("127.0.0.1", broker.port, username="central",
                                     password="secret", keepalive_s=5), tmp_path / "central.db")
    central.start()
    reader = CentralStore(tmp_path / "central.db")
    try:
        assert central.wait_connected(10)
        yield broker, acl, reader
    finally:
        reader.close()
        central.stop()
        broker.stop()


def test_acl_refusal_raises_alarm_backs_off_and_clears_when_fixed(
        tmp_path: Path, shared: Path, edges: list[EdgeRig],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Risk: SUBACK/PUBACK 0x87 ignored: health ok, every event resent forever."""
    with broker_with_acl(tmp_path, shared, ("central", "ast01-e1"), ACL) as (broker, acl, reader):
        monkeypatch.setenv("KEZEK_MQTT_PASSWORD", "secret")
        # The login is ast01-e1 but center.device is edge-1: the ACL refuses everything.
        edge = EdgeRig(make_config(broker.port, username="ast01-e1", reconnect_max_s=10.0),
                       tmp_path / "edge")
        edges.append(edge)
        edge.record(20)
        wait_for(lambda: "sync.denied" in edge.app.controller.snapshot.alarms, 10,
                 "the sync.denied alarm")
        health = edge.link.health()
        assert health["ok"] is False
        assert "not authorized" in health["last_error"].lower()
        assert "center.device (edge-1)" in health["last_error"]
        assert f"qms/v1/{SITE}/{DEVICE}/" in health["last_error"]
        alarm = edge.app.controller.snapshot.alarms["sync.denied"]
        assert alarm["severity"] == "critical"
        # Backed off: no reconnect and nothing resent for a while (ack_timeout_s is 2 s,
        # so a link that kept resending would send several batches in this time).
        before = edge.link.health()
        time.sleep(4)
        after = edge.link.health()
        assert after["connects"] == before["connects"], "refused connections must back off"
        assert after["sent_batches"] == before["sent_batches"], "no resending in a loop"
        assert len(edge.events_of("alarm.raised")) == 1

        # The fix at the broker: the device's login may use the topics.
        acl.write_text(ACL + "\nuser ast01-e1\ntopic readwrite qms/v1/#\n")
        broker.stop()
        broker.start()
        wait_for(lambda: "sync.denied" not in edge.app.controller.snapshot.alarms, 30,
                 "the alarm to clear")
        last = edge.last_seq()
        wait_for(lambda: (reader.device(SITE, DEVICE) or {}).get("contiguous") == last, 20,
                 "events at central once the ACL is fixed")
        assert edge.link.health()["ok"] is True
        assert edge.link.health()["denied"] == ""


def test_denied_stays_raised_while_evt_is_refused_and_clears_when_accepted(
        tmp_path: Path, shared: Path, edges: list[EdgeRig],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Risk: a broker that takes the birth and health but refuses evt: sync.denied was
    cleared on every reconnect (any PUBACK counted) and raised again, an alarm pair per
    reconnect filling the outbox while no event got through."""
    base = f"qms/v1/{SITE}/{DEVICE}"
    central_acl = "\nuser central\ntopic readwrite qms/v1/#\n"
    no_evt = (f"user {DEVICE}\n" + "".join(f"topic readwrite {base}/{t}\n" for t in (
        "state", "health", "evt/ack", "cfg", "bookings", "cmd"))
        + "topic read qms/v1/central/state\n")
    with broker_with_acl(tmp_path, shared, ("central", DEVICE), no_evt + central_acl) \
            as (broker, acl, reader):
        monkeypatch.setenv("KEZEK_MQTT_PASSWORD", "secret")
        edge = EdgeRig(make_config(broker.port, username=DEVICE, reconnect_max_s=1.0),
                       tmp_path / "edge")
        edges.append(edge)
        edge.record(20)
        wait_for(lambda: "sync.denied" in edge.app.controller.snapshot.alarms, 10,
                 "the sync.denied alarm")
        connects = edge.link.health()["connects"]
        wait_for(lambda: edge.link.health()["connects"] >= connects + 3, 15,
                 "three more refused connections")
        assert "sync.denied" in edge.app.controller.snapshot.alarms
        assert len(edge.events_of("alarm.raised")) == 1
        assert edge.events_of("alarm.cleared") == [], "cleared while evt is still refused"
        assert f"publish to {base}/evt" in edge.link.health()["denied"]

        acl.write_text(no_evt + f"topic write {base}/evt\n" + central_acl)
        broker.stop()
        broker.start()
        wait_for(lambda: "sync.denied" not in edge.app.controller.snapshot.alarms, 20,
                 "the alarm to clear")
        assert len(edge.events_of("alarm.cleared")) == 1
        last = edge.last_seq()
        wait_for(lambda: (reader.device(SITE, DEVICE) or {}).get("contiguous") == last, 20,
                 "events at central once evt is allowed")
        assert edge.link.health()["denied"] == ""


def test_a_batch_over_the_brokers_size_limit_is_reported_and_made_smaller(
        tmp_path: Path, edges: list[EdgeRig]) -> None:
    """Risk: Mosquitto drops a client whose publish is over message_size_limit (no PUBACK,
    DISCONNECT "protocol error"); the edge resent the same batch forever, no alarm."""
    broker = Broker(tmp_path, extra="message_size_limit 4000\n")
    broker.start()
    central = CentralRig(broker.port, tmp_path / "central.db")
    try:
        edge = EdgeRig(make_config(broker.port, health_interval_s=600), tmp_path / "edge")
        edges.append(edge)
        edge.record(100)
        wait_for(lambda: "sync.denied" in edge.app.controller.snapshot.alarms, 20,
                 "the sync.denied alarm")
        message = edge.events_of("alarm.raised")[0]["message"]
        assert "message_size_limit" in message and "sync.batch_max_bytes" in message
        assert " bytes " in message
        wait_for(lambda: "sync.denied" not in edge.app.controller.snapshot.alarms, 30,
                 "smaller batches to get through")
        last = edge.last_seq()
        wait_for(lambda: central.contiguous() == last, 30, "every event at central")
        assert_exactly_once(central, last, edge.ids)
        assert len(edge.events_of("alarm.raised")) == 1
        assert edge.link.health()["batch_max_bytes"] < 4000
    finally:
        central.stop()
        broker.stop()
