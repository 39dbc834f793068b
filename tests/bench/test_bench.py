"""The benchmark command runs end to end in its short mode and writes a complete report.

Figures are not asserted (speed belongs to the benchmark, not the suite); the structure,
the verdict logic and the exit status are.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ is a top-level folder beside edge/, not installed
    sys.path.insert(0, str(ROOT))


def run_bench(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """The benchmark in a process group of its own: on a timeout the services it started
    are stopped with it, not left running after the test."""
    proc = subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.heavy(seconds=65)
def test_quick_bench_writes_the_json_report(tmp_path: Path) -> None:
    # ~65 s on an idle 2-core machine (the panel's two services ~25 s of it); the
    # deadline is for a loaded one.
    proc = run_bench("--quick", "--levels", "0,100", "--samples", "5", "--out", str(tmp_path),
                     timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    files = list(tmp_path.glob("bench-*-quick.json"))
    assert len(files) == 1
    report = json.loads(files[0].read_text(encoding="utf-8"))
    assert report["schema"] == 1 and report["quick"] is True
    assert report["errors"] == {}
    m = report["machine"]
    assert {"cpu", "cores", "python", "sqlite", "disk"} <= set(m)
    r = report["results"]
    lat = r["latency"]
    assert set(lat["levels"]) == {"0", "100"}
    for level in lat["levels"].values():
        for key in ("issue", "call_next", "raw_commit"):
            assert {"p50_ms", "p99_ms", "n"} <= set(level[key]) and level[key]["n"] == 5
    assert lat["levels"]["100"]["waiting_seen_after"] == 100
    # The floor under the budget: the same controller with no queue work, one raw commit.
    assert lat["floor"]["floor"]["n"] == 5 and lat["floor"]["raw_commit"]["n"] == 5
    assert "floor: round trip + one raw commit" in proc.stdout
    assert r["press"]["n"] >= 1 and r["press"]["printer_bytes_per_ticket"] > 1000
    assert r["startup"]["session_ok"] is True and r["startup"]["peak_rss_mb"] > 0
    assert r["startup"]["slowest_imports"]
    assert r["footprint"]["db_file_bytes_per_visitor"] > 0
    assert "drain" in r
    names = {v["name"] for v in report["budgets"]}
    assert {"issue p99 / raw commit p99", "call_next p99 / raw commit p99", "cold start to ready (p50)",
            "peak RSS, demo config", "backlog drain / one-per-message"} <= names
    assert all(v["status"] in ("PASS", "FAIL", "GAP") for v in report["budgets"])
    assert "Budget:" in proc.stdout and str(files[0]) in proc.stdout
    # no stray databases left behind in the output directory
    assert not [p for p in tmp_path.rglob("*.db")]


def test_budget_verdicts() -> None:
    from bench.budgets import check

    def lvl(issue: float, call: float, raw: float) -> dict:
        return {"issue": {"p99_ms": issue, "p50_ms": issue / 2}, "call_next": {"p99_ms": call, "p50_ms": call / 2},
                "raw_commit": {"p99_ms": raw}}

    results = {"latency": {"levels": {"0": lvl(1.0, 1.0, 1.0), "5000": lvl(3.0, 1.5, 1.0)}},
               "drain": {"status": "missing", "reason": "not built"},
               "startup": {"ready_s": {"p50": 0.5, "max": 0.7}, "runs": 3, "peak_rss_mb": 61.0}}
    v = {x.name: x for x in check(results)}
    assert v["issue p99 / raw commit p99"].status == "FAIL"        # 3x at 5000 waiting
    assert v["call_next p99 / raw commit p99"].status == "PASS"    # 1.5x
    assert v["call_next growth with waiting"].status == "PASS"     # p50 0.75 vs 0.5
    assert v["backlog drain / one-per-message"].status == "GAP"
    assert v["cold start to ready (p50)"].status == "PASS"
    assert v["peak RSS, demo config"].status == "FAIL"


@pytest.mark.heavy(seconds=25)
def test_quick_panel_bench_measures_clicks_and_memory(tmp_path: Path) -> None:
    """The panel's bench: a real `kezek run` with the panel on, signed in over HTTP with the
    cookie and CSRF token, clicks timed to the reply, the hall stream and the panel stream;
    then the panel off after the same calls. Figures present, none judged here."""
    proc = run_bench("--quick", "--only", "panel", "--out", str(tmp_path), timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(next(tmp_path.glob("bench-*-quick.json")).read_text(encoding="utf-8"))
    assert report["errors"] == {}
    p = report["results"]["panel"]
    for key in ("call_next_reply", "call_next_hall", "call_next_panel", "done_reply"):
        assert p[key]["n"] == 20 and p[key]["p99_ms"] >= p[key]["p50_ms"] > 0
    assert p["peak_rss_mb"]["panel_on"] > 0 and p["peak_rss_mb"]["panel_off"] > 0
    assert p["memory_mb"]["panel_on"]["signed_in"]["VmHWM"] > 0
    v = {x["name"]: x for x in report["budgets"]}
    assert v["peak RSS, demo config + panel"]["status"] in ("PASS", "FAIL")
    assert "panel click -> hall screen shows it" in proc.stdout
    assert not [q for q in tmp_path.rglob("*.db")]


def test_panel_budget_verdict() -> None:
    from bench.budgets import check
    panel = {"peak_rss_mb": {"panel_on": 61.0, "panel_off": 55.0}}
    v = {x.name: x for x in check({"panel": panel})}
    assert v["peak RSS, demo config + panel"].status == "FAIL"
    assert "+6.0 MB" in v["peak RSS, demo config + panel"].detail
    panel["peak_rss_mb"]["panel_on"] = 59.0
    assert {x.name: x for x in check({"panel": panel})}["peak RSS, demo config + panel"].status == "PASS"
