"""The Situational Center's screens at national scale: query time and page update latency.

    .venv/bin/python bench/situational.py [--sites 350] [--visits 1000] [--rounds 50]
                                          [--backend sqlite,postgres]

Loads a day of a fleet into each store (a throwaway PostgreSQL from Debian's packages,
fsync on; a SQLite file in a temporary
folder): per site `--visits` visits (issued, called, serving, done, rated; ~6 events
each, the last few still open), a birth per site. Then measures:
- the board's first read (the whole day folded once, at a screen's start);
- the country view's refresh while events keep arriving (each round stores 1-event
  batches for 100 random sites, as about one second of a national day's peak, then
  refreshes): p50/p99;
- one center's screen as served for today (from the board's fold, with its visits over
  standard and its country row): p50/p99; and the same center's day read from the store
  and summarised (what a report for another day costs): p50/p99;
- page update latency: an event committed -> the country state carrying it received
  on the live stream (/api/events, signed in, as a browser reads it): p50/p99.
Prints a Markdown table for docs/performance.md; timings are never asserted in tests.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ZONE = ZoneInfo("Asia/Almaty")
DAY = "2026-12-02"
SERVICES = ("docs", "realty", "auto", "benefits")


def _ms(hhmm: float) -> int:
    h = int(hhmm)
    return int(datetime.fromisoformat(f"{DAY}T{h:02d}:{int((hhmm - h) * 60):02d}:00")
               .replace(tzinfo=ZONE).timestamp() * 1000)


def day_of_events(site: str, visits: int, rng: random.Random) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(1, visits + 1):
        start = 9 + 8 * i / visits
        service = rng.choice(SERVICES)
        base = {"ticket_id": i, "ticket": f"A-{i % 1000:03d}", "service": service}
        wait, serve = rng.randint(60, 3600), rng.randint(120, 1500)
        window = rng.randint(1, 12)
        steps = [("ticket.issued", 0, {**base, "visit": f"{site}-{i}"}),
                 ("ticket.called", wait, {**base, "window": window, "calls": 1, "wait_s": wait,
                                          "operator": f"op-{window}"}),
                 ("ticket.serving", wait + 30, {**base, "window": window}),
                 ("ticket.done", wait + serve, {**base, "window": window, "service_s": serve}),
                 ("rating.recorded", wait + serve + 20, {**base, "window": window,
                                                         "score": rng.choice((5, 5, 4, 3, 1))})]
        if i > visits * 0.97:
            steps = steps[:rng.randint(1, 3)]          # still waiting or at a window
        for t, after, data in steps:
            out.append({"type": t, "ts": _ms(start) + after * 1000, "data": data})
    out.sort(key=lambda e: e["ts"])
    return out


def batch(site: str, first: int, events: list[dict[str, Any]]) -> Any:
    from edge.sync.protocol import EventBatch
    return EventBatch.model_validate({
        "v": 1, "site": site, "device": "edge-1", "session": 1, "floor": 0, "db": f"db-{site}",
        "events": [{"v": 1, "id": f"{site}-{first + i}", "site": site, "device": "edge-1",
                    "seq": first + i, "boot": "b", "ts": e["ts"], "type": e["type"],
                    "mono_ms": 0, "clock_synced": True, "hist": False, "data": e["data"]}
                   for i, e in enumerate(events)]})


def load(store: Any, sites: list[str], visits: int) -> tuple[dict[str, int], float]:
    rng = random.Random(7)
    seqs = {}
    t = time.perf_counter()
    for site in sites:
        events = day_of_events(site, visits, rng)
        store.store_batches([batch(site, i + 1, events[i:i + 500])
                             for i in range(0, len(events), 500)])
        seqs[site] = len(events)
        # A birth, and no health: the waiting figures come from the folded visits, which
        # is what the latency below watches change.
        store.put_state(site, "edge-1", True, 1)
    return seqs, time.perf_counter() - t


def pcts(values: list[float]) -> str:
    s = sorted(values)
    p99 = s[min(len(s) - 1, int(len(s) * 0.99))]
    return f"{statistics.median(s) * 1000:.0f} / {p99 * 1000:.0f} ms"


def measure(store: Any, sites: int, visits: int, rounds: int, tmp: Path) -> dict[str, str]:
    from edge.central import staff
    from edge.central.web.center import center_view
    from edge.central.web.config import CentralWebConfig
    from edge.central.web.service import CentralWeb
    names = [f"c{i:04d}" for i in range(1, sites + 1)]
    seqs, load_s = load(store, names, visits)
    print(f"loaded {sum(seqs.values()):,} events in {load_s:.0f} s", file=sys.stderr)
    out = {"events loaded": f"{sum(seqs.values()):,} in {load_s:.0f} s"}
    now = _ms(17.5)
    cfg = CentralWebConfig.model_validate({"web": {"port": 0, "refresh_s": 60,
                                                   "sessions": str(tmp / "s.db")},
                                           "standards": {s: {"visit_sla_min": 90,
                                                             "max_wait_min": 45}
                                                         for s in SERVICES}})
    web = CentralWeb(store, cfg, clock_ms=lambda: now)
    t = time.perf_counter()
    web.board.refresh()
    out["first read of the day (all sites folded)"] = f"{(time.perf_counter() - t) * 1000:,.0f} ms"
    print(f"first read: {out['first read of the day (all sites folded)']}", file=sys.stderr)
    rng = random.Random(3)

    def trickle(n: int) -> list[str]:
        picked = rng.sample(names, n)
        bs = []
        for site in picked:
            seqs[site] += 1
            bs.append(batch(site, seqs[site], [{"type": "ticket.issued", "ts": now, "data": {
                "ticket_id": 10_000 + seqs[site], "ticket": "Z-001", "service": "docs",
                "visit": f"x-{seqs[site]}"}}]))
        store.store_batches(bs)
        return picked
    times = []
    for _ in range(rounds):
        trickle(min(100, len(names)))
        t = time.perf_counter()
        web.board.refresh()
        times.append(time.perf_counter() - t)
    out["country view refresh, 100 sites changed (p50 / p99)"] = pcts(times)
    times = []
    for i in range(rounds):
        t = time.perf_counter()
        web.board.center(names[i % len(names)])
        times.append(time.perf_counter() - t)
    out[f"one center's screen, {visits} visits (p50 / p99)"] = pcts(times)
    times = []
    day = web.board.today(now)
    for i in range(rounds):
        t = time.perf_counter()
        center_view(store, names[i % len(names)], day, now, ZONE)
        times.append(time.perf_counter() - t)
    out["one center's day read from the store (another day's report) (p50 / p99)"] = \
        pcts(times)
    out["page update latency, commit -> live stream (p50 / p99)"] = pcts(
        _latency(web, store, names, seqs, now, rounds, staff))
    web.stop()
    return out


def _latency(web: Any, store: Any, names: list[str], seqs: dict[str, int], now: int,
             rounds: int, staff: Any) -> list[float]:
    staff.add(store, "bench", "viewer", "a bench password")
    web.start()
    web.wait_serving(10)
    host, port = web.web.address
    c = http.client.HTTPConnection(host, port, timeout=30)
    c.request("POST", "/login", json.dumps({"name": "bench", "password": "a bench password"}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    cookie = r.getheader("set-cookie", "").split(";")[0]
    r.read()
    c = http.client.HTTPConnection(host, port, timeout=30)
    c.request("GET", "/api/events", headers={"Cookie": cookie})
    stream = c.getresponse()
    seen: dict[str, int] = {}
    got = threading.Condition()

    def read() -> None:
        try:
            for line in stream:
                if line.startswith(b"data: {\"now_ms\""):
                    state = json.loads(line[6:])
                    with got:
                        for row in state["sites"]:
                            seen[row["site"]] = row["waiting"]
                        got.notify_all()
        except (OSError, AttributeError, ValueError):   # the stream closed at the end
            return
    threading.Thread(target=read, daemon=True).start()
    lat = []
    for i in range(rounds):
        site = names[(i * 7) % len(names)]
        with got:
            got.wait_for(lambda: site in seen, 30)
            before = seen[site]
        seqs[site] += 1
        t = time.perf_counter()
        store.store_batch(batch(site, seqs[site], [{"type": "ticket.issued", "ts": now, "data": {
            "ticket_id": 20_000 + seqs[site], "ticket": "Y-001", "service": "docs",
            "visit": f"y-{seqs[site]}"}}]))
        web.on_stored(site, "edge-1", None)        # what Central's listener does
        with got:
            got.wait_for(lambda: seen.get(site) != before, 30)
        lat.append(time.perf_counter() - t)
    c.close()
    return lat


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sites", type=int, default=350)
    p.add_argument("--visits", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=50)
    p.add_argument("--backend", default="sqlite,postgres")
    args = p.parse_args()
    from edge.central.store import open_store
    results: dict[str, dict[str, str]] = {}
    for backend in args.backend.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            if backend == "sqlite":
                store = open_store(Path(tmp) / "central.db")
                try:
                    results["SQLite"] = measure(store, args.sites, args.visits, args.rounds,
                                                Path(tmp))
                finally:
                    store.close()
                continue
            from edge.central.localpg import LocalPostgres
            with LocalPostgres() as pg:
                store = open_store(pg.create_db("bench"))
                try:
                    results["PostgreSQL"] = measure(store, args.sites, args.visits,
                                                    args.rounds, Path(tmp))
                finally:
                    store.close()
    print(f"{args.sites} sites x {args.visits} visits, {args.rounds} rounds")
    print("| | " + " | ".join(results) + " |")
    print("|---|" + "---:|" * len(results))
    for key in next(iter(results.values())):
        print(f"| {key} | " + " | ".join(r[key] for r in results.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
