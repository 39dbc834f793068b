"""The board's projection against what the store says, on both back-ends: a site that
sends nothing still ages (its longest wait grows, its visits turn overdue as the clock
passes their limits); one center's screen served from the fold equals the one read from
the store; the one-query read of every changed stream returns exactly each range; and the
moment a visit turns overdue (and whether a finished one overran) agrees with the full
assessment at every clock reading."""

from __future__ import annotations

import random
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge.central.livereads import new_events
from edge.central.reads import fold_visit
from edge.central.store import EventStore
from edge.central.web.board import Board
from edge.central.web.center import CenterDay, center_view
from edge.central.web.config import CentralWebConfig, Standard
from edge.central.web.fold import ALWAYS, assess, overdue_after, overran
from edge.sync.protocol import EventBatch

ALMATY = ZoneInfo("Asia/Almaty")
DAY = "2026-12-02"
STANDARDS = {"exam": {"max_wait_min": 30, "max_service_min": 20},
             "docs": {"visit_sla_min": 60}}
MIN = 60_000


def at(hhmm: str, day: str = DAY) -> int:
    return int(datetime.fromisoformat(f"{day}T{hhmm}:00").replace(tzinfo=ALMATY)
               .timestamp() * 1000)


class Edge:
    """One device's stream of events, stored batch by batch with growing seqs."""

    def __init__(self, store: EventStore, site: str, db: str = "card-a") -> None:
        self.store, self.site, self.db, self.seq = store, site, db, 0

    def send(self, *events: tuple[str, str, dict[str, Any]], day: str = DAY) -> None:
        first = self.seq + 1
        self.seq += len(events)
        self.store.store_batch(EventBatch.model_validate({
            "v": 1, "site": self.site, "device": "edge-1", "session": 1, "floor": 0,
            "db": self.db,
            "events": [{"v": 1, "id": f"{self.site}-{self.db}-{s}", "site": self.site,
                        "device": "edge-1", "seq": s, "boot": "b", "type": t,
                        "ts": at(hhmm, day), "mono_ms": 0, "clock_synced": True,
                        "hist": False, "data": data}
                       for s, (hhmm, t, data) in enumerate(events, first)]}))


def ticket(n: int, service: str, **more: Any) -> dict[str, Any]:
    return {"ticket_id": n, "ticket": f"A-{n:03d}", "service": service, "visit": f"v-{n}",
            **more}


def board(store: EventStore, tmp_path: Path, clock: list[int]) -> Board:
    cfg = CentralWebConfig.model_validate({
        "web": {"port": 0, "sessions": str(tmp_path / "s.db")}, "standards": STANDARDS})
    return Board(store, cfg, clock_ms=lambda: clock[0])


def from_scratch(store: EventStore, b: Board, site: str, now: int) -> list[dict[str, Any]]:
    """The open visits over their standard, assessed anew from the site's whole day."""
    return [a for v in store.visits(site, date.fromisoformat(DAY), now)
            if v["outcome"] is None and (a := assess(v, b.cfg.standards, now)) is not None]


def test_a_site_that_sends_nothing_still_ages_and_turns_overdue(store: EventStore,
                                                                tmp_path: Path) -> None:
    """Risk: a center whose edge went quiet shows the wait it had at its last event, and
    a visitor waiting past the standard never shows as over it."""
    quiet, busy = Edge(store, "ast-01"), Edge(store, "alm-02")
    quiet.send(("09:00", "ticket.issued", ticket(1, "exam")),
               ("09:05", "ticket.issued", ticket(2, "docs")))
    busy.send(("09:00", "ticket.issued", ticket(1, "docs")))
    clock = [at("09:10")]
    b = board(store, tmp_path, clock)

    def row(site: str) -> dict[str, Any]:
        state = b.refresh()
        return next(r for r in state["sites"] if r["site"] == site)

    r = row("ast-01")
    assert (r["waiting"], r["longest_wait_s"], r["overdue_now"]) == (2, 600, 0)
    # Only the other center sends; ast-01's rows age with the clock alone.
    for minute, (longest, overdue) in ((25, (1500, 0)), (31, (1860, 1)), (66, (3960, 2))):
        clock[0] = at("09:00") + minute * MIN
        busy.send(("09:00", "ticket.issued", ticket(100 + minute, "docs")))
        r = row("ast-01")
        assert (r["longest_wait_s"], r["overdue_now"]) == (longest, overdue), minute
        assert ("overdue" in r["problems"]) == (overdue > 0)
        assert r["overdue_now"] == len(from_scratch(store, b, "ast-01", clock[0]))
        assert b.last["overdue_open"] == sum(
            len(from_scratch(store, b, s, clock[0])) for s in ("ast-01", "alm-02"))
    listed = {v["ticket"]: v for v in b.last["overdue"] if v["site"] == "ast-01"}
    assert listed["A-001"]["overran"] == ["waiting"] and not listed["A-001"]["visit_over"]
    assert listed["A-002"]["visit_over"] and listed["A-002"]["elapsed_s"] == 61 * 60
    # Called after 40 minutes: the wait that overran stays over, whatever the time.
    quiet.send(("09:40", "ticket.called", ticket(1, "exam", window=2, calls=1, wait_s=2400)))
    clock[0] = at("09:41")
    r = row("ast-01")
    assert (r["waiting"], r["overdue_now"]) == (1, 1)
    assert r["overdue_now"] == len(from_scratch(store, b, "ast-01", clock[0]))
    # It ends: no longer open, counted among the day's overruns and listed as finished.
    quiet.send(("09:45", "ticket.done", ticket(1, "exam", window=2, service_s=300)))
    clock[0] = at("09:46")
    r = row("ast-01")
    assert (r["overdue_now"], r["overran_today"]) == (0, 1)
    done = [v for v in b.last["overdue"] if v["site"] == "ast-01" and v["ticket"] == "A-001"]
    assert len(done) == 1 and done[0]["outcome"] == "done"
    assert b.late_of("ast-01")[-1]["ticket"] == "A-001"


def test_a_center_screen_from_the_fold_equals_the_one_read_from_the_store(
        store: EventStore, tmp_path: Path) -> None:
    """Risk: the screen served from memory drifts from what the store holds (operators,
    percentiles, the chart, alarms), or a past day's report shows today's figures."""
    edge = Edge(store, "ast-01")
    edge.send(("09:00", "ticket.issued", ticket(1, "exam")),
              ("09:01", "window.opened", {"window": 3, "operator": "op-7"}),
              ("09:10", "ticket.called", ticket(1, "exam", window=3, calls=1, wait_s=600)),
              ("09:30", "ticket.done", ticket(1, "exam", window=3, service_s=1200)),
              ("09:31", "rating.recorded", ticket(1, "exam", window=3, score=4)),
              ("09:40", "alarm.raised", {"alarm": "printer.kiosk", "severity": "warning",
                                         "message": "out of paper"}))
    edge.send(("08:00", "ticket.issued", ticket(9, "docs")),
              ("08:20", "ticket.called", ticket(9, "docs", window=1, calls=1, wait_s=1200)),
              day="2026-12-01")                    # yesterday's, on the same stream
    store.put_state("ast-01", "edge-1", True, 1)
    store.put_health("ast-01", "edge-1", {"v": 1, "summary": {"alarms": ["storage.low"]},
                                          "queue": {"windows": [{"number": 3, "state": "open",
                                                                 "ticket": "A-002"}],
                                                    "services": [{"id": "exam",
                                                                  "waiting": 1}]}})
    clock = [at("10:00")]
    b = board(store, tmp_path, clock)

    def same() -> dict[str, Any]:
        b.refresh()
        served = b.center("ast-01")
        read = center_view(store, "ast-01", date.fromisoformat(DAY), clock[0], ALMATY)
        assert {k: v for k, v in served.items() if k not in ("row", "overdue")} == read
        assert served["row"] is not None and served["row"]["site"] == "ast-01"
        return served

    first = same()
    assert first["per_operator"]["op-7"]["calls"] == 1
    # A new database on the same device (stream edge-1~2) and more of the day.
    card = Edge(store, "ast-01", db="card-b")
    card.send(("10:01", "ticket.issued", ticket(2, "exam")),
              ("10:02", "ticket.called", ticket(2, "exam", window=3, calls=1, wait_s=60)),
              ("10:05", "ticket.done", ticket(2, "exam", window=3, service_s=180)),
              ("10:06", "alarm.cleared", {"alarm": "printer.kiosk"}))
    edge.send(("10:07", "ticket.issued", ticket(3, "docs")))
    clock[0] = at("10:10")
    later = same()
    assert later["per_service"]["exam"]["calls"] == 2
    assert later["per_operator"]["op-7"]["served"] == 2     # edge-1~2 is edge-1's window 3
    assert [a["raised"] for a in later["alarms"]] == [True, False]
    # Another day comes from the store, and only from that day's events.
    past = b.center("ast-01", date(2026, 12, 1))
    assert {k: v for k, v in past.items() if k not in ("row", "overdue")} == center_view(
        store, "ast-01", date(2026, 12, 1), clock[0], ALMATY)
    assert list(past["per_service"]) == ["docs"]


def test_one_query_reads_exactly_each_streams_range(store: EventStore) -> None:
    """Risk: the combined read returns a neighbour's events, a seq twice, another day's or
    a type not asked for, or misses one at a range's edge or between two queries."""
    for site in ("a-1", "b-2", "c-3"):
        e = Edge(store, site)
        e.send(*[("09:00", "ticket.issued", ticket(n, "docs")) for n in range(1, 11)],
               ("09:00", "ticket.printed", ticket(10, "docs")))        # a type not asked for
        e.send(("09:00", "ticket.issued", ticket(12, "docs")), day="2026-12-03")
    ranges = [("a-1", "edge-1", 0, 4), ("b-2", "edge-1", 4, 10), ("c-3", "edge-1", 9, 12),
              ("a-1", "nothing", 0, 5)]
    want = {("a-1", n) for n in range(1, 5)} | {("b-2", n) for n in range(5, 11)} | \
        {("c-3", 10)}                   # seq 11 is a print, seq 12 the next day's
    for per_query in ((512, 50_000), (1, 1), (2, 3)):
        got = [(site, e["seq"], e["stream"]) for site, events in
               new_events(store, date.fromisoformat(DAY), ranges, {"ticket.issued"},
                          per_query=per_query)
               for e in events]
        assert sorted(got) == got and len(got) == len(set(got)), per_query
        assert {(s, n) for s, n, _ in got} == want and {k for _, _, k in got} == {"edge-1"}


def test_the_moment_a_visit_turns_overdue_agrees_with_its_assessment() -> None:
    """Risk: the count of visits over standard (from each visit's moment) differs from
    the visits listed (assessed in full) as the clock moves, or a finished visit that
    overran is dropped as within its standard."""
    rng = random.Random(4)
    services = ("a", "b", "c")
    steps = ["ticket.called", "ticket.serving", "ticket.transferred", "ticket.parked",
             "ticket.unparked", "ticket.recalled"]
    for trial in range(300):
        standards = {s: Standard.model_validate({k: rng.choice((None, 5, 20)) for k in (
            "visit_sla_min", "max_wait_min", "max_service_min")}) for s in services}
        visits: dict[tuple[str, Any], dict[str, Any]] = {}
        ts = 0
        fold_visit(visits, {"type": "ticket.issued", "ts": ts, "stream": "e",
                            "data": {"ticket_id": 1, "service": rng.choice(services)}})
        for _ in range(rng.randint(0, 5)):
            ts += rng.randint(0, 30) * MIN
            fold_visit(visits, {"type": rng.choice(steps), "ts": ts, "stream": "e",
                                "data": {"ticket_id": 1, "service": rng.choice(services),
                                         "to_service": rng.choice(services), "window": 1}})
        v = visits[("e", 1)]
        if rng.random() < 0.3:        # it ends: overran() must agree with assess()
            fold_visit(visits, {"type": rng.choice(("ticket.done", "ticket.no_show")),
                                "ts": ts + rng.randint(0, 90) * MIN, "stream": "e",
                                "data": {"ticket_id": 1}})
            assert overran(v, standards) == (assess(v, standards, 0) is not None), (trial, v)
            continue
        due = overdue_after(v, standards)
        for now in sorted({ts + rng.randint(0, 120) * MIN for _ in range(6)} |
                          ({due, due + 1} if due not in (None, ALWAYS) else set())):
            if now < ts:
                continue
            over = assess(v, standards, now) is not None
            assert over == (due is not None and now > due), (trial, v, due, now)


def test_a_figure_no_clock_can_measure_still_counts() -> None:
    """Risk: one absurd wait_s from a broken edge (beyond 64 bits) stops the board's fold
    for the whole country."""
    figures = CenterDay(ALMATY)
    for n, wait in enumerate((10 ** 30, 60, -(10 ** 30)), 1):
        figures.add({"type": "ticket.called", "ts": at("09:00"), "stream": "edge-1",
                     "data": ticket(n, "docs", window=1, calls=1, wait_s=wait)})
    view = figures.view("ast-01", date.fromisoformat(DAY), at("10:00"), [])
    assert view["per_service"]["docs"]["calls"] == 3
    assert view["per_service"]["docs"]["wait_p50_s"] == 60
    assert view["waits_by_hour"][0]["calls"] == 3


def test_a_long_first_read_shows_the_centers_first(store: EventStore, tmp_path: Path) -> None:
    """Risk: a web process that starts folds the day for tens of seconds at national scale
    with the wall screen empty (no center, not even which are online)."""
    edge, other = Edge(store, "ast-01"), Edge(store, "alm-02")
    edge.send(("09:00", "ticket.issued", ticket(1, "exam")),
              ("09:02", "ticket.issued", ticket(2, "exam")))
    other.send(("09:05", "ticket.issued", ticket(1, "docs")))
    store.put_state("ast-01", "edge-1", True, at("09:00"))
    clock = [at("09:40")]
    cfg = CentralWebConfig.model_validate({
        "web": {"port": 0, "sessions": str(tmp_path / "s.db")}, "standards": STANDARDS})
    b = Board(store, cfg, clock_ms=lambda: clock[0], loading_after=3)
    early: list[dict[str, Any]] = []
    state = b.refresh(early=early.append)
    assert len(early) == 1 and early[0]["loading"] is True
    rows = {r["site"]: r for r in early[0]["sites"]}
    assert set(rows) == {"ast-01", "alm-02"} and rows["ast-01"]["online"] == 1
    assert rows["ast-01"]["longest_wait_s"] is None and rows["ast-01"]["overdue_now"] == 0
    # Then the day folded: the figures the fold gives, and no loading mark.
    assert "loading" not in state
    done = {r["site"]: r for r in state["sites"]}
    assert (done["ast-01"]["longest_wait_s"], done["ast-01"]["overdue_now"]) == (2400, 2)
    # A refresh with less to fold than that is not announced as loading.
    edge.send(("09:41", "ticket.issued", ticket(3, "exam")))
    clock[0] = at("09:42")
    b.refresh(early=early.append)
    assert len(early) == 1
