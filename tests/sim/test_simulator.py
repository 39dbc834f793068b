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


def tiny(tmp_path: Path, extra: str = "", head: str = "", center: Path | None = None) -> Path:
    """One window (window 1: docs first), docs takes exactly 10 minutes, no walking."""
    path = tmp_path / "tiny.toml"
    path.write_text(f"""
[scenario]
name = "tiny"
center = "{center or ROOT / 'config' / 'demo.toml'}"{head}
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


def visitor(i: int, at: str, leaves: bool = False, service_s: int = 600,
            service: str = "docs") -> Visitor:
    h, m = at.split(":")
    return Visitor(index=i, service=service, arrive_s=int(h) * 3600 + int(m) * 60,
                   category=Category.NORMAL, service_s=service_s, leaves=leaves)


def center_with(tmp_path: Path, policies: str) -> Path:
    """The demo center with extra [policies] keys (written right under the table)."""
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    path = tmp_path / "center.toml"
    path.write_text(text.replace("[policies]\n", f"[policies]\n{policies}\n", 1), encoding="utf-8")
    return path


def problems_of(path: Path) -> str:
    with pytest.raises(ConfigError) as e:
        load_scenario(path)
    return str(e.value)


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
    assert docs["wait_min"] == {"p50": 9.0, "p90": 27.0, "max": 27.0, "still_waiting": 0}
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


# -- the report's numbers: every visitor counted once, waits of the unserved kept ---------

def test_every_visitor_is_counted_once() -> None:
    """Risk: a report whose columns do not add up (turned-away visitors vanishing)."""
    sc, cfg = load_scenario(MONDAY, windows=2)
    for windows in (1, 2, 4, 6):
        sc, cfg = load_scenario(MONDAY, windows=windows)
        r = build_report(simulate(sc, cfg, 5))
        came = sum(1 for v in simulate(sc, cfg, 5).visitors if v.comes)
        for part in [r["summary"], *r["services"]]:
            assert part["served"] + part["no_shows"] + part["unserved"] + part["turned_away"] \
                == part["visitors"]
        assert r["summary"]["visitors"] == came


def test_a_service_no_open_window_serves_is_reported_and_does_not_hold_the_day() -> None:
    """With 2 windows nobody serves 'benefits': its visitors are unserved (not a wait of
    0 min), the report says why, and the day ends when the others are served instead of
    running to the overtime limit."""
    sc, cfg = load_scenario(MONDAY, windows=2)
    run = simulate(sc, cfg, 1)
    r = build_report(run)
    benefits = next(x for x in r["services"] if x["service"] == "benefits")
    assert benefits["served"] == 0 and benefits["unserved"] == benefits["visitors"] > 0
    assert benefits["wait_min"]["still_waiting"] == benefits["unserved"]
    assert benefits["wait_min"]["p50"] > 60           # waited the whole day, not "0.0 min"
    assert benefits["sla_breaches"] == benefits["unserved"]
    assert any("benefits" in w and "never called" in w for w in r["warnings"])
    assert not r["summary"]["stopped_at_overtime_limit"]
    done = max(v.called_s + v.service_s for v in run.visitors if v.outcome == "done")
    assert run.end_s <= done + 60                      # + walking to the window
    text = format_report(r)
    assert "! benefits: none of the 2 open windows serves it" in text and ">=" in text


def test_a_visitor_at_the_window_when_the_day_stops_is_one_breach_not_two(tmp_path: Path) -> None:
    """Stop at closing: B is at the window (called after 29 min), C was never called."""
    sc, cfg = load_scenario(tiny(tmp_path, head="\novertime_max_min = 0"))
    people = [visitor(1, "09:00", service_s=1800), visitor(2, "09:01", service_s=2400),
              visitor(3, "09:02")]
    run = DaySimulator(sc, cfg, seed=0, visitors=people).run()
    r = build_report(run)
    docs = r["services"][0]
    assert run.cutoff and [v.outcome for v in people] == ["done", "unserved", "unserved"]
    assert docs["sla_breaches"] == 2                   # B once (29 > 15), C once (never called)
    # C's wait counts until the stop at 10:00: 58 minutes, at least.
    assert docs["wait_min"] == {"p50": 29.0, "p90": 58.0, "max": 58.0, "still_waiting": 1}


def test_a_break_past_the_end_of_the_day_does_not_shrink_the_open_time(tmp_path: Path) -> None:
    """Risk: a 60-min break at 09:50 subtracted whole from a day that ended at 10:00."""
    extra = '[[breaks]]\nwindows = [1]\nstart = "09:50"\nminutes = 60\n'
    sc, cfg = load_scenario(tiny(tmp_path, extra))
    r = build_report(DaySimulator(sc, cfg, seed=0, visitors=[visitor(1, "09:00")]).run())
    assert r["summary"]["last_visitor_done"] == "10:00"
    win = r["windows"][0]
    assert win["break_min"] == 10
    assert win["utilisation_pct"] == round(100 * 10 / 50, 1)


def test_turned_away_visitors_are_counted_with_the_engines_reason(tmp_path: Path) -> None:
    """The center's capacity stop refuses walk-ins near closing: the report counts them as
    turned away with the reason (before, they vanished from every column)."""
    center = center_with(tmp_path, "")
    text = center.read_text(encoding="utf-8").replace(
        "[policies]\n", '[policies.hours]\nmon = { open = "09:00", close = "10:00" }\n\n[policies]\n', 1)
    center.write_text(text, encoding="utf-8")
    sc, cfg = load_scenario(tiny(tmp_path, center=center))
    # One window, 10 minutes each: 6 fit into the hour, the 7th and 8th are refused.
    people = [visitor(i, f"09:0{i}") for i in range(1, 9)]
    r = build_report(DaySimulator(sc, cfg, seed=0, visitors=people).run())
    docs = r["services"][0]
    assert docs["turned_away"] >= 1 and docs["turned_away_why"] == {"capacity_full": docs["turned_away"]}
    assert docs["visitors"] == 8
    assert docs["served"] + docs["turned_away"] + docs["unserved"] + docs["no_shows"] == 8
    assert "capacity stop" in format_report(r)


def test_a_day_closing_late_stops_at_midnight_without_failing(tmp_path: Path) -> None:
    """Risk: overtime past midnight, when the engine starts a new day and closes tickets."""
    path = tiny(tmp_path).read_text(encoding="utf-8").replace('close = "10:00"', 'close = "23:50"') \
        .replace('arrivals = { "09" = 0 }', 'arrivals = { "23" = 30 }')
    scenario = tmp_path / "late.toml"
    scenario.write_text(path, encoding="utf-8")
    sc, cfg = load_scenario(scenario)
    r = build_report(simulate(sc, cfg, 1))
    assert r["summary"]["stopped_at_overtime_limit"]
    assert r["summary"]["last_visitor_done"] == "23:59"
    assert r["summary"]["unserved"] > 0


def test_percentiles_are_nearest_rank() -> None:
    """Hand-checked: p50 of 1..10 is 5, p90 is 9; of four values p50 is the 2nd."""
    from edge.sim.stats import percentile
    assert percentile(list(range(1, 11)), 50) == 5
    assert percentile(list(range(10, 0, -1)), 90) == 9
    assert percentile([27, 0, 18, 9], 50) == 9
    assert percentile([], 90) == 0.0


# -- scenario errors: each names the key and the fix -------------------------------------

def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_arrivals_outside_the_opening_hours_are_an_error(tmp_path: Path) -> None:
    """Risk: "08" = 30 with open 09:00 silently drops thirty people from the day."""
    path = write(tmp_path, tiny(tmp_path).read_text(encoding="utf-8")
                 .replace('arrivals = { "09" = 0 }', 'arrivals = { "08" = 30, "09" = 5, "12" = 10 }'))
    msg = problems_of(path)
    assert "services.0.arrivals: hour(s) 08, 12 lie outside open-close (09:00-10:00)" in msg


def test_a_service_listed_twice_is_an_error(tmp_path: Path) -> None:
    """Risk: its visitors counted in two rows (and twice in the SLA breaches)."""
    extra = '[[services]]\nid = "docs"\narrivals = { "09" = 5 }\nservice_min = { dist = "fixed", mean = 5 }\n'
    assert "services.1.id: service 'docs' is already listed as services.0" in \
        problems_of(tiny(tmp_path, extra))


def test_breaks_outside_the_day_or_overlapping_are_errors(tmp_path: Path) -> None:
    extra = ('[[breaks]]\nwindows = [1]\nstart = "09:10"\nminutes = 30\n'
             '[[breaks]]\nwindows = [1]\nstart = "09:30"\nminutes = 10\n'
             '[[breaks]]\nwindows = [1]\nstart = "08:30"\nminutes = 10\n')
    msg = problems_of(tiny(tmp_path, extra))
    assert "breaks.1: window 1 is already on break 09:10-09:40 (breaks.0)" in msg
    assert "breaks.2.start: 08:30 is outside open-close (09:00-10:00)" in msg


def test_unknown_keys_and_a_missing_center_name_the_key(tmp_path: Path) -> None:
    text = tiny(tmp_path).read_text(encoding="utf-8")
    msg = problems_of(write(tmp_path, text.replace("walk_s = 0", "walk_s = 0\nwalk_sec = 5")))
    assert "scenario.walk_sec: unknown key; remove it or check its spelling" in msg
    msg = problems_of(write(tmp_path, text.replace(str(ROOT / "config" / "demo.toml"), "nope.toml")))
    assert "scenario.center = 'nope.toml'" in msg and "file not found" in msg


def test_center_policies_the_scenario_would_break_are_errors(tmp_path: Path) -> None:
    """Risk: the engine refusing a recall or a start mid-run (the run used to die with
    'window 1 has no ticket called or in service')."""
    center = center_with(tmp_path, "no_show_after_s = 20")
    path = tiny(tmp_path, center=center)
    msg = problems_of(write(tmp_path, path.read_text(encoding="utf-8").replace("walk_s = 0", "walk_s = 30")))
    assert "scenario.walk_s: 30 s reaches the center's policies.no_show_after_s (20 s)" in msg
    center = center_with(tmp_path, "")
    center.write_text(center.read_text(encoding="utf-8").replace(
        "recall_min_interval_s = 0", "recall_min_interval_s = 60"), encoding="utf-8")
    msg = problems_of(tiny(tmp_path, center=center))
    assert "scenario.recall_after_s: 40 s is shorter than the center's " \
           "policies.recall_min_interval_s (60 s)" in msg


def test_a_day_the_center_is_closed_is_an_error(tmp_path: Path) -> None:
    center = center_with(tmp_path, "")
    center.write_text(center.read_text(encoding="utf-8").replace(
        "[policies]\n", '[policies.hours]\ntue = { open = "09:00", close = "18:00" }\n\n[policies]\n', 1),
        encoding="utf-8")
    msg = problems_of(tiny(tmp_path, center=center))
    assert "scenario.date: 2026-11-23 is a Monday, when the center is closed" in msg


def test_cli_errors_are_messages_with_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad scenario exits 1 like check-config; a bad command line exits 2; no traceback."""
    bad = write(tmp_path, tiny(tmp_path).read_text(encoding="utf-8").replace("walk_s = 0", 'walk_s = "x"'))
    assert main(["simulate", "--config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "scenario.walk_s" in err and "Traceback" not in err
    assert main(["simulate", "--config", str(tmp_path / "missing.toml")]) == 1
    assert "file not found" in capsys.readouterr().err
    for n in ("0", "-3", "100"):
        assert main(["simulate", "--config", str(MONDAY), "--windows", n]) == 2
        assert "--windows" in capsys.readouterr().err
    not_a_dir = write(tmp_path, "x", "file.txt")
    assert main(["simulate", "--config", str(MONDAY), "--out", str(not_a_dir)]) == 2
    assert "--out" in capsys.readouterr().err


def test_the_chart_is_the_same_bytes_for_the_same_seed(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    for out in ("a", "b"):
        assert main(["simulate", "--config", str(MONDAY), "--seed", "2", "--windows", "3",
                     "--out", str(tmp_path / out)]) == 0
    capsys.readouterr()
    for name in ("sim-monday-w3-s2.png", "sim-monday-w3-s2.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_many_seeds_show_each_day_and_the_median_and_worst(capsys: pytest.CaptureFixture[str]) -> None:
    """One seed is one day's luck; --seeds N plays N days and summarises them."""
    assert main(["simulate", "--config", str(MONDAY), "--windows", "4", "--seed", "3",
                 "--seeds", "5", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    sc, cfg = load_scenario(MONDAY, windows=4)
    p90s = [build_report(simulate(sc, cfg, seed))["summary"]["wait_min"]["p90"] for seed in range(3, 8)]
    assert summary["seeds"] == [3, 4, 5, 6, 7]
    assert [d["wait_p90"] for d in summary["days"]] == p90s
    assert summary["median"]["wait_p90"] == sorted(p90s)[2]       # nearest rank: 3rd of 5
    assert summary["worst"]["wait_p90"] == max(p90s)
    assert main(["simulate", "--config", str(MONDAY), "--seeds", "3"]) == 0
    text = capsys.readouterr().out
    assert "3 seeds (1..3)" in text and "median" in text and "worst" in text
    assert main(["simulate", "--config", str(MONDAY), "--seeds", "0"]) == 2
    assert main(["simulate", "--config", str(MONDAY), "--seeds", "2", "--out", "x"]) == 2


def test_service_time_errors_name_the_key_as_written(tmp_path: Path) -> None:
    text = tiny(tmp_path).read_text(encoding="utf-8")
    msg = problems_of(write(tmp_path, text.replace('{ dist = "fixed", mean = 10 }',
                                                   '{ dist = "lognormal", mean = 7, sd = 0 }')))
    assert 'services.0.service_min.sd: sd must be above 0; for the same time every visit use ' \
           '{ dist = "fixed"' in msg
    msg = problems_of(write(tmp_path, text.replace('{ dist = "fixed", mean = 10 }',
                                                   '{ dist = "uniform", min = 10, max = 5 }')))
    assert "services.0.service_min: max (5.0) must not be below min (10.0)" in msg
    msg = problems_of(write(tmp_path, text.replace('{ dist = "fixed", mean = 10 }',
                                                   '{ dist = "exponential", mean = -3 }')))
    assert "services.0.service_min.mean: Input should be greater than 0 (got -3)" in msg
