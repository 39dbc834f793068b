"""Fixtures for engine tests: the pure engine driven directly (decide + apply), no database."""

from __future__ import annotations

from typing import Any

import pytest

from edge.clock import ManualClock
from edge.errors import CommandError
from edge.queue import commands as c
from edge.queue.engine import Outcome, QueueEngine
from edge.queue.events import Event
from edge.queue.model import Service, Window, WindowState
from edge.queue.policies import Policies


class PureEngine:
    """Applies every outcome as the controller would after a successful commit."""

    def __init__(self, engine: QueueEngine, clock: ManualClock) -> None:
        self.engine = engine
        self.clock = clock
        self.events: list[Event] = []

    def do(self, command: c.Command) -> Outcome:
        if not isinstance(command, c.Tick) and self.engine.day_ends(self.clock.read()):
            self.do(c.Tick(source="day"))   # as the controller: the day's roll comes first
        out = self.engine.decide(command, self.clock.read())
        self.engine.apply(out)
        self.events.extend(out.events)
        return out

    def label(self, command: c.Command) -> str:
        out = self.do(command)
        assert out.reply.ticket is not None, out.reply
        return out.reply.ticket.label

    def refused(self, command: c.Command) -> CommandError:
        with pytest.raises(CommandError) as e:
            self.engine.decide(command, self.clock.read())
        return e.value

    def types(self) -> list[str]:
        return [e.type for e in self.events]


def small_center(**window_overrides: Any) -> tuple[list[Service], list[Window]]:
    services = [
        Service("docs", {"kk": "Құжаттар", "ru": "Документы"}, "A", avg_minutes=10),
        Service("realty", {"kk": "Мүлік", "ru": "Недвижимость"}, "B", avg_minutes=20),
        Service("tiny", {"kk": "Шағын", "ru": "Малый"}, "C", range_start=1, range_end=3),
    ]
    windows = [
        Window(1, "1", {"docs": 2, "realty": 1}, state=WindowState.OPEN),
        Window(2, "2", {"realty": 2, "docs": 0}, state=WindowState.OPEN),
        Window(3, "3", {"docs": 1, "realty": 1, "tiny": 1}, benefit=True, state=WindowState.OPEN),
    ]
    return services, windows


@pytest.fixture
def pure(clock: ManualClock) -> PureEngine:
    services, windows = small_center()
    return PureEngine(QueueEngine(services, windows, "Asia/Almaty", Policies(recall_limit=3)), clock)
