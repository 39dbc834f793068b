"""Process deaths: kill -9 of a real `kezek run` mid-stream, and two processes on one database."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import IO

from tests.sync.conftest import (DEVICE, SITE, Broker, CentralRig, assert_exactly_once,
                                 child_env, edge_last_seq, edge_outbox_count, kezek_cmd, wait_for)

TOML = """
[center]
site = "{site}"
device = "{device}"
name = {{ kk = "Тест", ru = "Тест" }}

[console]
enabled = true

[[services]]
id = "docs"
names = {{ kk = "Құжат", ru = "Документы" }}
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
connect_timeout_s = 2
reconnect_min_s = 0.1
reconnect_max_s = 0.5
ack_timeout_s = 2
health_interval_s = 1
batch_max_events = 20
inflight_batches = 3
"""


def write_config(tmp: Path, port: int) -> Path:
    path = tmp / "edge.toml"
    path.write_text(TOML.format(site=SITE, device=DEVICE, port=port), encoding="utf-8")
    return path


def start_edge(config: Path, state: Path, log: IO[bytes]) -> subprocess.Popen[str]:
    return subprocess.Popen(kezek_cmd("run", "--config", str(config), "--state-dir", str(state),
                                      "--log-level", "INFO"),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                            env=child_env(), cwd=str(Path(__file__).resolve().parents[2]))


def issue(proc: subprocess.Popen[str], n: int) -> list[str]:
    """Issue n tickets through the console, waiting for each answer; returns the answers."""
    assert proc.stdin is not None and proc.stdout is not None
    answers = []
    for _ in range(n):
        proc.stdin.write("ticket docs\n")
        proc.stdin.flush()
        answer = proc.stdout.readline()
        assert answer, "the edge process ended"
        answers.append(answer.strip())
    return answers


def quit_edge(proc: subprocess.Popen[str], timeout: float) -> None:
    """Type `quit` on the edge's console and wait for a clean exit (0)."""
    assert proc.stdin is not None
    proc.stdin.write("quit\n")
    proc.stdin.close()
    assert proc.wait(timeout) == 0


def stop_edge(proc: subprocess.Popen[str]) -> None:
    """Whatever happened: no edge process and no open pipe left behind."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
    for f in (proc.stdin, proc.stdout):
        if f is not None and not f.closed:
            f.close()


def test_kill_9_mid_stream_loses_and_duplicates_nothing(broker: Broker, central: CentralRig,
                                                        tmp_path: Path) -> None:
    """Risk: a power cut between publish and ack loses or doubles events at central."""
    config, state = write_config(tmp_path, broker.port), tmp_path / "state"
    with open(tmp_path / "edge.log", "wb") as log:
        for round_ in range(3):
            proc = start_edge(config, state, log)
            try:
                issue(proc, 60)
                # Die in the middle of streaming: some batches out, some acks on their way.
                wait_for(lambda: central.contiguous() > 0 or round_ > 0, 10, "first acks")
                proc.kill()
                proc.wait(10)
            finally:
                stop_edge(proc)
        proc = start_edge(config, state, log)
        try:
            last = edge_last_seq(state / "kezek.db")
            wait_for(lambda: central.contiguous() == last, 30, "the backlog to drain after restarts")
            # Central's last ack may still be on its way: the edge deletes on receipt.
            wait_for(lambda: edge_outbox_count(state / "kezek.db") == 0, 10, "the last ack")
            quit_edge(proc, 15)
        finally:
            stop_edge(proc)
    last = edge_last_seq(state / "kezek.db")
    events = assert_exactly_once(central, last)
    issued = [e for e in events if e["type"] == "ticket.issued"]
    assert [e["data"]["number"] for e in issued] == list(range(1, 181))
    assert edge_outbox_count(state / "kezek.db") == 0


def test_second_process_with_same_identity_refuses_to_start(broker: Broker, tmp_path: Path) -> None:
    """Risk: two controllers on one database hand out the same ticket numbers."""
    config, state = write_config(tmp_path, broker.port), tmp_path / "state"
    with open(tmp_path / "edge.log", "wb") as log:
        first = start_edge(config, state, log)
        try:
            issue(first, 1)  # the first one is up
            second = subprocess.run(kezek_cmd("run", "--config", str(config), "--state-dir",
                                              str(state)),
                                    input="ticket docs\n", capture_output=True, text=True,
                                    env=child_env(), timeout=60,
                                    cwd=str(Path(__file__).resolve().parents[2]))
            assert second.returncode != 0
            assert "another Kezek process" in second.stderr
            assert f"pid {first.pid}" in second.stderr
            issue(first, 1)  # the first one still works
        finally:
            first.kill()
            first.wait(10)
            for f in (first.stdin, first.stdout):
                if f is not None:
                    f.close()


def test_a_second_process_on_the_same_state_folder_refuses_whatever_its_identity(
        broker: Broker, central: CentralRig, tmp_path: Path) -> None:
    """Risk: the lock was per site/device: a second `kezek run` on the same state folder
    was told to "give this one another center.device", and with another one it opened the
    same kezek.db; the first then refused every ticket (UNIQUE constraint failed:
    outbox.seq) and both sent one database's events under two identities."""
    config, state = write_config(tmp_path, broker.port), tmp_path / "state"
    other = tmp_path / "other.toml"
    other.write_text(TOML.format(site="another-site", device="edge-2", port=broker.port),
                     encoding="utf-8")
    with open(tmp_path / "edge.log", "wb") as log:
        first = start_edge(config, state, log)
        try:
            assert issue(first, 1)[0].startswith("TICKET A-001 ")
            second = subprocess.run(kezek_cmd("run", "--config", str(other), "--state-dir",
                                              str(state)),
                                    input="ticket docs\n", capture_output=True, text=True,
                                    env=child_env(), timeout=60,
                                    cwd=str(Path(__file__).resolve().parents[2]))
            assert second.returncode != 0
            assert "another Kezek process" in second.stderr
            assert f"pid {first.pid}" in second.stderr
            assert str(state / "kezek.db") in second.stderr
            assert "systemctl stop kezek" in second.stderr
            # Safe advice only: another identity on this folder is the bug itself.
            assert "center.device" not in second.stderr and "center.site" not in second.stderr
            assert "TICKET" not in second.stdout, "the second process issued a ticket"
            # The first one goes on numbering and saving, and central gets everything once.
            assert [a.split()[1] for a in issue(first, 2)] == ["A-002", "A-003"]
            last = edge_last_seq(state / "kezek.db")
            wait_for(lambda: central.contiguous() == last, 30, "the first one's events at central")
            quit_edge(first, 30)
        finally:
            stop_edge(first)
    events = assert_exactly_once(central, edge_last_seq(state / "kezek.db"))
    assert [e["data"]["number"] for e in events if e["type"] == "ticket.issued"] == [1, 2, 3]
    assert central.events(device="edge-2") == []
