"""The reference central: shared subscription, CLI, files published, summary; schemas current."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from edge.queue.commands import IssueTicket
from edge.sync.schemas import check_schemas
from tests.sync.conftest import (DEVICE, ROOT, SITE, Broker, CentralRig, EdgeRig,
                                 assert_exactly_once, child_env, kezek_cmd, make_config, wait_for)


def test_json_schemas_match_the_models() -> None:
    """Risk: the published contract drifts from what the code sends and accepts."""
    assert check_schemas(ROOT / "docs" / "schemas") == [], \
        "docs/schemas is out of date: run `kezek central schemas`"


def test_two_centrals_share_the_load_and_store_once(broker: Broker, tmp_path: Path,
                                                    edges: list[EdgeRig]) -> None:
    """Risk: two instances each store half, or both store everything twice."""
    db = tmp_path / "central.db"
    a = CentralRig(broker.port, db, instance="central-a")
    b = CentralRig(broker.port, db, instance="central-b")
    try:
        edge = EdgeRig(make_config(broker.port, batch_max_events=5), tmp_path / "edge")
        edges.append(edge)
        edge.record(200)
        last = edge.last_seq()
        wait_for(lambda: a.contiguous() == last, 20, "both centrals together to store all")
        assert_exactly_once(a, last, edge.ids)
        assert a.central.batches > 0 and b.central.batches > 0
        # One instance goes away for good: its will must not make the edge stop sending.
        a.central.client.disconnect()
        edge.record(20, start=200)
        last = edge.last_seq()
        wait_for(lambda: b.contiguous() == last, 20, "the remaining central to take over")
        assert_exactly_once(b, last, edge.ids)
    finally:
        a.stop()
        b.stop()


def test_central_cli_run_publish_dir_cmd_and_summary(broker: Broker, tmp_path: Path,
                                                     edges: list[EdgeRig]) -> None:
    """Risk: the central team's tools do not work end to end."""
    pub = tmp_path / "publish" / SITE / DEVICE
    (pub / "cmd").mkdir(parents=True)
    (pub / "cfg.json").write_text(json.dumps({"version": 3, "config": {
        "windows": [{"number": 1, "services": {"docs": 1}},
                    {"number": 2, "services": {"docs": 1, "realty": 2}},
                    {"number": 5, "services": {"realty": 1}}]}}), encoding="utf-8")
    (pub / "cmd" / "close-1.json").write_text(json.dumps(
        {"name": "close_window", "args": {"window": 1}}), encoding="utf-8")
    db = tmp_path / "central.db"
    broker_args = ["--host", "127.0.0.1", "--port", str(broker.port), "--no-tls"]
    run = subprocess.Popen(kezek_cmd("central", "run", *broker_args, "--db", str(db),
                                     "--publish-dir", str(tmp_path / "publish"),
                                     "--summary-every", "0.5"),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           env=child_env(), cwd=str(ROOT))
    try:
        edge = EdgeRig(make_config(broker.port), tmp_path / "edge")
        edges.append(edge)
        for _ in range(3):
            edge.app.controller.call(IssueTicket("docs"))
        wait_for(lambda: 5 in {w.number for w in edge.app.controller.snapshot.windows}, 15,
                 "cfg from the publish dir")
        wait_for(lambda: (pub / "cmd" / "close-1.json.sent").exists(), 10, "the file command")
        wait_for(lambda: any(r["cmd_id"] == "close-1" for r in edge.events_of("cmd.result")), 10,
                 "the command's result")
        sent = subprocess.run(kezek_cmd("central", "cmd", *broker_args, "--site", SITE,
                                        "--device", DEVICE, "open_window", "--arg", "window=1",
                                        "--cmd-id", "cli-1"),
                              capture_output=True, text=True, env=child_env(), cwd=str(ROOT),
                              timeout=30)
        assert sent.returncode == 0, sent.stderr
        assert sent.stdout.strip() == "cli-1"
        result = wait_for(lambda: [r for r in edge.events_of("cmd.result")
                                   if r["cmd_id"] == "cli-1"], 10, "the CLI command's result")
        assert result[0]["ok"]
        # The edge's health reaches central's summary: 3 waiting.
        summary = wait_for(lambda: (out := subprocess.run(
            kezek_cmd("central", "summary", "--db", str(db)), capture_output=True, text=True,
            env=child_env(), cwd=str(ROOT), timeout=30).stdout) and f"{SITE}" in out
            and " 3 " in out and out, 15, "the summary to show 3 waiting")
        assert "online" in summary.splitlines()[0]
    finally:
        run.send_signal(signal.SIGTERM)
        out, _ = run.communicate(timeout=15)
    assert run.returncode == 0
    assert SITE in out, "the live summary was printed"


def _batch(seqs: range, prefix: str, *, db: str | None = None, floor: int = 0) -> Any:
    from edge.sync.protocol import EventBatch

    return EventBatch.model_validate({
        "v": 1, "site": SITE, "device": DEVICE, "session": 1, "floor": floor,
        **({"db": db} if db else {}),
        "events": [{"v": 1, "id": f"{prefix}-{s}", "site": SITE, "device": DEVICE, "seq": s,
                    "boot": "b", "type": "test.event", "ts": 0, "mono_ms": 0,
                    "clock_synced": True, "hist": False, "data": {"from": prefix}}
                   for s in seqs]})


def test_store_keeps_conflicting_events_below_its_mark(tmp_path: Path) -> None:
    """Risk: a replaced database's events (same seqs, other ids) below the contiguous mark
    were counted as duplicates and acked, then deleted at the edge: lost."""
    from edge.central.store import CentralStore

    store = CentralStore(tmp_path / "central.db")
    try:
        assert store.store_batch(_batch(range(1, 31), "old")).acked_seq == 30
        result = store.store_batch(_batch(range(1, 11), "new"))
        assert result.conflicts == 10 and result.duplicates == 0
        store.store_batch(_batch(range(1, 11), "new"))  # resent: kept once
        kept = store.conflicts(SITE, DEVICE)
        assert [(c["seq"], c["stored_id"], c["new_id"]) for c in kept] == \
            [(s, f"old-{s}", f"new-{s}") for s in range(1, 11)]
        assert kept[0]["type"] == "test.event" and kept[0]["data"] == {"from": "new"}
        assert [e["id"] for e in store.events(SITE, DEVICE)][:2] == ["old-1", "old-2"]
        assert store.device(SITE, DEVICE)["conflicts"] == 20
    finally:
        store.close()
    # The "kept once" check looks one conflict up by its key, not by scanning them all
    # (a restored edge resends tens of thousands: the scan held the write lock for seconds).
    conn = sqlite3.connect(str(tmp_path / "central.db"))
    try:
        plan = " ".join(r[3] for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT 1 FROM conflicts WHERE site=? AND device=? AND seq=? "
            "AND new_id=?", (SITE, DEVICE, 1, "x")))
    finally:
        conn.close()
    assert "USING COVERING INDEX conflicts_key" in plan, plan


def test_replaced_edge_database_is_a_new_stream_and_shows_online(
        broker: Broker, central: CentralRig, tmp_path: Path, edges: list[EdgeRig]) -> None:
    """Risk: a new SD card (seq and session from 1 again) has its events acked as
    duplicates of the old card's and deleted, and shows offline for good."""
    from edge.central.store import CentralStore

    reader = CentralStore(central.db)
    try:
        for _ in range(3):   # a few restarts: the old card's session grows
            old = EdgeRig(make_config(broker.port), tmp_path / "old-card")
            edges.append(old)
            wait_for(lambda: old.link.health()["connected"], 10, "old card connected")
            old.close()
            edges.remove(old)
        old = EdgeRig(make_config(broker.port), tmp_path / "old-card")
        edges.append(old)
        old.record(30)
        wait_for(lambda: central.contiguous() == old.last_seq(), 15, "old card drained")
        old_events = central.events()
        old.close()
        edges.remove(old)
        wait_for(lambda: reader._conn.execute(
            "SELECT online FROM states").fetchone() == (0,), 10, "old card offline")

        new = EdgeRig(make_config(broker.port), tmp_path / "new-card")
        edges.append(new)
        new.record(10)
        wait_for(lambda: new.link.health()["acked_seq"] == new.last_seq(), 15,
                 "the new card's events acked")
        streams = reader.streams(SITE, DEVICE)
        assert [key for _, key in streams] == [DEVICE, f"{DEVICE}~2"]
        assert streams[1][0] == new.link.db_id != streams[0][0]
        assert_exactly_once(central, new.last_seq(), new.ids, device=f"{DEVICE}~2")
        assert central.events() == old_events, "the old card's events are untouched"
        assert reader.conflicts(SITE, DEVICE) == []
        wait_for(lambda: reader.summary()[0]["online"] == 1, 10,
                 "the new card shown online although its session is lower")
    finally:
        reader.close()


def test_a_ticket_with_events_after_its_no_show_is_stored_whole(tmp_path: Path,
                                                                harness: Any) -> None:
    """Risk: a no-show who came back gets events after a final one (ticket.returned, a
    second call, done); a central keyed on "one final event per ticket" must still store
    and ack them all, and the ticket's outcome is its last final event, once."""
    from edge.central.store import CentralStore
    from edge.queue import commands as c
    from edge.sync.protocol import EventBatch

    harness.call(c.IssueTicket("docs"))
    harness.call(c.CallNext(1))
    harness.call(c.NoShow(1))
    harness.clock.advance(5 * 60)
    harness.call(c.CallTicket(1, "A-001"))
    harness.call(c.Finish(1))
    outbox = harness.store.outbox()
    store = CentralStore(tmp_path / "central.db")
    try:
        result = store.store_batch(EventBatch.model_validate({
            "v": 1, "site": SITE, "device": DEVICE, "session": 1, "floor": 0,
            "events": [e.envelope(SITE, DEVICE) for e in outbox]}))
        assert result.acked_seq == outbox[-1].seq and result.inserted == len(outbox)
        stored = [e for e in store.events(SITE, DEVICE) if e["data"].get("ticket_id") == 1]
    finally:
        store.close()
    assert [e["type"] for e in stored] == ["ticket.issued", "ticket.called", "ticket.no_show",
                                           "ticket.returned", "ticket.called", "ticket.done"]
    outcome = {e["data"]["ticket_id"]: e["type"] for e in stored
               if e["type"] in ("ticket.done", "ticket.no_show", "ticket.voided")}
    assert outcome == {1: "ticket.done"}
