"""The day simulator: deterministic for a seed, and its numbers right on a hand-checked day."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.cli import main
from edge.config import load_config
from edge.errors import ConfigError
from edge.queue.model import Category
from edge.sim.report import build_report, format_report
from edge.sim.scenario import Scenario, copy_sources, load_scenario, with_windows
from edge.sim.simulator import DaySimulator, simulate
from edge.sim.visitors import Visitor

ROOT = Path(__file__).resolve().parents[2]
MONDAY = ROOT / "config" / "sim-monday.toml"


def tiny(tmp_path: Path, extra: str = "") -> Path:
    """One window (window 1: docs first), docs takes exactly 10 minutes, no walking."""
    path = tmp_path / "tiny.toml"
    path.write_text(f"""
[scenario]
name = "tiny"
center = "{ROOT / 'config' / 'demo.toml'}"
date = 2026-11-23
open = "09:00"
close = "10:00"
windows = 1
walk_s = 0
recall_after_s = 40
sla_wait_min = 15

[[services]]
id = "docs"
arrivals = {{ "09" = 0 }}
service_min = {{ dist = "fixed", mean = 10 }}
{extra}
""", encoding="utf-8")
    return path


def visitor(i: int, at: str, leaves: bool = False) -> Visitor:
    h, m = at.split(":")
    return Visitor(index=i, service="docs", arrive_s=int(h) * 3600 + int(m) * 60,
                   category=Category.NORMAL, service_s=600, leaves=leaves)


def test_same_seed_gives_the_same_report_and_another_seed_another_day() -> None:
    """Risk: hidden randomness (dict order, uuid, wall time) makes 'what if' runs incomparable."""
    sc, cfg = load_scenario(MONDAY)
    a = build_report(simulate(sc, cfg, 7))
    b = build_report(simulate(sc, cfg, 7))
    c = build_report(simulate(sc, cfg, 8))
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert a["summary"] != c["summary"]
    assert a["summary"]["visitors"] > 100  # the Monday scenario is a real day


def test_hand_checked_day(tmp_path: Path) -> None:
    """Three visitors a minute apart, one window, 10 min each, plus one who left (recalled)."""
    sc, cfg = load_scenario(tiny(tmp_path))
    people = [visitor(1, "09:00"), visitor(2, "09:01"), visitor(3, "09:02"),
              visitor(4, "09:03", leaves=True)]
    run = DaySimulator(sc, cfg, seed=0, visitors=people).run()
    r = build_report(run)
    # A is called at 9:00, B at 9:10 (waited 9 min), C at 9:20 (18), D at 9:30 (27).
    assert [v.wait_s for v in people] == [0, 9 * 60, 18 * 60, 27 * 60]
    assert [v.outcome for v in people] == ["done", "done", "done", "no_show"]
    docs = r["services"][0]
    assert docs["visitors"] == 4 and docs["served"] == 3 and docs["no_shows"] == 1
    assert docs["wait_min"] == {"p50": 9.0, "p90": 27.0, "max": 27.0}
    assert docs["sla_breaches"] == 2          # 18 and 27 minutes > 15
    # D is recalled every 40 s until the engine's recall limit makes the no-show.
    presses = cfg.policies.recall_limit
    busy_s = 3 * 600 + presses * 40
    assert r["windows"][0]["busy_min"] == round(busy_s / 60, 1)
    assert r["windows"][0]["utilisation_pct"] == round(100 * busy_s / 3600, 1)
    assert r["summary"]["last_visitor_done"] == "10:00"
    assert "tiny" in format_report(r)


def test_a_break_waits_for_the_visitor_at_the_window(tmp_path: Path) -> None:
    """Risk: a break cutting a visit short, or the window calling during its break."""
    extra = '[[breaks]]\nwindows = [1]\nstart = "09:05"\nminutes = 10\n'
    sc, cfg = load_scenario(tiny(tmp_path, extra))
    people = [visitor(1, "09:00"), visitor(2, "09:01")]
    r = build_report(DaySimulator(sc, cfg, seed=0, visitors=people).run())
    # A is served 9:00-9:10, the break runs 9:10-9:20, then B (waited 19 minutes).
    assert [v.wait_s for v in people] == [0, 19 * 60]
    assert r["windows"][0]["break_min"] == 10


def test_more_windows_copy_the_first_ones_with_their_breaks() -> None:
    sc, cfg = load_scenario(MONDAY, windows=6)
    assert [w.number for w in cfg.windows] == [1, 2, 3, 4, 5, 6]
    assert dict(cfg.windows[4].services) == dict(load_config(ROOT / "config" / "demo.toml").windows[0].services)
    assert copy_sources(load_config(ROOT / "config" / "demo.toml"), 6) == {1: 1, 2: 2, 3: 3, 4: 4, 5: 1, 6: 2}
    lunch = {w for b in sc.breaks for w in b.windows}
    assert lunch == {1, 2, 3, 4, 5, 6}
    few, _ = load_scenario(MONDAY, windows=2)
    assert {w for b in few.breaks for w in b.windows} == {1, 2}
    assert len(with_windows(cfg, 2).windows) == 2


def test_scenario_errors_name_the_key(tmp_path: Path) -> None:
    bad = tiny(tmp_path).read_text(encoding="utf-8").replace('id = "docs"', 'id = "passports"')
    path = tmp_path / "bad.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_scenario(path)
    assert "services.0.id" in str(e.value) and "docs" in str(e.value)
    path.write_text(bad.replace('open = "09:00"', 'open = "9am"'), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_scenario(path)
    assert "scenario.open" in str(e.value)
    assert isinstance(Scenario.model_fields, dict)


def test_cli_writes_report_and_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["simulate", "--config", str(MONDAY), "--seed", "3", "--windows", "5",
               "--out", str(tmp_path)])
    assert rc == 0
    assert "5 windows, seed 3" in capsys.readouterr().out
    report = json.loads((tmp_path / "sim-monday-w5-s3.json").read_text(encoding="utf-8"))
    assert report["windows_open"] == 5 and report["seed"] == 3
    png = (tmp_path / "sim-monday-w5-s3.png").read_bytes()
    assert png.startswith(b"\x89PNG")
