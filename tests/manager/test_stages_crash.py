"""kill -9 at random points: the visit stages stay exactly as consistent as the tickets."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
from collections import Counter as Tally
from pathlib import Path

import pytest

from tests.queue.test_crash import CONFIG, random_command, start

FINAL = ("done", "no_show", "voided")


def check_stages(db: Path) -> int:
    """Every ticket has stages 1..n, its last one open or ending as the ticket did, and one
    stage more than its transfers (replayed from the outbox)."""
    conn = sqlite3.connect(db)
    try:
        tickets = dict(conn.execute("SELECT id, state FROM tickets"))
        stages: dict[int, list[tuple[int, str]]] = {}
        for tid, stage, outcome in conn.execute(
                "SELECT ticket_id, stage, outcome FROM visit_stages ORDER BY ticket_id, stage"):
            stages.setdefault(tid, []).append((stage, outcome))
        transfers = Tally(json.loads(d)["ticket_id"] for (d,) in conn.execute(
            "SELECT data FROM outbox WHERE type = 'ticket.transferred'"))
    finally:
        conn.close()
    assert set(stages) == set(tickets), "a ticket without stages, or stages without a ticket"
    for tid, state in tickets.items():
        rows = stages[tid]
        assert [n for n, _ in rows] == list(range(1, len(rows) + 1)), (tid, rows)
        assert len(rows) == transfers[tid] + 1, (tid, rows, transfers[tid])
        assert all(o == "transferred" for _, o in rows[:-1]), (tid, rows)
        last = rows[-1][1]
        assert last == (state if state in FINAL else "open"), (tid, state, rows)
    return len(tickets)


@pytest.mark.heavy(seconds=20)
def test_kill_9_keeps_the_stages_consistent(tmp_path: Path) -> None:
    """Risk: a crash between the queue's commit and the stage rows (were they written
    apart) leaves figures that disagree with the tickets for the rest of the day."""
    config = tmp_path / "center.toml"
    config.write_text(CONFIG, encoding="utf-8")
    state = tmp_path / "state"
    rng = random.Random(1919)
    for _ in range(4):
        proc = start(state, config)
        assert proc.stdin and proc.stdout
        for _ in range(rng.randint(15, 40)):
            proc.stdin.write(random_command(rng) + "\n")
            assert proc.stdout.readline(), proc.stderr.read() if proc.stderr else "no answer"
        for _ in range(rng.randint(1, 5)):       # in flight when killed
            proc.stdin.write(random_command(rng) + "\n")
        proc.stdin.flush()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                stream.close()  # type: ignore[union-attr]
            except (BrokenPipeError, OSError):
                pass
        check_stages(state / "kezek.db")
    assert check_stages(state / "kezek.db") > 5
