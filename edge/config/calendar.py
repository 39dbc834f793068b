"""[calendar]: closed days, shortened days and duty hours, usually sent by central (cfg).

The weekly hours stay in [policies] hours; the calendar says where a date differs from
them. For one date, the first rule that names it wins: `closed`, then `days` (a date's
own hours: a shortened day before a holiday, a working Saturday), then `periods` (weekly
hours for a span of dates: a duty center open until 20:00 on weekdays and 09:00-13:00 on
Saturdays), then the weekly hours. See docs/config.md, "The calendar".
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field, model_validator

from edge.config.base import StrictModel
from edge.config.policies import DayHours, Weekday
from edge.strict import DateText


class CalendarDay(DayHours):
    """[[calendar.days]]: one date with its own hours (shortened, or open on a day off)."""

    date: DateText = Field(description="the date, YYYY-MM-DD")
    note: str | None = Field(default=None, max_length=120,
                             description="why, for people reading the file (e.g. 'before "
                                         "Nauryz')")


class HoursPeriod(StrictModel):
    """[[calendar.periods]]: weekly hours for the dates from `start` to `end` (inclusive)."""

    start: DateText = Field(description="first date of the period, YYYY-MM-DD")
    end: DateText = Field(description="last date of the period (inclusive), YYYY-MM-DD")
    hours: dict[Weekday, DayHours] = Field(
        min_length=1, description="hours per weekday (mon..sun) in this period, as in "
                                  "[policies.hours]; a weekday left out is closed")
    note: str | None = Field(default=None, max_length=120,
                             description="why, e.g. 'duty center, order of 12.01'")

    @model_validator(mode="after")
    def _order(self) -> "HoursPeriod":
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class CalendarConfig(StrictModel):
    """[calendar]: where the center's dates differ from its weekly hours."""

    closed: list[DateText] = Field(default_factory=list, max_length=366,
                                   description="dates the center is closed (holidays), "
                                               "besides policies.closed_dates")
    days: list[CalendarDay] = Field(default_factory=list, max_length=366,
                                    description="dates with their own hours")
    periods: list[HoursPeriod] = Field(default_factory=list, max_length=32,
                                       description="weekly hours for spans of dates")

    @model_validator(mode="after")
    def _one_rule_per_date(self) -> "CalendarConfig":
        problems = []
        closed = set(self.closed)
        seen: set[dt.date] = set()
        for i, d in enumerate(self.days):
            if d.date in closed:
                problems.append(f"days[{i}]: {d.date} is also in closed; keep one of them")
            if d.date in seen:
                problems.append(f"days[{i}]: {d.date} is given twice")
            seen.add(d.date)
        spans = sorted((p.start, p.end, i) for i, p in enumerate(self.periods))
        for (s1, e1, i1), (s2, _, i2) in zip(spans, spans[1:]):
            if s2 <= e1:
                problems.append(f"periods[{i2}] overlaps periods[{i1}] ({s2} is within "
                                f"{s1}..{e1}); a date belongs to one period")
        if problems:
            raise ValueError("; ".join(problems))
        return self
