"""The performance budget of issue 8, as ratios checked against one run's results."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

COMMIT_RATIO = 2.0        # issue / call-next p99 within 2x one raw commit (same run)
GROWTH_RATIO = 2.0        # call-next p50 at the most waiting / at 0 waiting
DRAIN_RATIO = 3.0         # backlog drain rate / one-event-per-message QoS 1 rate
START_S = 0.6             # cold start to ready
RSS_MB = 60.0             # peak RSS with the demo config
PAPER_S = 0.4             # release -> last byte of a Kazakh raster ticket at 115200 baud
RENDER_MS = 1.0           # render CPU per ticket
PRINT_RATIO = 0.5         # service tickets/s with printing on / off


@dataclass
class Verdict:
    name: str
    value: str
    limit: str
    status: str           # PASS, FAIL or GAP (not measured: the part is missing)
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio_verdict(name: str, ratios: dict[str, float], limit: float, detail: str) -> Verdict:
    worst = max(ratios.values())
    per = ", ".join(f"{k}: {v:.2f}x" for k, v in ratios.items())
    return Verdict(name, f"{worst:.2f}x", f"<= {limit:g}x", "PASS" if worst <= limit else "FAIL",
                   f"{detail} ({per})")


def check(results: dict[str, Any]) -> list[Verdict]:
    out: list[Verdict] = []
    lat = results.get("latency")
    if lat:
        levels = lat["levels"]
        for cmd in ("issue", "call_next"):
            ratios = {f"{n} waiting": v[cmd]["p99_ms"] / v["raw_commit"]["p99_ms"]
                      for n, v in levels.items()}
            out.append(_ratio_verdict(f"{cmd} p99 / raw commit p99", ratios, COMMIT_RATIO,
                                      "raw commit timed alongside each level"))
        keys = sorted(levels, key=int)
        if len(keys) >= 2 and int(keys[-1]) > 0:
            lo, hi = levels[keys[0]]["call_next"]["p50_ms"], levels[keys[-1]]["call_next"]["p50_ms"]
            growth = hi / lo if lo else float("inf")
            linear = (int(keys[-1]) + 1) / (int(keys[0]) + 1)
            out.append(Verdict("call_next growth with waiting", f"{growth:.2f}x",
                               f"<= {GROWTH_RATIO:g}x", "PASS" if growth <= GROWTH_RATIO else "FAIL",
                               f"p50 at {keys[-1]} vs {keys[0]} waiting; linear would be ~{linear:.0f}x"))
    drain = results.get("drain")
    if drain and drain.get("status") != "missing" and "ratio" in drain:
        r = drain["ratio"]
        out.append(Verdict("backlog drain / one-per-message", f"{r:.2f}x", f">= {DRAIN_RATIO:g}x",
                           "PASS" if r >= DRAIN_RATIO else "FAIL", drain.get("detail", "")))
    else:
        reason = (drain or {}).get("reason", "not run")
        out.append(Verdict("backlog drain / one-per-message", "-", f">= {DRAIN_RATIO:g}x", "GAP", reason))
    st = results.get("startup")
    if st:
        v = st["ready_s"]["p50"]
        out.append(Verdict("cold start to ready (p50)", f"{v:.3f} s", f"< {START_S:g} s",
                           "PASS" if v < START_S else "FAIL",
                           f"{st['runs']} starts, max {st['ready_s']['max']:.3f} s"))
        m = st["peak_rss_mb"]
        out.append(Verdict("peak RSS, demo config", f"{m:.1f} MB", f"< {RSS_MB:g} MB",
                           "PASS" if m < RSS_MB else "FAIL", "VmHWM of the child (its own peak since exec)"))
    pa = results.get("panel")
    if pa:
        on, off = pa["peak_rss_mb"]["panel_on"], pa["peak_rss_mb"]["panel_off"]
        out.append(Verdict("peak RSS, demo config + panel", f"{on:.1f} MB", f"< {RSS_MB:g} MB",
                           "PASS" if on < RSS_MB else "FAIL",
                           f"panel off {off:.1f} MB (+{on - off:.1f} MB), after the same calls"))
    pr = results.get("printing")
    if pr:
        x = pr["press_stored"]
        v = x["p50_ms"] / 1000
        out.append(Verdict("Kazakh ticket release -> last byte", f"{v:.3f} s", f"< {PAPER_S:g} s",
                           "PASS" if v < PAPER_S else "FAIL",
                           f"p50 at 115200 baud, stored graphics; p99 {x['p99_ms'] / 1000:.3f} s; "
                           f"whole tickets p50 {pr['press_whole']['p50_ms'] / 1000:.3f} s"))
        c = pr["render_cpu"]["mean_ms"]
        out.append(Verdict("render CPU per ticket", f"{c:.3f} ms", f"<= {RENDER_MS:g} ms",
                           "PASS" if c <= RENDER_MS else "FAIL", "mean thread CPU, new numbers each"))
        sr = pr["service_rate"]
        r = sr["ratio"]
        rounds = sr.get("round_ratios") or [r]
        out.append(Verdict("tickets/s printing on / off", f"{r:.2f}x", f">= {PRINT_RATIO:g}x",
                           "PASS" if r >= PRINT_RATIO else "FAIL",
                           "demo file printer vs no printer, until every ticket is printed; "
                           f"medians of {len(rounds)} rounds, each round "
                           f"{min(rounds):.2f}-{max(rounds):.2f}x"))
    return out
