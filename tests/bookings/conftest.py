"""Fixtures for bookings and day policies: a demo-like center with bookings, on a real
database file, driven by a manual clock (the root conftest's ManualClock at Monday 09:00)."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from edge.clock import ManualClock
from edge.config import AppConfig, parse_config
from edge.controller import Applied
from edge.errors import CommandError
from edge.queue import commands as c
from edge.queue.bookings import IIN_WEIGHTS_1, IIN_WEIGHTS_2
from tests.conftest import Harness

TODAY = "2026-11-23"          # the Monday of MONDAY_9AM_MS
TOMORROW = "2026-11-24"
YESTERDAY = "2026-11-22"
SECRET = "kezek-test-site-secret-0123456789abcdef"


def make_iin(first11: str) -> str:
    """A valid IIN from 11 digits (adds the check digit; raises if none exists)."""
    digits = [int(ch) for ch in first11]
    check = sum(w * d for w, d in zip(IIN_WEIGHTS_1, digits)) % 11
    if check == 10:
        check = sum(w * d for w, d in zip(IIN_WEIGHTS_2, digits)) % 11
        if check == 10:
            raise ValueError("no valid check digit")
    return first11 + str(check)


def base_config(secret_file: Path | None) -> dict[str, Any]:
    import tomllib
    root = Path(__file__).resolve().parents[2]
    data = tomllib.loads((root / "config" / "demo.toml").read_text(encoding="utf-8"))
    data.pop("policies", None)
    data["bookings"] = {"early_min": 30, "late_min": 15, "late_action": "walk_in"}
    if secret_file is not None:
        data["bookings"]["iin_secret_file"] = str(secret_file)
    return data


def booking(code: str, slot: str = "10:00", *, service: str = "docs", day: str = TODAY,
            **extra: Any) -> dict[str, Any]:
    return {"code": code, "service": service, "date": day, "slot_start": slot,
            "slot_minutes": 15, **extra}


class Center(Harness):
    """The root Harness with a long tick interval: the tests tick by hand, so results do
    not depend on timing; plus the helpers the bookings tests read best with."""

    def __init__(self, config: AppConfig, db_path: Path, clock: ManualClock) -> None:
        super().__init__(config, db_path, clock, tick_interval_s=3600)

    def refused(self, command: c.Command) -> CommandError:
        with pytest.raises(CommandError) as e:
            self.call(command)
        return e.value

    def tick(self, seconds: float = 0) -> Applied:
        self.clock.advance(seconds)
        return self.call(c.Tick())

    def label(self, command: c.Command) -> str:
        a = self.call(command)
        assert a.reply.ticket is not None, a.reply
        return a.reply.ticket.label

    def at(self, hhmm: str, day: str = TODAY) -> None:
        """Move the clock forward to local time hhmm (Asia/Almaty, UTC+5) on `day`."""
        h, m = (int(x) for x in hhmm.split(":"))
        d = dt.date.fromisoformat(day)
        target = int(dt.datetime(d.year, d.month, d.day, h, m,
                                 tzinfo=dt.timezone(dt.timedelta(hours=5))).timestamp() * 1000)
        assert target >= self.clock.wall_ms, "the test clock only goes forward"
        self.clock.advance((target - self.clock.wall_ms) / 1000)

    def events(self) -> list[Any]:
        return self.store.outbox()

    def types(self) -> list[str]:
        return [e.type for e in self.store.outbox()]


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    p = tmp_path / "iin_secret"
    p.write_text(SECRET + "\n", encoding="utf-8")
    p.chmod(0o600)
    return p


@pytest.fixture
def make_center(tmp_path: Path, clock: ManualClock, secret_file: Path
                ) -> Iterator[Callable[..., Center]]:
    """make_center(policies={...}, bookings={...}) -> a running Center (closed at the end)."""
    made: list[Center] = []

    def make(policies: dict[str, Any] | None = None, bookings: dict[str, Any] | None = None,
             edit: Callable[[dict[str, Any]], None] | None = None) -> Center:
        data = copy.deepcopy(base_config(secret_file))
        if policies:
            data["policies"] = policies
        if bookings:
            data["bookings"].update(bookings)
        if edit:
            edit(data)
        config = parse_config(data, "test")
        center = Center(config, tmp_path / f"kezek-{len(made)}.db", clock)
        made.append(center)
        return center

    yield make
    for center in made:
        center.close()
