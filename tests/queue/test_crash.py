"""Crash tests: a real `kezek run` fed through stdin and killed with SIGKILL at random points."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections import Counter as Tally
from pathlib import Path

CONFIG = """
[center]
site = "crash-test"
name = { kk = "Сынақ орталығы", ru = "Тестовый центр" }
timezone = "Asia/Almaty"

[console]
enabled = true

[[services]]
id = "docs"
names = { kk = "Құжаттар", ru = "Документы" }
prefix = "A"

[[services]]
id = "realty"
names = { kk = "Мүлік", ru = "Недвижимость" }
prefix = "B"

[[windows]]
number = 1
services = { docs = 2, realty = 1 }

[[windows]]
number = 2
services = { realty = 2, docs = 1 }

[[windows]]
number = 3
services = { docs = 1, realty = 1 }
benefit = true
"""

FINAL_EVENT = {"ticket.done": "done", "ticket.no_show": "no_show", "ticket.voided": "voided"}
# The state each event leaves a ticket in; the outbox replayed must give the tickets table.
# A no-show's ticket.returned: waiting (with a `window`, its ticket.called follows at once).
STATE_AFTER = {"ticket.issued": "waiting", "ticket.called": "called", "ticket.recalled": "called",
               "ticket.serving": "serving", "ticket.transferred": "waiting",
               "ticket.parked": "parked", "ticket.unparked": "waiting",
               "ticket.returned": "waiting", **FINAL_EVENT}


def random_command(rng: random.Random) -> str:
    w = rng.randint(1, 3)
    return rng.choice([
        f"ticket {rng.choice(['docs', 'realty'])} {rng.choice(['normal', 'pensioner'])}",
        f"ticket {rng.choice(['docs', 'realty'])}", f"call {w}", f"call {w}", f"recall {w}",
        f"noshow {w}", f"start {w}", f"done {w}", f"transfer {w} {rng.choice(['docs', 'realty'])}",
        f"park {w}", f"rate {w} {rng.randint(1, 5)}",
        f"return {rng.choice('AB')}-{rng.randint(1, 6):03d}",
    ])


def start(state_dir: Path, config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "run", "--config", str(config), "--state-dir", str(state_dir),
         "--log-level", "WARNING"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)


def check_database(db: Path, printed_tickets: set[str]) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        seqs = [r[0] for r in conn.execute("SELECT seq FROM outbox ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1)), "outbox sequence has a gap or a duplicate"
        last_seq = json.loads(conn.execute("SELECT value FROM meta WHERE key='last_seq'").fetchone()[0])
        assert last_seq == len(seqs)
        tickets = {r[0]: (r[1], r[2], r[3], r[4]) for r in
                   conn.execute("SELECT id, label, state, day, service FROM tickets")}
        replay: dict[int, str] = {}
        issued = Tally()
        for etype, data in conn.execute("SELECT type, data FROM outbox ORDER BY seq"):
            d = json.loads(data)
            if etype in STATE_AFTER:
                replay[d["ticket_id"]] = STATE_AFTER[etype]
            if etype == "ticket.issued":
                issued[d["ticket_id"]] += 1
        assert all(n == 1 for n in issued.values()), "a ticket was issued twice"
        assert set(issued) == set(tickets), "tickets and issue events disagree"
        for tid, (label, state, _, _) in tickets.items():
            assert replay[tid] == state, f"{label}: table says {state}, events say {replay[tid]}"
        labels_live = Tally((day, label) for label, state, day, _ in tickets.values()
                            if state not in ("done", "no_show", "voided"))
        assert all(n == 1 for n in labels_live.values()), "a number is live twice"
        known = {label for label, *_ in tickets.values()}
        lost = printed_tickets - known
        assert not lost, f"tickets printed to the visitor but lost: {lost}"
        waiting = sum(1 for _, state, _, _ in tickets.values() if state == "waiting")
        return {"waiting": waiting, "events": len(seqs), "tickets": len(tickets)}
    finally:
        conn.close()


def test_kill_9_at_random_points_loses_nothing(tmp_path: Path) -> None:
    config = tmp_path / "center.toml"
    config.write_text(CONFIG, encoding="utf-8")
    state = tmp_path / "state"
    rng = random.Random(20261122)
    printed: set[str] = set()
    for round_no in range(8):
        proc = start(state, config)
        assert proc.stdin and proc.stdout
        # Resume check: the restarted queue reports what the database holds.
        proc.stdin.write("status\n")
        status_line = proc.stdout.readline()
        assert status_line.startswith("STATUS"), status_line + (proc.stderr.read() if proc.stderr else "")
        for line in proc.stdout:
            if line.strip() == "END":
                break
        if round_no:
            expected = check_database(state / "kezek.db", printed)
            assert f"{expected['waiting']} waiting" in status_line, status_line
        for _ in range(rng.randint(5, 40)):
            proc.stdin.write(random_command(rng) + "\n")
            answer = proc.stdout.readline()
            assert answer, proc.stderr.read() if proc.stderr else "no answer"
            if answer.startswith("TICKET "):
                printed.add(answer.split()[1])
        # Kill while commands are in flight, without waiting for their answers.
        for _ in range(rng.randint(0, 5)):
            proc.stdin.write(random_command(rng) + "\n")
        proc.stdin.flush()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                stream.close()  # type: ignore[union-attr]
            except (BrokenPipeError, OSError):
                pass
        result = check_database(state / "kezek.db", printed)
        assert result["tickets"] >= len(printed)
    assert printed, "the test issued no ticket at all"


def test_quit_and_end_of_input_stop_cleanly(tmp_path: Path) -> None:
    config = tmp_path / "center.toml"
    config.write_text(CONFIG, encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "edge.cli", "run", "--config", str(config), "--state-dir",
         str(tmp_path / "s")], input="ticket docs\ncall 1\nfrobnicate\nquit\nticket docs\n",
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("TICKET A-001")
    assert lines[1] == "CALL A-001 -> 1"
    assert lines[2].startswith("ERROR ") and "frobnicate" in lines[2]
    assert lines[3] == "BYE" and len(lines) == 4
