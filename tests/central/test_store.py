"""Central's store, the same promises on SQLite and PostgreSQL: events once per (site,
stream, seq), acks from what is committed, streams, forks, gaps, conflicts and copies,
states, migrations, the day reads, retention; several writers at once."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from edge.central.migrate import SchemaTooNew
from edge.central.pg_store import MIGRATIONS as PG_MIGRATIONS
from edge.central.sqlite_store import MIGRATIONS as SQLITE_MIGRATIONS
from edge.central.store import EventStore, open_store
from edge.sync.protocol import EventBatch
from tests.central.conftest import reopen

SITE, DEVICE = "test-site", "edge-1"
ALMATY = ZoneInfo("Asia/Almaty")


def _batch(seqs: range | list[int], prefix: str, *, db: str | None = None, floor: int = 0,
           fork: tuple[str, int] | None = None, site: str = SITE, device: str = DEVICE,
           ts: int = 0, type_: str = "test.event", data: dict[str, Any] | None = None,
           ids: dict[int, str] | None = None) -> EventBatch:
    doc: dict[str, Any] = {
        "v": 1, "site": site, "device": device, "session": 1, "floor": floor,
        "events": [{"v": 1, "id": (ids or {}).get(s, f"{prefix}-{s}"), "site": site,
                    "device": device, "seq": s, "boot": "b", "type": type_, "ts": ts,
                    "mono_ms": 0, "clock_synced": True, "hist": False,
                    "data": data if data is not None else {"from": prefix}} for s in seqs]}
    if db:
        doc["db"] = db
    if fork:
        doc["prev_db"], doc["fork_seq"] = fork
    return EventBatch.model_validate(doc)


def _dev(store: EventStore, site: str, device: str) -> dict[str, Any]:
    d = store.device(site, device)
    assert d is not None, f"no stream {site}/{device}"
    return d


def _state(store: EventStore) -> dict[str, Any]:
    s = store.state(SITE, DEVICE)
    assert s is not None, "no state"
    return s


def test_acks_follow_what_is_stored_in_any_order(store: EventStore) -> None:
    """Risk: an ack covers a seq central does not hold (a batch that came early), or a
    resend is stored twice."""
    r = store.store_batch(_batch(range(11, 21), "e"))
    assert (r.acked_seq, r.inserted, r.resend_from) == (0, 10, 1)
    r = store.store_batch(_batch(range(1, 6), "e"))
    assert (r.acked_seq, r.resend_from) == (5, None)
    r = store.store_batch(_batch(range(6, 11), "e"))
    assert r.acked_seq == 20, "the batch stored earlier counts once the hole is filled"
    r = store.store_batch(_batch(range(1, 21), "e"))
    assert (r.inserted, r.duplicates, r.acked_seq) == (0, 20, 20)
    assert [e["seq"] for e in store.events(SITE, DEVICE)] == list(range(1, 21))
    assert _dev(store, SITE, DEVICE)["stored"] == 20


def test_conflicting_events_below_the_mark_are_kept_once(store: EventStore,
                                                         backend: str, store_target: str) -> None:
    """Risk: a replaced database's events (same seqs, other ids) below the contiguous mark
    were counted as duplicates and acked, then deleted at the edge: lost."""
    assert store.store_batch(_batch(range(1, 31), "old")).acked_seq == 30
    result = store.store_batch(_batch(range(1, 11), "new"))
    assert result.conflicts == 10 and result.duplicates == 0
    store.store_batch(_batch(range(1, 11), "new"))  # resent: kept once
    kept = store.conflicts(SITE, DEVICE)
    assert [(c["seq"], c["stored_id"], c["new_id"]) for c in kept] == \
        [(s, f"old-{s}", f"new-{s}") for s in range(1, 11)]
    assert kept[0]["type"] == "test.event" and kept[0]["data"] == {"from": "new"}
    assert [e["id"] for e in store.events(SITE, DEVICE)][:2] == ["old-1", "old-2"]
    assert _dev(store, SITE, DEVICE)["conflicts"] == 20
    if backend == "sqlite":
        # The "kept once" check looks one conflict up by its key, not by scanning them
        # all (a restored edge resends tens of thousands: the scan held the lock for s).
        conn = sqlite3.connect(store_target)
        try:
            plan = " ".join(r[3] for r in conn.execute(
                "EXPLAIN QUERY PLAN SELECT 1 FROM conflicts WHERE site=? AND device=? AND "
                "seq=? AND new_id=?", (SITE, DEVICE, 1, "x")))
        finally:
            conn.close()
        assert "USING COVERING INDEX conflicts_key" in plan, plan


def test_a_replaced_database_is_a_stream_of_its_own(store: EventStore) -> None:
    """Risk: a new SD card's seq 1.. is taken for the old card's and acked unstored."""
    assert store.store_batch(_batch(range(1, 6), "old", db="card-a")).acked_seq == 5
    r = store.store_batch(_batch(range(1, 4), "new", db="card-b"))
    assert (r.acked_seq, r.inserted, r.conflicts) == (3, 3, 0)
    assert store.streams(SITE, DEVICE) == [("card-a", DEVICE), ("card-b", f"{DEVICE}~2")]
    assert [e["id"] for e in store.events(SITE, f"{DEVICE}~2")] == ["new-1", "new-2", "new-3"]
    assert len(store.device_events(SITE, DEVICE)) == 8


def test_copied_cards_keep_each_event_once_and_gaps_are_recorded(store: EventStore) -> None:
    """Risk: events on a copied card reach central from both boxes: kept twice, or one
    box's dropped as duplicates and acked; a card holding less than it says: no gap."""
    card = {seq: f"card-{seq}" for seq in range(1, 13)}
    assert store.store_batch(_batch(range(1, 11), "", db="X", ids=card)).acked_seq == 10
    b_own = {13: "b-13", 14: "b-14"}
    r = store.store_batch(_batch(range(6, 15), "", db="Y", floor=5, fork=("X", 12),
                                 ids={**card, **b_own}))
    assert (r.acked_seq, r.inserted, r.copies) == (14, 4, 5)
    a_own = {13: "a-13", 14: "a-14"}
    r = store.store_batch(_batch(range(11, 15), "", db="X", floor=10, ids={**card, **a_own}))
    assert (r.acked_seq, r.inserted, r.copies, r.conflicts) == (14, 2, 2, 0)
    r = store.store_batch(_batch(range(6, 13), "", db="Y", floor=5, fork=("X", 12), ids=card))
    assert (r.inserted, r.copies, r.duplicates) == (0, 0, 7)
    ids = [e["id"] for e in store.device_events(SITE, DEVICE)]
    assert sorted(ids) == sorted({*card.values(), *a_own.values(), *b_own.values()})
    assert store.copies(SITE, f"{DEVICE}~2") == [(s, card[s], DEVICE) for s in range(6, 11)]
    assert store.gaps(SITE, DEVICE) == [] and store.conflicts(SITE, DEVICE) == []
    store.store_batch(_batch([31], "w", db="W", floor=30, fork=("X", 30)))
    assert store.gaps(SITE, f"{DEVICE}~3") == [(1, 30, "16 events no longer held by the edge")]


def test_births_and_wills_by_session_and_database(store: EventStore) -> None:
    """Risk: a late will of an older session, or of the old card, marks a live edge offline."""
    store.put_state(SITE, DEVICE, True, 5, "card-a")
    store.put_state(SITE, DEVICE, False, 4, "card-a")          # late will: ignored
    assert _state(store)["online"] is True
    store.put_state(SITE, DEVICE, True, 1, "card-b")           # a new card: wins at session 1
    store.put_state(SITE, DEVICE, False, 9, "card-a")          # the old card's will: ignored
    assert _state(store) == {**_state(store), "online": True, "session": 1, "db": "card-b"}
    store.put_health(SITE, DEVICE, {"summary": {"waiting": 4, "serving": 2, "alarms": ["x"]}})
    row = store.summary()[0]
    assert (row["online"], row["waiting"], row["serving"], row["alarms"]) == \
        (1, 4, 2, [f"{DEVICE}:x"])
    assert store.next_session() + 1 == store.next_session()


def test_two_instances_storing_one_device_at_once_store_each_event_once(
        store_target: str) -> None:
    """Risk: batches of one device reach two instances at once (a shared subscription):
    both store a seq, or an ack covers a seq the other has not committed yet."""
    stores = [open_store(store_target), open_store(store_target)]
    batches = [_batch(range(s, s + 10), "e", db="card") for s in range(1, 400, 10)]
    batches += random.Random(3).sample(batches, 15)          # resends
    random.Random(4).shuffle(batches)
    acks: list[list[int]] = [[], []]
    untrue: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            for b in batches[i::2]:
                n = stores[i].store_batch(b).acked_seq
                acks[i].append(n)
                # The ack is true as it is given: 1..n are committed, whoever stored them.
                held = {e["seq"] for e in stores[i].events(SITE, DEVICE) if e["seq"] <= n}
                if len(held) != n:
                    untrue.append((n, len(held)))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert not errors, errors
        events = stores[0].events(SITE, DEVICE)
        assert [e["seq"] for e in events] == list(range(1, 401))
        assert _dev(stores[0], SITE, DEVICE)["contiguous"] == 400
        assert max(acks[0] + acks[1]) == 400
        assert untrue == [], "an ack covered seqs not committed"
    finally:
        for s in stores:
            s.close()


def test_a_site_another_instance_holds_does_not_hold_up_the_rest_of_a_group(
        pg_cluster: Any) -> None:
    """Risk: a worker waits for one site another instance holds while holding every other
    site of its group, so instances queue behind each other's whole groups (the fleet
    measured lock waits in nearly every sample, docs/performance.md); or the busy site's
    batch is dropped or acked out of order."""
    import uuid

    import psycopg

    from edge.central.pg_store import LOCK_SITE
    target = pg_cluster.create_db(f"held_{uuid.uuid4().hex[:8]}")
    store = open_store(target)
    other = psycopg.connect(target)       # another instance, in a transaction on "busy"
    other.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_SITE, "busy"))
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.append(store.store_batches(
        [_batch(range(1, 4), "a", site="busy"), _batch(range(1, 6), "b", site="free")])))
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while store.device("free", DEVICE) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.device("free", DEVICE) is not None, "the free site waited for the busy one"
        assert worker.is_alive() and store.device("busy", DEVICE) is None
        other.rollback()                  # the other instance commits: the site is free
        worker.join(20)
        assert [r.acked_seq for r in out[0]] == [3, 5], "results in the order given"
        assert [e["seq"] for e in store.events("busy", DEVICE)] == [1, 2, 3]
    finally:
        other.close()
        worker.join(20)
        store.close()


def test_day_reads_for_the_situational_center(store: EventStore) -> None:
    """Risk: the day's figures miss events or file them under the wrong day (a UTC date
    is the day before in Almaty until 05:00)."""
    late_evening_utc = int(datetime(2026, 11, 23, 20, 30, tzinfo=ZoneInfo("UTC")).timestamp()
                           * 1000)   # 01:30 on the 24th in Almaty
    day = date(2026, 11, 24)
    store.store_batch(_batch([1], "i", ts=late_evening_utc, type_="ticket.issued",
                             data={"ticket_id": 1, "service": "docs"}))
    store.store_batch(_batch([2], "c", ts=late_evening_utc, type_="ticket.called",
                             data={"ticket_id": 1, "service": "docs", "wait_s": 300}))
    store.store_batch(_batch([3], "d", ts=late_evening_utc, type_="ticket.done",
                             data={"ticket_id": 1, "service": "docs", "service_s": 600}))
    store.store_batch(_batch([4, 5], "r", ts=late_evening_utc, type_="rating.recorded",
                             data={"ticket_id": 1, "service": "docs", "score": 4}))
    unsynced = _batch([6], "u", ts=1000, type_="ticket.issued", data={"service": "docs"})
    store.store_batch(unsynced)   # a Pi's clock at 1970: filed under the day received
    assert [e["type"] for e in store.day_events(SITE, day)] == \
        ["ticket.issued", "ticket.called", "ticket.done", "rating.recorded", "rating.recorded"]
    assert [e["seq"] for e in store.day_events(SITE, day, ["ticket.done"])] == [3]
    report = store.day_report(day)
    assert report == [{"site": SITE, "issued": 1, "served": 1, "no_show": 0, "ratings": 2,
                       "rating_avg": 4.0, "wait_avg_s": 300, "service_avg_s": 600}]
    today = datetime.now(ALMATY).date()
    received = store.day_events(SITE, today) + store.day_events(SITE, today - timedelta(1))
    assert [e["seq"] for e in received] == [6]


def test_visits_with_their_stages_for_the_standards_screen(store: EventStore) -> None:
    """Risk: a driving-licence visit over its standard cannot be told apart stage by stage
    (waiting, at which window, transferred to the exam), or a no-show who came back is
    counted as ended."""
    t0 = int(datetime(2026, 11, 24, 9, 0, tzinfo=ALMATY).timestamp() * 1000)
    minute = 60_000
    steps: list[tuple[str, int, dict[str, Any]]] = [("ticket.issued", 0, {"service": "docs", "visit": "v1"}),
             ("ticket.called", 20, {"service": "docs", "window": 2}),
             ("ticket.serving", 22, {"service": "docs", "window": 2}),
             ("ticket.transferred", 40, {"service": "docs", "to_service": "exam", "window": 2}),
             ("ticket.called", 70, {"service": "exam", "window": 7}),
             ("ticket.no_show", 75, {"service": "exam", "window": 7}),
             ("ticket.returned", 90, {"service": "exam"}),
             ("ticket.called", 100, {"service": "exam", "window": 7}),
             ("ticket.done", 150, {"service": "exam", "window": 7, "service_s": 3000})]
    for seq, (type_, at, data) in enumerate(steps, start=1):
        store.store_batch(_batch([seq], type_, ts=t0 + at * minute, type_=type_,
                                 data={"ticket_id": 1, "ticket": "A-001", **data}))
    store.store_batch(_batch([10], "x", ts=t0 + 5 * minute, type_="ticket.issued",
                             data={"ticket_id": 2, "ticket": "A-002", "service": "docs",
                                   "visit": "v2"}))
    visits = store.visits(SITE, date(2026, 11, 24), now_ms_=t0 + 200 * minute)
    assert [(v["ticket"], v["outcome"], v["elapsed_s"] // 60) for v in visits] == \
        [("A-001", "done", 150), ("A-002", None, 195)]
    stages = [(s["stage"], (s["from_ms"] - t0) // minute, (s["to_ms"] - t0) // minute,
               s["window"], s["service"]) for s in visits[0]["stages"]]
    assert stages == [("waiting", 0, 20, None, "docs"), ("called", 20, 22, 2, "docs"),
                      ("serving", 22, 40, 2, "docs"), ("waiting", 40, 70, None, "exam"),
                      ("called", 70, 75, 7, "exam"), ("waiting", 90, 100, None, "exam"),
                      ("called", 100, 150, 7, "exam")]


def test_retention_drops_old_days_and_keeps_the_roll_up(store: EventStore,
                                                        backend: str) -> None:
    """Risk: a year of events fills the disk; or retention deletes recent events."""
    now = datetime.now(ALMATY)
    old = int((now - timedelta(days=200)).timestamp() * 1000)
    recent = int(now.timestamp() * 1000)
    store.store_batch(_batch(range(1, 4), "old", ts=old, type_="ticket.issued",
                             data={"service": "docs"}))
    store.store_batch(_batch(range(4, 6), "new", ts=recent))
    old_day = (now - timedelta(days=200)).date()
    store.maintain(retention_days=90)
    assert [e["seq"] for e in store.events(SITE, DEVICE)] == [4, 5]
    assert store.daily(old_day) and store.daily(old_day)[0]["n"] == 3, "the roll-up stays"
    assert _dev(store, SITE, DEVICE)["contiguous"] == 5
    store.store_batch(_batch(range(4, 7), "new"))   # storing goes on after it
    assert _dev(store, SITE, DEVICE)["contiguous"] == 6


def test_migrations_are_versioned_and_a_newer_schema_is_refused(store_target: str,
                                                               backend: str) -> None:
    """Risk: two instances starting at once apply a migration twice; an older Kezek writes
    into a database a newer one migrated."""
    stores = []
    errors: list[BaseException] = []

    def opening() -> None:
        try:
            stores.append(reopen(store_target))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=opening) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    migrations = SQLITE_MIGRATIONS if backend == "sqlite" else PG_MIGRATIONS
    want = migrations[-1].version
    assert {s.schema_version for s in stores} == {want}
    with stores[0]._tx() as tx:
        assert tx.rows("SELECT COUNT(*) FROM schema_version")[0][0] == len(migrations)
        tx.run("INSERT INTO schema_version(version, name, applied_ms) VALUES (?, ?, ?)",
               (want + 1, "from the future", 0))
    for s in stores:
        s.close()
    with pytest.raises(SchemaTooNew, match="newer than this Kezek"):
        reopen(store_target)


def test_a_sqlite_file_of_an_older_central_is_upgraded(tmp_path: Path) -> None:
    """Risk: a central.db made before migrations loses its events or cannot be opened."""
    path = tmp_path / "central.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE events (site TEXT NOT NULL, device TEXT NOT NULL, seq INTEGER NOT NULL,
          id TEXT NOT NULL, type TEXT NOT NULL, ts INTEGER NOT NULL, mono_ms INTEGER NOT NULL,
          boot TEXT NOT NULL, clock_synced INTEGER NOT NULL, hist INTEGER NOT NULL,
          data TEXT NOT NULL, received_ms INTEGER NOT NULL,
          PRIMARY KEY (site, device, seq)) WITHOUT ROWID;
        CREATE TABLE devices (site TEXT NOT NULL, device TEXT NOT NULL,
          contiguous INTEGER NOT NULL DEFAULT 0, stored INTEGER NOT NULL DEFAULT 0,
          duplicates INTEGER NOT NULL DEFAULT 0, conflicts INTEGER NOT NULL DEFAULT 0,
          last_seen_ms INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (site, device));
        CREATE TABLE states (site TEXT NOT NULL, device TEXT NOT NULL, online INTEGER NOT NULL,
          session INTEGER NOT NULL, received_ms INTEGER NOT NULL, PRIMARY KEY (site, device));
    """)
    ts = int(datetime(2026, 11, 24, 10, tzinfo=ALMATY).timestamp() * 1000)
    conn.execute("INSERT INTO events VALUES ('s', 'd', 1, 'e-1', 'rating.recorded', ?, 0, 'b',"
                 " 1, 0, '{\"service\": \"docs\", \"score\": 5}', ?)", (ts, ts))
    conn.execute("INSERT INTO devices(site, device, contiguous, stored) VALUES ('s','d',1,1)")
    conn.commit()
    conn.close()
    store = open_store(path)
    try:
        assert store.schema_version == SQLITE_MIGRATIONS[-1].version
        assert _dev(store, "s", "d")["copies"] == 0
        assert [e["id"] for e in store.day_events("s", date(2026, 11, 24))] == ["e-1"]
        assert store.day_report(date(2026, 11, 24))[0]["rating_avg"] == 5.0
        assert store.store_batch(_batch([2], "n", site="s", device="d")).acked_seq == 2
    finally:
        store.close()


def test_postgres_partitions_by_month_made_on_demand(pg_cluster: Any) -> None:
    """Risk: an event of a month without a partition (a backlog from last year, the first
    of a new month) cannot be stored; retention drops a month still in use."""
    from edge.central.pg_store import PostgresStore
    url = pg_cluster.create_db("partitions")
    a, b = PostgresStore(url), PostgresStore(url)
    try:
        a.maintain(None, today=date(2026, 12, 7))
        months = {f"{m:%Y-%m}" for m in a._months}
        assert {"2026-12", "2027-01"} <= months, months
        last_year = int(datetime(2025, 3, 15, 12, tzinfo=ALMATY).timestamp() * 1000)
        assert a.store_batch(_batch([1, 2], "x", ts=last_year)).acked_seq == 2
        assert date(2025, 3, 1) in a._months
        b._load_months()
        b.apply_retention(90, date(2026, 12, 7))             # drops 2025-03 under a's nose
        assert a.events(SITE, DEVICE) == []
        # a's cache still names the dropped month: the insert fails once, is retried.
        assert a.store_batch(_batch([3], "x", ts=last_year)).acked_seq == 3
        assert [e["seq"] for e in a.events(SITE, DEVICE)] == [3]
    finally:
        a.close()
        b.close()
