"""The reference central on both store back-ends: shared subscription, CLI, files
published, summary, a replaced SD card; schemas current."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any, Iterator, cast

import pytest

from edge.central.server import Central
from edge.central.store import EventStore, open_store
from edge.queue.commands import IssueTicket
from edge.sync.mqtt import BrokerSettings
from edge.sync.schemas import check_schemas
from tests.sync.conftest import (DEVICE, ROOT, SITE, Broker, EdgeRig, assert_exactly_once,
                                 child_env, kezek_cmd, make_config, wait_for)


class CentralRig:
    """A reference central on the broker, storing into `target` (a file or a URL)."""

    def __init__(self, port: int, target: str, **kwargs: Any) -> None:
        self.db = target
        self.central = Central(BrokerSettings("127.0.0.1", port, keepalive_s=5), target,
                               **kwargs)
        self.central.start()
        assert self.central.wait_connected(10), "central did not connect"
        self._reader: EventStore = open_store(target)

    def contiguous(self, site: str = SITE, device: str = DEVICE) -> int:
        d = self._reader.device(site, device)
        return d["contiguous"] if d else 0

    def events(self, site: str = SITE, device: str = DEVICE) -> list[dict[str, Any]]:
        return self._reader.events(site, device)

    def stop(self) -> None:
        self.central.stop()
        self._reader.close()


@pytest.fixture
def central(broker: Broker, store_target: str) -> Iterator[CentralRig]:
    rig = CentralRig(broker.port, store_target)
    yield rig
    rig.stop()


def test_json_schemas_match_the_models() -> None:
    """Risk: the published contract drifts from what the code sends and accepts."""
    assert check_schemas(ROOT / "docs" / "schemas") == [], \
        "docs/schemas is out of date: run `kezek central schemas`"


def test_two_centrals_share_the_load_and_store_once(broker: Broker, tmp_path: Path,
                                                    store_target: str,
                                                    edges: list[EdgeRig]) -> None:
    """Risk: two instances each store half, or both store everything twice."""
    a = CentralRig(broker.port, store_target, instance="central-a")
    b = CentralRig(broker.port, store_target, instance="central-b")
    try:
        edge = EdgeRig(make_config(broker.port, batch_max_events=5), tmp_path / "edge")
        edges.append(edge)
        edge.record(200)
        last = edge.last_seq()
        wait_for(lambda: a.contiguous() == last, 20, "both centrals together to store all")
        assert_exactly_once(cast(Any, a), last, edge.ids)
        assert a.central.batches > 0 and b.central.batches > 0
        # One instance goes away for good: its will must not make the edge stop sending.
        a.central.client.disconnect()
        edge.record(20, start=200)
        last = edge.last_seq()
        wait_for(lambda: b.contiguous() == last, 20, "the remaining central to take over")
        assert_exactly_once(cast(Any, b), last, edge.ids)
    finally:
        a.stop()
        b.stop()


def test_central_cli_run_publish_dir_cmd_and_summary(broker: Broker, tmp_path: Path,
                                                     store_target: str,
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
    db = store_target
    broker_args = ["--host", "127.0.0.1", "--port", str(broker.port), "--no-tls"]
    run = subprocess.Popen(kezek_cmd("central", "run", *broker_args, "--db", db,
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
            kezek_cmd("central", "summary", "--db", db), capture_output=True, text=True,
            env=child_env(), cwd=str(ROOT), timeout=30).stdout) and f"{SITE}" in out
            and " 3 " in out and out, 15, "the summary to show 3 waiting")
        assert "online" in summary.splitlines()[0]
    finally:
        run.send_signal(signal.SIGTERM)
        out, _ = run.communicate(timeout=15)
    assert run.returncode == 0
    assert SITE in out, "the live summary was printed"


def test_replaced_edge_database_is_a_new_stream_and_shows_online(
        broker: Broker, central: CentralRig, tmp_path: Path, edges: list[EdgeRig]) -> None:
    """Risk: a new SD card (seq and session from 1 again) has its events acked as
    duplicates of the old card's and deleted, and shows offline for good."""
    reader = open_store(central.db)
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
        wait_for(lambda: (reader.state(SITE, DEVICE) or {}).get("online") is False, 10,
                 "old card offline")

        new = EdgeRig(make_config(broker.port), tmp_path / "new-card")
        edges.append(new)
        new.record(10)
        wait_for(lambda: new.link.health()["acked_seq"] == new.last_seq(), 15,
                 "the new card's events acked")
        streams = reader.streams(SITE, DEVICE)
        assert [key for _, key in streams] == [DEVICE, f"{DEVICE}~2"]
        assert streams[1][0] == new.link.db_id != streams[0][0]
        assert_exactly_once(cast(Any, central), new.last_seq(), new.ids, device=f"{DEVICE}~2")
        assert central.events() == old_events, "the old card's events are untouched"
        assert reader.conflicts(SITE, DEVICE) == []
        wait_for(lambda: reader.summary()[0]["online"] == 1, 10,
                 "the new card shown online although its session is lower")
    finally:
        reader.close()




def test_without_psycopg_kezek_central_says_what_to_install(tmp_path: Path) -> None:
    """Risk: an install without the `central` extra fails with an ImportError trace
    instead of the line to run."""
    url = "postgresql://kezek@127.0.0.1:9/kezek"
    for action in (["run", "--host", "127.0.0.1", "--port", "9", "--no-tls", "--db", url],
                   ["summary", "--db", url], ["migrate", "--db", url]):
        done = subprocess.run(
            [*kezek_cmd()[:2], "import sys; sys.modules['psycopg'] = None; "
             "from edge.cli import main; sys.exit(main())", "central", *action],
            capture_output=True, text=True, env=child_env(), cwd=str(ROOT), timeout=60)
        assert done.returncode == 1, (action, done.stderr)
        assert "pip install 'kezek-edge[central]'" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
