"""The manager's figures on a hand-checked day (docs/manager.md explains every figure)."""

from __future__ import annotations

import zoneinfo
from typing import Any

import pytest

from edge.manager.day import CSV_COLUMNS, day_csv
from edge.manager.figures import Sla, day_figures, percentile
from tests.conftest import MONDAY_9AM_MS

MIN = 60_000
TZ = zoneinfo.ZoneInfo("Asia/Almaty")
SLAS = {"docs": Sla(max_wait_min=15, max_service_min=10)}   # realty: no SLA
NOW = MONDAY_9AM_MS + 110 * MIN                             # 10:50


def st(label: str, service: str, window: int | None, operator: str | None, queued: int,
       waited: int | None, served: int | None, outcome: str, *, rating: int | None = None,
       flag: int = 0, stage: int = 1) -> dict[str, Any]:
    """A stage row; times in minutes after 09:00."""
    called = None if waited is None else queued + waited
    return {"id": 0, "day": "2026-11-23", "ticket_id": 0, "stage": stage, "label": label,
            "visit": f"2026-11-23/{label}", "service": service, "category": "normal",
            "window": window, "operator": operator,
            "issued_ms": MONDAY_9AM_MS + queued * MIN, "queued_ms": MONDAY_9AM_MS + queued * MIN,
            "called_ms": None if called is None else MONDAY_9AM_MS + called * MIN,
            "started_ms": None, "ended_ms": None, "outcome": outcome,
            "waited_ms": None if waited is None else waited * MIN,
            "served_ms": None if served is None else served * MIN,
            "sla_breached": flag, "rating": rating}


# The day, by hand:                    queued waited served
DAY = [
    st("A-001", "docs", 1, "aigerim", 0, 2, 5, "done", rating=5),        # called 09:02
    st("A-002", "docs", 1, "aigerim", 6, 4, 12, "done", rating=3),       # 09:10, 12 > 10 min
    st("A-003", "docs", 2, "bolat", 4, 20, None, "no_show"),             # 09:24, 20 > 15 min
    st("A-004", "docs", 2, "bolat", 34, 6, 3, "transferred"),            # 09:40
    st("A-004", "realty", 2, "bolat", 64, 1, 8, "done", rating=4, stage=2),   # 10:05
    st("B-001", "realty", 1, None, 70, 30, 7, "done"),                   # 10:40, a keypad
    st("A-005", "docs", None, None, 90, None, None, "open"),             # waits 20 min by 10:50
    st("B-002", "realty", 1, None, 95, 10, None, "open", flag=1),        # 10:45, sla.visit alarm
]

COLS = ("key", "stages", "served", "no_shows", "transferred", "waiting", "wait_p50_ms",
        "wait_p90_ms", "wait_max_ms", "service_p50_ms", "service_p90_ms", "sla_breaches",
        "rating_avg", "ratings")
M = MIN
EXPECTED = {
    "services": [
        # key      stages srv ns tr wt  p50   p90    max    s50   s90  sla rating n
        ("docs",   5, 2, 1, 1, 1, 4 * M, 20 * M, 20 * M, 5 * M, 12 * M, 3, 4.0, 2),
        ("realty", 3, 2, 0, 0, 0, 10 * M, 30 * M, 30 * M, 7 * M, 8 * M, 1, 4.0, 1),
    ],
    "windows": [
        (1, 4, 3, 0, 0, 0, 4 * M, 30 * M, 30 * M, 7 * M, 12 * M, 2, 4.0, 2),
        (2, 3, 1, 1, 1, 0, 6 * M, 20 * M, 20 * M, 8 * M, 8 * M, 1, 4.0, 1),
    ],
    "operators": [
        ("",        2, 1, 0, 0, 0, 10 * M, 30 * M, 30 * M, 7 * M, 7 * M, 1, None, 0),
        ("aigerim", 2, 2, 0, 0, 0, 2 * M, 4 * M, 4 * M, 5 * M, 12 * M, 1, 4.0, 2),
        ("bolat",   3, 1, 1, 1, 0, 6 * M, 20 * M, 20 * M, 8 * M, 8 * M, 1, 4.0, 1),
    ],
}


@pytest.mark.parametrize("table", sorted(EXPECTED))
def test_the_hand_checked_day(table: str) -> None:
    """Risk: a figure the manager acts on (a slow window, an operator's no-shows) is
    counted wrong: a percentile off by one rank, a transfer counted as served, a waiting
    visitor over the SLA missed, a keypad's visits lost from the operators' table."""
    got = day_figures(DAY, SLAS, NOW, TZ)[table]
    assert [tuple(row[c] for c in COLS) for row in got] == EXPECTED[table]


def test_the_day_as_a_whole_and_through_the_hours() -> None:
    got = day_figures(DAY, SLAS, NOW, TZ)
    total = got["total"]
    assert (total["served"], total["no_shows"], total["sla_breaches"], total["ratings"]) == (4, 1, 4, 3)
    assert total["rating_avg"] == 4.0
    assert got["hours"] == [
        {"hour": 9, "called": 4, "wait_p50_ms": 4 * M, "wait_p90_ms": 20 * M, "wait_max_ms": 20 * M},
        {"hour": 10, "called": 3, "wait_p50_ms": 10 * M, "wait_p90_ms": 30 * M, "wait_max_ms": 30 * M},
    ]


@pytest.mark.parametrize("values,p,expected", [
    ([], 50, None), ([7], 90, 7), ([1, 2, 3, 4], 50, 2), ([1, 2, 3, 4], 90, 4),
    ([4, 1, 3, 2], 50, 2), (list(range(1, 11)), 90, 9), (list(range(1, 11)), 50, 5),
])
def test_percentiles_are_nearest_rank(values: list[int], p: int, expected: int | None) -> None:
    assert percentile(values, p) == expected


def test_an_empty_day_has_no_figures_but_no_errors() -> None:
    got = day_figures([], SLAS, NOW, TZ)
    assert got["services"] == got["windows"] == got["operators"] == got["hours"] == []
    assert got["total"]["wait_p50_ms"] is None and got["total"]["rating_avg"] is None


def test_the_csv_has_one_row_per_stage_and_no_formula() -> None:
    """Risk: the spreadsheet a manager opens runs an operator id as a formula; a column
    shifts; a stage is missing."""
    rows = [*DAY, st("A-006", "docs", 3, "=HYPERLINK(1)", 100, 1, None, "open")]
    text = day_csv(rows, "Asia/Almaty")
    lines = text.split("\r\n")
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert len([ln for ln in lines[1:] if ln]) == len(rows)
    assert lines[1] == ("2026-11-23,A-001,1,2026-11-23/A-001,docs,normal,1,aigerim,09:00:00,"
                        "09:00:00,09:02:00,,,done,120,300,0,5")
    assert lines[5].startswith("2026-11-23,A-004,2,") and ",realty," in lines[5]
    assert lines[8].endswith(",open,600,,1,")
    assert "'=HYPERLINK(1)" in lines[9]
