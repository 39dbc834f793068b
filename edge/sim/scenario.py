"""The day simulator's scenario file (TOML): arrivals, service times, breaks, bookings.

A scenario names the center config it runs against (services and windows come from
there) and adds what the config cannot know: how many people come each hour, how long
each service takes, when operators take breaks, who booked and who does not show up.
See docs/simulator.md for every key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, ValidationError, field_validator, model_validator

from edge.config import AppConfig, _explain, load_config
from edge.config.base import StrictModel
from edge.strict import DateText, PathText
from edge.errors import ConfigError

Clock = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="local time HH:MM")]


def minutes_of(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


class Fixed(StrictModel):
    dist: Literal["fixed"]
    mean: float = Field(gt=0, le=480, description="minutes, every visitor")


class Exponential(StrictModel):
    dist: Literal["exponential"]
    mean: float = Field(gt=0, le=480, description="mean minutes (many short visits, a few long)")


class LogNormal(StrictModel):
    dist: Literal["lognormal"]
    mean: float = Field(gt=0, le=480, description="mean minutes")
    sd: float = Field(le=480, description="standard deviation in minutes")

    @field_validator("sd")
    @classmethod
    def _spread(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("sd must be above 0; for the same time every visit use "
                             '{ dist = "fixed", mean = ... }')
        return v


class Uniform(StrictModel):
    dist: Literal["uniform"]
    min: float = Field(gt=0, le=480, description="shortest visit, minutes")
    max: float = Field(gt=0, le=480, description="longest visit, minutes")

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must not be below min ({self.min})")
        return self


DISTS = ("fixed", "exponential", "lognormal", "uniform")
ServiceTime = Annotated[Union[Fixed, Exponential, LogNormal, Uniform], Field(discriminator="dist")]


class ServiceLoad(StrictModel):
    id: str = Field(description="a service id of the center config")
    arrivals: dict[str, float] = Field(
        min_length=1,
        description='visitors per hour by local hour, e.g. { "09" = 30, "10" = 45 }; hours left '
                    'out get nobody')
    service_min: ServiceTime = Field(description="minutes at the window, e.g. "
                                                 '{ dist = "lognormal", mean = 8, sd = 4 }')
    sla_wait_min: float | None = Field(default=None, gt=0, le=480,
                                       description="longest acceptable wait; default scenario.sla_wait_min")
    booked_share: float | None = Field(default=None, ge=0, le=1,
                                       description="share of visitors who booked; default scenario.booked_share")
    benefit_share: float | None = Field(default=None, ge=0, le=1,
                                        description="share with a benefit category; default scenario.benefit_share")

    @field_validator("arrivals")
    @classmethod
    def _hours(cls, v: dict[str, float]) -> dict[str, float]:
        for hour, rate in v.items():
            if not (hour.isdigit() and 0 <= int(hour) <= 23):
                raise ValueError(f"hour {hour!r} must be 0..23 (e.g. \"09\")")
            if not 0 <= rate <= 2000:
                raise ValueError(f"hour {hour}: {rate} visitors per hour is outside 0..2000")
        return v


class Break(StrictModel):
    windows: list[int] = Field(min_length=1, description="window numbers taking this break")
    start: Clock
    minutes: int = Field(ge=1, le=240, description="length of the break")


class ScenarioHead(StrictModel):
    name: str = Field(min_length=1, max_length=100, description="shown on the report and chart")
    center: PathText = Field(description="center config (services, windows); relative to this file")
    date: DateText = Field(description="the simulated day (its weekday is shown)")
    open: Clock = Field(description="first ticket")
    close: Clock = Field(description="last ticket; windows then serve everyone still waiting")
    windows: int | None = Field(default=None, ge=1, le=99,
                                description="open windows (the first N of the center config; more "
                                            "are copies of windows 1, 2, ... in turn); default all")
    sla_wait_min: float = Field(default=20, gt=0, le=480, description="longest acceptable wait")
    walk_s: float = Field(default=30, ge=0, le=600, description="from the call to the window")
    recall_after_s: float = Field(default=40, ge=5, le=600,
                                  description="a called visitor who does not come is recalled after "
                                              "this, until the engine's recall limit marks a no-show")
    booked_share: float = Field(default=0.0, ge=0, le=1, description="share of visitors who booked")
    booked_no_show: float = Field(default=0.0, ge=0, le=1,
                                  description="share of bookings whose visitor never comes")
    slot_minutes: int = Field(default=15, ge=5, le=120, description="booking slot length")
    early_min: float = Field(default=10, ge=0, le=120,
                             description="booked visitors arrive up to this many minutes before the slot")
    no_show: float = Field(default=0.0, ge=0, le=1,
                           description="share of visitors who take a ticket and leave before their call")
    benefit_share: float = Field(default=0.0, ge=0, le=1,
                                 description="share of pensioners, people with disabilities, large families")
    overtime_max_min: int = Field(default=240, ge=0, le=720,
                                  description="stop serving this long after close; who is left is 'unserved'")
    sample_min: int = Field(default=5, ge=1, le=60, description="queue length sample interval (chart)")

    @model_validator(mode="after")
    def _hours_ok(self) -> "ScenarioHead":
        if minutes_of(self.close) <= minutes_of(self.open):
            raise ValueError(f"close ({self.close}) must be after open ({self.open})")
        return self


class Scenario(StrictModel):
    scenario: ScenarioHead
    services: list[ServiceLoad] = Field(min_length=1)
    breaks: list[Break] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> "Scenario":
        problems = scenario_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _span(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def scenario_problems(sc: "Scenario") -> list[str]:
    """What the keys cannot say one by one: arrivals outside the opening hours (those
    visitors would silently vanish), a service listed twice (its visitors would be counted
    twice), breaks outside the day or overlapping on one window (taken back to back)."""
    head = sc.scenario
    lo, hi = minutes_of(head.open), minutes_of(head.close)
    problems: list[str] = []
    first: dict[str, int] = {}
    for i, load in enumerate(sc.services):
        if load.id in first:
            problems.append(f"services.{i}.id: service {load.id!r} is already listed as "
                            f"services.{first[load.id]}; put all its arrivals in one [[services]] entry")
        first.setdefault(load.id, i)
        outside = sorted((h for h, rate in load.arrivals.items()
                          if rate > 0 and not (int(h) * 60 < hi and (int(h) + 1) * 60 > lo)), key=int)
        if outside:
            problems.append(f"services.{i}.arrivals: hour(s) {', '.join(outside)} lie outside "
                            f"open-close ({head.open}-{head.close}), so nobody would get a ticket "
                            f"then; remove them or move scenario.open / scenario.close")
    taken: dict[int, list[tuple[int, int, int]]] = {}
    for i, b in enumerate(sc.breaks):
        start = minutes_of(b.start)
        if not lo <= start < hi:
            problems.append(f"breaks.{i}.start: {b.start} is outside open-close "
                            f"({head.open}-{head.close}); a break starts while the center is open")
        for w in b.windows:
            for j, s, e in taken.get(w, []):
                if start < e and s < start + b.minutes:
                    problems.append(f"breaks.{i}: window {w} is already on break "
                                    f"{_span(s)}-{_span(e)} (breaks.{j}); make the breaks "
                                    "not overlap or merge them")
            taken.setdefault(w, []).append((i, start, start + b.minutes))
    return problems


def load_scenario(path: Path, windows: int | None = None) -> tuple[Scenario, AppConfig]:
    """Read and check a scenario and its center config; ConfigError names every problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found; an example is config/sim-monday.toml"]) from None
    except OSError as e:
        raise ConfigError(str(path), [f"cannot read the scenario: {e.strerror}; pass the path of "
                                      "a .toml scenario (an example: config/sim-monday.toml)"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), [f"not valid TOML: {e}"]) from None
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            if err.get("type") == "value_error" and not err.get("loc"):
                # scenario_problems: already "key: what is wrong; the fix", one per "; "
                problems += str(err["msg"]).removeprefix("Value error, ").split("\n")
            else:
                # service_min.<variant>.sd -> service_min.sd: the variant is no key in the file
                loc = tuple(part for i, part in enumerate(err.get("loc", ()))
                            if not (i and err["loc"][i - 1] == "service_min" and part in DISTS))
                problems.append(_explain({**err, "loc": loc}, data))
        raise ConfigError(str(path), problems) from None
    if windows is not None:
        sc = sc.model_copy(update={"scenario": sc.scenario.model_copy(update={"windows": windows})})
    center_path = sc.scenario.center if sc.scenario.center.is_absolute() \
        else path.parent / sc.scenario.center
    try:
        config = load_config(center_path)
    except ConfigError as e:
        raise ConfigError(str(path), [f"scenario.center = {str(sc.scenario.center)!r} "
                                      f"({center_path}): {p}" for p in e.problems]) from None
    problems = center_problems(sc, config, str(center_path))
    ids = {s.id for s in config.services}
    for i, s in enumerate(sc.services):
        if s.id not in ids:
            problems.append(f"services.{i}.id: no service {s.id!r} in {center_path} "
                            f"(services: {', '.join(sorted(ids))})")
    configured = {w.number for w in config.windows}
    for i, b in enumerate(sc.breaks):
        for w in b.windows:
            if w not in configured:
                problems.append(f"breaks.{i}.windows: no window {w} in {center_path} "
                                f"(windows: {', '.join(str(n) for n in sorted(configured))})")
    if not problems:
        config, sc = _open_windows(config, sc)
    if problems:
        raise ConfigError(str(path), problems)
    return sc, config


def center_problems(sc: Scenario, config: AppConfig, center: str) -> list[str]:
    """Scenario keys the center's own policies would turn into refusals mid-run (the engine
    refusing a recall or a start is no fact about the day, only a scenario that cannot be
    played), and a day the center is closed (nobody would get a ticket)."""
    head, pol = sc.scenario, config.policies
    problems: list[str] = []
    if pol.recall_min_interval_s and head.recall_after_s < pol.recall_min_interval_s:
        problems.append(f"scenario.recall_after_s: {head.recall_after_s:g} s is shorter than the "
                        f"center's policies.recall_min_interval_s ({pol.recall_min_interval_s} s), "
                        f"which refuses such a recall; set it to {pol.recall_min_interval_s} or more")
    if pol.no_show_after_s and head.walk_s >= pol.no_show_after_s:
        problems.append(f"scenario.walk_s: {head.walk_s:g} s reaches the center's "
                        f"policies.no_show_after_s ({pol.no_show_after_s} s): every called visitor "
                        f"would be a no-show before reaching the window; set it below "
                        f"{pol.no_show_after_s}")
    day = head.date
    weekday = day.strftime("%A")
    if day in pol.closed_dates:
        problems.append(f"scenario.date: {day} is in the center's policies.closed_dates ({center}): "
                        "nobody gets a ticket that day; pick another date")
    elif pol.hours is not None:
        hours = pol.hours.get(weekday[:3].lower())  # type: ignore[call-overload]
        if hours is None:
            problems.append(f"scenario.date: {day} is a {weekday}, when the center is closed "
                            f"(no {weekday[:3].lower()} in policies.hours of {center}); pick a "
                            "working day or add its hours there")
        elif (minutes_of(head.open) < minutes_of(hours.open)
              or minutes_of(head.close) > minutes_of(hours.close)):
            problems.append(f"scenario.open / scenario.close: {head.open}-{head.close} is outside "
                            f"the center's hours on {weekday} ({hours.open}-{hours.close}, "
                            f"policies.hours.{weekday[:3].lower()} in {center}), when the engine "
                            "issues no tickets; keep them within those hours")
    return problems


def _open_windows(config: AppConfig, sc: Scenario) -> tuple[AppConfig, Scenario]:
    """Apply scenario.windows; breaks follow: a copy of window 1 takes window 1's breaks,
    breaks of windows not open in this run are dropped."""
    sources = copy_sources(config, sc.scenario.windows)
    opened = with_windows(config, sc.scenario.windows)
    breaks = []
    for b in sc.breaks:
        numbers = [n for n, src in sources.items() if src in b.windows]
        if numbers:
            breaks.append(b.model_copy(update={"windows": numbers}))
    return opened, sc.model_copy(update={"breaks": breaks})


def copy_sources(config: AppConfig, n: int | None) -> dict[int, int]:
    """Window number open in the run -> the configured window it is (or copies)."""
    base = [w.number for w in config.windows]
    n = len(base) if n is None else n
    out = {num: num for num in base[:n]}
    next_number = max(base) + 1
    i = 0
    while len(out) < n:
        out[next_number] = base[i % len(base)]
        next_number += 1
        i += 1
    return out


def with_windows(config: AppConfig, n: int | None) -> AppConfig:
    """The center with its first `n` windows open; beyond the configured ones, copies.

    Window N+1 copies window 1's services (with the next free number), N+2 copies
    window 2, and so on: "one more window like the ones we have".
    """
    if n is None or n == len(config.windows):
        return config
    base = list(config.windows)
    if n < len(base):
        return config.model_copy(update={"windows": base[:n]})
    out = list(base)
    next_number = max(w.number for w in base) + 1
    i = 0
    while len(out) < n:
        src = base[i % len(base)]
        out.append(src.model_copy(update={"number": next_number,
                                          "label": f"{next_number} (copy of {src.number})"}))
        next_number += 1
        i += 1
    return config.model_copy(update={"windows": out})
