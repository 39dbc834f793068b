"""The fleet in a box, short: simulated edges through Mosquitto into two central
instances on one store, one instance SIGKILLed mid-stream (and PostgreSQL restarted
immediate), some edges cut off; every event stored once, every outbox acked. The figures
are printed, never asserted (bench/fleet.py measures them)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from edge.central.cpuslice import SliceError, check_slices
from edge.central.fleet import FleetPlan, LocalMosquitto, run_fleet
from edge.central.fleet_cli import format_row


def test_a_fleet_through_kills_and_a_database_restart_loses_and_doubles_nothing(
        backend: str, store_target: str, request: Any) -> None:
    """Risk: an instance killed between its commit and its ack, or the database gone for
    a moment, loses a batch or stores one twice; a cut-off edge never catches up; the
    downlink (a retained cfg, a command) does not reach every edge."""
    chaos = [(1.0, "kill:0")]
    pg = None
    if backend == "postgres":
        pg = request.getfixturevalue("pg_cluster")
        chaos.append((2.0, "restart-db"))
    plan = FleetPlan(edges=8, live_s=4.0, rate_eps=5.0, cut_fraction=0.25, cut_s=1.5,
                     backlog=20, ack_timeout_s=2.0, settle_s=90.0, chaos=chaos)
    broker = LocalMosquitto()
    try:
        result = run_fleet(broker.port, store_target, 2, plan, pg=pg,
                           workers=2 if backend == "postgres" else 1, log=lambda s: None)
    finally:
        broker.stop()
    print(format_row(result))
    assert result.notes == [a for _, a in chaos], "the chaos happened"
    assert result.events > 8 * 20
    assert (result.lost, result.duplicated, result.unacked) == (0, 0, 0)
    assert result.cmd_results == 8 and result.cfg_applied == 8, "the downlink reached all"


def test_cpu_slices_are_refused_clearly_where_cgroups_cannot_be_made(
        tmp_path: Path, capsys: Any) -> None:
    """Risk: `--instance-cpu` on a machine without cgroup v1's cpu controller starts the
    fleet anyway (every instance then shares all cores: figures that do not mean what the
    option promised), or fails with a bare OSError half-way through."""
    from edge.cli import main as kezek
    no_cgroups = tmp_path / "cpu"
    no_cgroups.mkdir()
    code = kezek(["central", "fleet", "--instances", "1,2", "--instance-cpu", "0.4",
                  "--cgroup-root", str(no_cgroups)])
    err = capsys.readouterr().err
    assert code == 2
    assert "cpu.cfs_quota_us is missing" in err and "without --instance-cpu" in err
    assert "Mosquitto on" not in err, "refused before anything started"
    (no_cgroups / "cpu.cfs_quota_us").write_text("-1")
    with pytest.raises(SliceError, match="cores"):
        check_slices(no_cgroups, 0.4, count=(os.cpu_count() or 1) * 3)
    check_slices(no_cgroups, 0.4)   # a cgroup root that has the controller: accepted
