"""An SD card moved to another board or copied onto a second one: nothing lost or mixed."""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from edge.central.store import CentralStore
from edge.storage.store import QueueStore
from edge.sync.machine import Machine, read_machine
from edge.sync.outbox import OutboxDb
from edge.sync.protocol import EventBatch
from tests.sync.conftest import (DEVICE, SITE, Broker, CentralRig, EdgeRig, edge_outbox_count,
                                 make_config, wait_for)

BOARD_1 = Machine.of(board_serial="10000000aaaa0001", mac="dc:a6:32:00:00:01")
BOARD_2 = Machine.of(board_serial="10000000bbbb0002", mac="dc:a6:32:00:00:02")


# -- which machine ----------------------------------------------------------------------
def _write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)  # type: ignore[operator]


def _nic(root: Path, name: str, mac: str, *, hardware: bool = True, assign: str = "0") -> None:
    iface = root / "sys/class/net" / name
    _write(iface / "address", mac + "\n")
    _write(iface / "addr_assign_type", assign + "\n")
    if hardware:
        (iface / "device").mkdir()


def test_a_pi_is_known_by_its_board_serial_and_a_copied_image_does_not_fool_it(
        tmp_path: Path) -> None:
    """Risk: /etc/machine-id is copied with the image, so two boards from one card looked
    like one machine; or zeros / virtual NICs made every machine look alike."""
    pi1, pi2 = tmp_path / "pi1", tmp_path / "pi2"
    for root, serial in ((pi1, b"10000000aaaa0001\x00"), (pi2, b"10000000bbbb0002\x00")):
        _write(root / "proc/device-tree/serial-number", serial)
        _write(root / "etc/machine-id", "0123456789abcdef0123456789abcdef\n")   # the image's
        _nic(root, "lo", "00:00:00:00:00:00", hardware=False)
        _nic(root, "docker0", "02:42:ac:11:00:02", hardware=False)
    one, two = read_machine(pi1), read_machine(pi2)
    assert set(one.ids) == {"board-serial", "machine-id"} and one.strong
    assert one.ids["machine-id"] == two.ids["machine-id"], "the image's machine-id is shared"
    assert not two.same_as(one.ids) and one.same_as(read_machine(pi1).ids)
    assert "10000000aaaa0001" not in json.dumps(one.ids), "only digests are kept"

    # An older Pi kernel: the serial only in /proc/cpuinfo, as the device tree has it.
    old = tmp_path / "old-pi"
    _write(old / "proc/cpuinfo", "processor\t: 0\nHardware\t: BCM2835\n"
                                 "Serial\t\t: 10000000aaaa0001\nModel\t\t: Raspberry Pi 3\n")
    assert read_machine(old).ids["board-serial"] == one.ids["board-serial"]
    _write(old / "proc/cpuinfo", "Serial\t\t: 0000000000000000\n")   # an emulator's
    assert "board-serial" not in read_machine(old).ids

    # A PC: its factory MAC, not a randomised or locally administered one.
    pc = tmp_path / "pc"
    _nic(pc, "enp1s0", "b8:27:eb:12:34:56", assign="0")
    _nic(pc, "wlan0", "3c:22:fb:00:00:01", assign="1")     # random: changes on each boot
    _nic(pc, "usb0", "06:00:00:00:00:01")                 # locally administered bit set
    pc_machine = read_machine(pc)
    assert pc_machine.ids == Machine.of(mac="b8:27:eb:12:34:56").ids

    # Only machine-id: weak (a clone keeps it), said so; nothing at all: no binding.
    weak = tmp_path / "weak"
    _write(weak / "etc/machine-id", "0123456789abcdef0123456789abcdef\n")
    assert not read_machine(weak).strong
    assert read_machine(tmp_path / "nothing").ids == {}

    # The strongest kind both have decides: a USB adapter's MAC added later changes nothing.
    with_dongle = Machine({**BOARD_1.ids, "mac": Machine.of(mac="00:11:22:33:44:55").ids["mac"]})
    assert with_dongle.same_as(BOARD_1.ids)
    assert not Machine.of(mac="00:11:22:33:44:55").same_as(BOARD_1.ids)


def _card(tmp_path: Path, events: int) -> Path:
    """A queue database with `events` events in its outbox, the first 3 acked."""
    path = tmp_path / "kezek.db"
    QueueStore(path).close()
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO outbox(seq, id, type, ts_ms, mono_ms, boot, clock_synced, data)"
                     " VALUES (?,?,?,?,?,?,?,?)",
                     [(i, str(uuid.uuid4()), "test.event", 0, 0, "b", 1, "{}")
                      for i in range(4, events + 1)])
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('last_seq', ?)", (str(events),))
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('sync.acked_seq', '3')")
    conn.commit()
    conn.close()
    return path


def test_the_database_id_follows_the_board_not_the_card(tmp_path: Path) -> None:
    """Risk: a card copied onto a second board kept its database id, so central mixed the
    two boxes' events under one stream."""
    db = OutboxDb(_card(tmp_path, 10))
    try:
        before = db.database_id()                 # a card from an older version: no board
        assert before.moved is None and before.fork is None
        first = db.database_id(BOARD_1)           # upgraded: this board is taken as its own
        assert first.db == before.db and first.moved is None
        assert db.database_id(BOARD_1).db == first.db
        assert db.database_id(Machine()).db == first.db, "nothing readable: no new id"

        moved = db.database_id(BOARD_2)           # the card in another board
        assert moved.db != first.db and moved.moved is not None
        assert (moved.moved.prev_db, moved.moved.fork_seq, moved.moved.acked_seq) == \
               (first.db, 10, 3)
        assert moved.fork == moved.moved and not moved.fork.reported
        again = db.database_id(BOARD_2)           # restarts on the new board: stable
        assert again.db == moved.db and again.moved is None and again.fork is not None
        db.fork_reported()
        assert db.database_id(BOARD_2).fork.reported  # type: ignore[union-attr]

        db.delete_through(4, {"sync.acked_seq": 4})   # central acked one event under the new id
        back = db.database_id(BOARD_1)            # and back into the first board: new again
        assert back.db not in (first.db, moved.db) and back.fork is not None
        assert back.fork.prev_db == moved.db
    finally:
        db.close()


# -- central keeps copied events once -------------------------------------------------------
def _batch(db: str, events: list[tuple[int, str]], *, floor: int = 0,
           fork: tuple[str, int] | None = None) -> EventBatch:
    doc: dict[str, Any] = {
        "v": 1, "site": SITE, "device": DEVICE, "session": 1, "floor": floor, "db": db,
        "events": [{"v": 1, "id": eid, "site": SITE, "device": DEVICE, "seq": seq, "boot": "b",
                    "type": "test.event", "ts": 0, "mono_ms": 0, "clock_synced": True,
                    "hist": False, "data": {"seq": seq}} for seq, eid in events]}
    if fork:
        doc["prev_db"], doc["fork_seq"] = fork
    return EventBatch.model_validate(doc)


def test_central_keeps_each_copied_event_once_whichever_box_sends_it_first(
        tmp_path: Path) -> None:
    """Risk: events on the card when it was copied reach central from both boxes: kept
    twice (double counted), or the second box's dropped as duplicates and acked."""
    card = {seq: f"card-{seq}" for seq in range(1, 13)}   # on the card at the copy: 1..12
    store = CentralStore(tmp_path / "central.db")
    try:
        # Box A (database X) sent 1..10 before the copy; central acked 1..5 to it.
        assert store.store_batch(_batch("X", [(s, card[s]) for s in range(1, 11)])).acked_seq == 10
        # Box B (the copy, database Y) holds 6..12 (acked through 5) and its own 13..14.
        b_own = {13: "b-13", 14: "b-14"}
        result = store.store_batch(_batch(
            "Y", [(s, card[s]) for s in range(6, 13)] + sorted(b_own.items()), floor=5,
            fork=("X", 12)))
        assert (result.acked_seq, result.inserted, result.copies) == (14, 4, 5)
        # Box A now sends 11..12 (already stored from B) and its own 13..14 (other ids).
        a_own = {13: "a-13", 14: "a-14"}
        result = store.store_batch(_batch(
            "X", [(11, card[11]), (12, card[12])] + sorted(a_own.items()), floor=10))
        assert (result.acked_seq, result.inserted, result.copies, result.conflicts) == \
               (14, 2, 2, 0)
        # A resend of anything changes nothing.
        result = store.store_batch(_batch("Y", [(s, card[s]) for s in range(6, 13)], floor=5,
                                          fork=("X", 12)))
        assert (result.inserted, result.copies, result.duplicates) == (0, 0, 7)

        everything = store.device_events(SITE, DEVICE)
        ids = [e["id"] for e in everything]
        assert sorted(ids) == sorted({*card.values(), *a_own.values(), *b_own.values()})
        assert len(ids) == len(set(ids)), "an event is kept twice"
        assert store.gaps(SITE, DEVICE) == [] and store.gaps(SITE, f"{DEVICE}~2") == []
        assert store.conflicts(SITE, DEVICE) == []
        assert store.copies(SITE, f"{DEVICE}~2") == [(s, card[s], DEVICE) for s in range(6, 11)]
        assert store.copies(SITE, DEVICE) == [(11, card[11], f"{DEVICE}~2"),
                                              (12, card[12], f"{DEVICE}~2")]

        # The card moved again (Y -> Z) holding 12..14 of Y: 12 is X's too, via Y.
        result = store.store_batch(_batch("Z", [(12, card[12]), (13, b_own[13]),
                                                (14, b_own[14]), (15, "z-15")], floor=11,
                                          fork=("Y", 14)))
        assert (result.acked_seq, result.inserted, result.copies) == (15, 1, 3)
        assert store.gaps(SITE, f"{DEVICE}~3") == []
        # A fork whose card says it held more than any stream has: a real gap is recorded
        # (the range below the card's floor, and how many of it no stream holds: 15..30).
        store.store_batch(_batch("W", [(31, "w-31")], floor=30, fork=("X", 30)))
        assert store.gaps(SITE, f"{DEVICE}~4") == [(1, 30, "16 events no longer held by "
                                                           "the edge")]
    finally:
        store.close()


# -- with a real broker ----------------------------------------------------------------------
def identity_alarm(rig: EdgeRig) -> bool:
    return "sync.identity" in rig.app.controller.snapshot.alarms


def test_a_cloned_card_in_a_second_box_loses_and_mixes_nothing(
        tmp_path: Path, broker: Broker, edges: list[EdgeRig]) -> None:
    """Risk: an SD card imaged onto a second Pi kept the database id: central dropped one
    box's events as duplicates of the other's, each box took the other's acks and deleted
    unsent events, and no alarm said two boxes were running as one."""
    config = make_config(broker.port, reconnect_max_s=1.0)
    central = CentralRig(broker.port, tmp_path / "central.db")
    try:
        a = EdgeRig(config, tmp_path / "box-a", machine=BOARD_1)
        edges.append(a)
        a.record(10)
        wait_for(lambda: central.contiguous() == a.last_seq(), 15, "box A's events stored")
        central.stop()
        a.record(5, start=10)           # still on the card, unsent, when it is imaged
        card_ids = dict(a.ids)
        a.close()
        edges.remove(a)
        shutil.copytree(tmp_path / "box-a", tmp_path / "box-b")   # the IT person's dd

        a = EdgeRig(config, tmp_path / "box-a", machine=BOARD_1)
        edges.append(a)
        b = EdgeRig(config, tmp_path / "box-b", machine=BOARD_2)
        edges.append(b)
        a.record(5, start=100)
        b.record(5, start=200)
        assert a.link.db_id != b.link.db_id
        changed = b.events_of("sync.db_changed")
        assert len(changed) == 1 and a.events_of("sync.db_changed") == []
        assert changed[0]["prev_db"] == a.link.db_id and changed[0]["db"] == b.link.db_id
        assert changed[0]["fork_seq"] == max(card_ids) and changed[0]["reason"] == "other_machine"
        assert b.link.health()["prev_db"] == a.link.db_id == a.link.health()["db"]

        central = CentralRig(broker.port, tmp_path / "central.db")
        wait_for(lambda: identity_alarm(a) and identity_alarm(b), 30,
                 "sync.identity on both boxes")
        wait_for(lambda: edge_outbox_count(a.db_path) == 0 and edge_outbox_count(b.db_path) == 0,
                 60, "both boxes' events acked")
        reader = CentralStore(tmp_path / "central.db")
        try:
            stored = reader.device_events(SITE, DEVICE)
            ids = [e["id"] for e in stored]
            assert len(ids) == len(set(ids)), "an event is stored twice"
            assert set(ids) == {*card_ids.values(), *a.ids.values(), *b.ids.values()}, \
                "an event of one of the boxes is missing"
            assert {key for _, key in reader.streams(SITE, DEVICE)} == {DEVICE, f"{DEVICE}~2"}
            assert reader.conflicts(SITE, DEVICE) == [] and reader.gaps(SITE, DEVICE) == []
            assert reader.gaps(SITE, f"{DEVICE}~2") == []
        finally:
            reader.close()
    finally:
        central.stop()


def test_a_card_moved_to_a_replacement_board_sends_everything_once(
        tmp_path: Path, broker: Broker, edges: list[EdgeRig]) -> None:
    """Risk: the card of a broken Pi put into a new one needed manual steps, or lost the
    events it held that central had not acked."""
    config = make_config(broker.port)
    central = CentralRig(broker.port, tmp_path / "central.db")
    try:
        old = EdgeRig(config, tmp_path / "card", machine=BOARD_1)
        edges.append(old)
        old.record(10)
        wait_for(lambda: central.contiguous() == old.last_seq(), 15, "the old board's events")
        central.stop()
        old.record(5, start=10)          # then the board breaks with these unsent
        card_ids = dict(old.ids)
        old.close()
        edges.remove(old)

        central = CentralRig(broker.port, tmp_path / "central.db")
        new = EdgeRig(config, tmp_path / "card", machine=BOARD_2)
        edges.append(new)
        new.record(3, start=20)
        wait_for(lambda: edge_outbox_count(new.db_path) == 0, 20, "the card's events acked")
        assert len(new.events_of("sync.db_changed")) == 1
        reader = CentralStore(tmp_path / "central.db")
        try:
            ids = [e["id"] for e in reader.device_events(SITE, DEVICE)]
            assert sorted(ids) == sorted({*card_ids.values(), *new.ids.values()})
            assert reader.gaps(SITE, f"{DEVICE}~2") == []
        finally:
            reader.close()
        assert not identity_alarm(new)
        db_id = new.link.db_id
        new.close()
        edges.remove(new)

        again = EdgeRig(config, tmp_path / "card", machine=BOARD_2)   # a restart: no news
        edges.append(again)
        assert again.link.db_id == db_id and again.events_of("sync.db_changed") == []
    finally:
        central.stop()


def test_a_pc_stays_itself_when_a_usb_network_adapter_comes_or_goes(tmp_path: Path) -> None:
    """Risk: on a PC (no board serial; the service cannot read the root-only DMI UUID) the
    lowest factory MAC decided, so a USB Ethernet adapter with a lower MAC, or the Wi-Fi
    card switched off in the firmware, made the same box "another machine": a new
    stream at central and a sync.db_changed at every such boot."""
    pc = tmp_path / "pc"
    _write(pc / "etc/machine-id", "0123456789abcdef0123456789abcdef\n")
    _nic(pc, "enp1s0", "b8:27:eb:12:34:56")
    _nic(pc, "wlp2s0", "3c:22:fb:00:00:01")
    db = OutboxDb(_card(tmp_path, 5))
    try:
        first = db.database_id(read_machine(pc))
        _nic(pc, "enx001122334455", "00:11:22:33:44:55")   # a USB adapter, lowest MAC
        assert db.database_id(read_machine(pc)).db == first.db, "USB adapter: same PC"
        shutil.rmtree(pc / "sys/class/net/wlp2s0")          # Wi-Fi off in the firmware
        shutil.rmtree(pc / "sys/class/net/enx001122334455")  # adapter unplugged
        (pc / "sys/class/net/enp1s0").rename(pc / "sys/class/net/eth0")   # renamed
        same = db.database_id(read_machine(pc))
        assert same.db == first.db and same.moved is None

        # A copy of the card in another PC shares no NIC (its machine-id is the image's).
        other = tmp_path / "other-pc"
        shutil.copytree(pc / "etc", other / "etc")
        _nic(other, "enp1s0", "b8:27:eb:65:43:21")
        assert db.database_id(read_machine(other)).moved is not None
    finally:
        db.close()


def test_an_id_unreadable_at_one_start_is_not_forgotten(tmp_path: Path) -> None:
    """Risk: the record was replaced by whatever was readable at each start, so one boot
    with the NIC's driver missing left only the machine-id (which an image copy carries)
    and a later clone of the card in another PC passed for this one: both boxes under
    one database id, their events mixed at central."""
    pc = tmp_path / "pc"
    _write(pc / "etc/machine-id", "0123456789abcdef0123456789abcdef\n")
    _nic(pc, "enp1s0", "b8:27:eb:12:34:56")
    db = OutboxDb(_card(tmp_path, 5))
    try:
        first = db.database_id(read_machine(pc))
        shutil.rmtree(pc / "sys/class/net")                 # one boot without the NIC
        assert db.database_id(read_machine(pc)).db == first.db
        assert "mac" in db.get("sync.machine"), "the NIC stays recorded"

        clone = tmp_path / "clone"                          # the image in another PC
        shutil.copytree(pc / "etc", clone / "etc")
        _nic(clone, "enp1s0", "b8:27:eb:65:43:21")
        moved = db.database_id(read_machine(clone))
        assert moved.moved is not None and moved.db != first.db
    finally:
        db.close()


def test_a_card_tried_in_a_spare_board_offline_then_put_in_the_box_leaves_no_false_gap(
        tmp_path: Path) -> None:
    """Risk: the card booted once in a spare Pi on the bench (no network: a new id central
    never heard of), then went into the replacement box. The box named only that unknown
    id as its origin, so central could not link it to the old stream: a false gap alarm
    for every event acked before the move."""
    BOARD_3 = Machine.of(board_serial="10000000cccc0003")
    db = OutboxDb(_card(tmp_path, 10))
    store = CentralStore(tmp_path / "central.db")
    try:
        old = db.database_id(BOARD_1).db
        # Central holds 1..3 (acked) under the card's id from its first box.
        store.store_batch(_batch(old, [(1, "e-1"), (2, "e-2"), (3, "e-3")]))
        db.database_id(BOARD_2)                   # the bench: offline, nothing acked
        box = db.database_id(BOARD_3)             # the replacement box in the hall
        assert box.fork is not None and box.fork.prev_db == old, "central knows this id"
        batch = db.read_batch(4, site=SITE, device=DEVICE, session=1, floor=3,
                              hist_through=0, max_events=100, max_bytes=1 << 20,
                              db=box.db, fork=box.fork)
        assert batch is not None and batch.count == 7
        result = store.store_batch(EventBatch.model_validate_json(batch.payload))
        assert result.acked_seq == 10
        assert store.gaps(SITE, f"{DEVICE}~2") == [], "events acked before the move are held"
    finally:
        store.close()
        db.close()


def test_a_power_cut_right_after_the_move_event_is_saved_does_not_tell_it_twice(
        tmp_path: Path) -> None:
    """Risk: sync.db_changed was marked as told by the network loop a moment after the
    controller saved it; a power cut in between sent it again at the next start."""
    path = _card(tmp_path, 5)
    db = OutboxDb(path)
    try:
        db.database_id(BOARD_1)
        moved = db.database_id(BOARD_2)
        assert moved.fork is not None and not moved.fork.reported
        # The controller commits the event (seq 6) ... and the power goes.
        conn = sqlite3.connect(path)
        conn.execute("INSERT INTO outbox(seq, id, type, ts_ms, mono_ms, boot, clock_synced, data)"
                     " VALUES (6, ?, 'sync.db_changed', 0, 0, 'b', 1, ?)",
                     (str(uuid.uuid4()), json.dumps({"reason": "other_machine", "db": moved.db,
                                                     "prev_db": moved.fork.prev_db})))
        conn.commit()
        conn.close()
        after = db.database_id(BOARD_2)
        assert after.db == moved.db and after.fork is not None
        assert after.fork.reported, "the saved sync.db_changed is not emitted again"
    finally:
        db.close()
