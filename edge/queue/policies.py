"""The day's rules as the engine uses them: hours and breaks, capacity stop, refusals.

Pure functions of local time and numbers; no clock reads. Kiosk texts for each refusal
code are here too, in the center's languages, so every front end says the same thing.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from edge.errors import CommandError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The four booking channels (domain.md): a check-in code works whatever the channel.
DEFAULT_HOW_TO_BOOK = {
    "kk": "Алдын ала жазылу: egov.kz порталы, eGov mobile қосымшасы, eGov Telegram-боты "
          "немесе 1414 нөмірі.",
    "ru": "Записаться можно на портале egov.kz, в приложении eGov mobile, в Telegram-боте "
          "eGov или по номеру 1414.",
    "en": "Book on egov.kz, in the eGov mobile app, with the eGov Telegram bot, or by "
          "calling 1414.",
}


@dataclass(frozen=True)
class ServiceRules:
    mode: str = "both"                 # both / booking_only / walk_in_only
    daily_cap: int | None = None
    max_wait_min: int | None = None
    max_service_min: int | None = None
    visit_sla_min: int | None = None
    slot_quota: int | None = None      # booked visitors per slot (docs/bookings.md)


Spans = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class HoursPeriod:
    """Weekly hours for the dates first..last (ISO, inclusive): a duty center's hours."""

    first: str
    last: str
    hours: dict[str, Spans]


@dataclass(frozen=True)
class Schedule:
    """Working spans (minutes from midnight, breaks cut out) per weekday, and the calendar:
    closed dates, dates with their own hours, periods with their own weekly hours.

    `hours is None` means open at all hours (on dates the calendar does not name): no
    closed times and no capacity stop.
    """

    hours: dict[str, Spans] | None = None
    closed_dates: frozenset[str] = frozenset()
    days: dict[str, Spans] = field(default_factory=dict)   # ISO date -> its own spans
    periods: tuple[HoursPeriod, ...] = ()

    @property
    def dated(self) -> bool:
        """Whether the calendar names any date."""
        return bool(self.closed_dates or self.days or self.periods)

    def spans(self, day: dt.date) -> Spans | None:
        """Working spans of `day`; () when closed; None when there are no hours at all.
        The first rule naming the date wins: closed, its own hours, a period, the week."""
        iso = day.isoformat()
        if iso in self.closed_dates:
            return ()
        own = self.days.get(iso)
        if own is not None:
            return own
        weekday = WEEKDAYS[day.weekday()]
        for p in self.periods:
            if p.first <= iso <= p.last:
                return p.hours.get(weekday, ())
        if self.hours is None:
            return None
        return self.hours.get(weekday, ())

    def slot_starts(self, day: dt.date, slot_min: int) -> list[int]:
        """The booking slots of `day` (their start minute): every `slot_min` from each
        working span's start; none without hours."""
        out: list[int] = []
        for start, end in self.spans(day) or ():
            out.extend(range(start, end, max(1, slot_min)))
        return out

    def open_span(self, day: dt.date) -> tuple[int, int] | None:
        """(opening, closing) minute of `day`, breaks ignored; None when closed all day."""
        spans = self.spans(day)
        if spans is None:
            return (0, 1440)
        if not spans:
            return None
        return (spans[0][0], spans[-1][1])

    def is_open(self, local: dt.datetime) -> bool:
        """Inside opening hours (a break counts as open: tickets are still taken)."""
        span = self.open_span(local.date())
        minute = local.hour * 60 + local.minute
        return span is not None and span[0] <= minute < span[1]

    def minutes_left(self, local: dt.datetime) -> float | None:
        """Working minutes from `local` to closing, breaks excluded; None: no hours set."""
        spans = self.spans(local.date())
        if spans is None:
            return None
        now = local.hour * 60 + local.minute + local.second / 60
        return sum(max(0.0, e - max(s, now)) for s, e in spans)

    def wall_minutes(self, local: dt.datetime, work: float) -> float:
        """Minutes on the clock from `local` until `work` working minutes have passed.

        The time before opening and the breaks pass with no one served: a visitor who
        takes a ticket at 13:05 with lunch until 14:00 waits at least 55 minutes. Work
        left after closing (the capacity stop normally prevents it) or on a day with no
        hours is counted as it comes: the estimate does not guess the next day.
        """
        spans = self.spans(local.date())
        if not spans:
            return work
        now = local.hour * 60 + local.minute + local.second / 60
        idle, left = 0.0, work      # minutes with no one served; work still to do
        for start, end in spans:
            if end <= now:
                continue
            if now < start:
                idle += start - now
                now = start
            if left <= end - now:
                break
            left -= end - now
            now = end
        return idle + work

    def next_opening(self, local: dt.datetime) -> dt.datetime | None:
        """The next moment the center opens after `local` (within two weeks), local time."""
        for i in range(0, 15):
            day = local.date() + dt.timedelta(days=i)
            span = self.open_span(day)
            if span is None:
                continue
            at = dt.datetime(day.year, day.month, day.day, tzinfo=local.tzinfo) + \
                dt.timedelta(minutes=span[0])
            if at > local:
                return at
        return None


def capacity_left(minutes_left: float, windows: int, avg_minutes: float, waiting: int,
                  booked_pending: int) -> int:
    """Visitors that can still be given a walk-in ticket today (QSystem's rule).

    (working minutes left x windows serving the service) / average minutes per visitor,
    minus those already waiting, minus booked visitors who have not arrived yet.
    """
    servable = math.floor(minutes_left * max(1, windows) / max(avg_minutes, 0.1))
    return servable - waiting - booked_pending


class Refusal(CommandError):
    """A policy refusal: `code` picks the kiosk text, `params` fill it (slot time, service)."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(code, message)
        self.params = params


_TEXTS: dict[str, dict[str, str]] = {
    "booking_only": {
        "kk": "Бұл қызмет тек алдын ала жазылғандарға көрсетіледі. {how_to_book}",
        "ru": "Эта услуга оказывается только по предварительной записи. {how_to_book}",
        "en": "This service is for booked visitors only. {how_to_book}",
    },
    # booking_only with scope "center": the whole center (policies.mode).
    "booking_only:center": {
        "kk": "Орталық тек алдын ала жазылу бойынша қабылдайды. {how_to_book}",
        "ru": "Центр принимает только по предварительной записи. {how_to_book}",
        "en": "This center serves booked visitors only. {how_to_book}",
    },
    "closed": {
        "kk": "Орталық қазір жабық. Ашылады: {opens}.",
        "ru": "Центр сейчас закрыт. Откроется: {opens}.",
        "en": "The center is closed now. It opens {opens}.",
    },
    "capacity_full": {
        "kk": "Бүгінге талондар бітті: жұмыс уақыты соңына дейін барлығына үлгермейміз. {how_to_book}",
        "ru": "Талоны на сегодня закончились: до конца рабочего дня всех принять не успеем. {how_to_book}",
        "en": "No more tickets today: there is not enough time left to serve another visitor. {how_to_book}",
    },
    "daily_cap": {
        "kk": "Бұл қызмет бойынша бүгінгі талондар саны шегіне жетті. {how_to_book}",
        "ru": "Лимит талонов на эту услугу на сегодня исчерпан. {how_to_book}",
        "en": "Today's ticket limit for this service is reached. {how_to_book}",
    },
    "too_early": {
        "kk": "Сіз {slot} уақытына жазылдыңыз. Тіркелу {from_time} бастап.",
        "ru": "Ваша запись на {slot}. Регистрация с {from_time}.",
        "en": "Your booking is at {slot}. Check-in opens at {from_time}.",
    },
    "too_late": {
        "kk": "Сіз кешіктіңіз (жазылу {slot}). Жаңа уақытқа жазылыңыз. {how_to_book}",
        "ru": "Вы опоздали (запись на {slot}). Запишитесь на другое время. {how_to_book}",
        "en": "You are late for your {slot} booking. Please book again. {how_to_book}",
    },
    "wrong_day": {
        "kk": "Сіздің жазылуыңыз {day} күніне.",
        "ru": "Ваша запись на {day}.",
        "en": "Your booking is for {day}.",
    },
    "booking_cancelled": {
        "kk": "Бұл жазылу жойылған.",
        "ru": "Эта запись отменена.",
        "en": "This booking was cancelled.",
    },
    "booking_rebooked": {
        "kk": "Бұл жазылу басқа уақытқа ауыстырылды. Жаңа жазылудың кодын пайдаланыңыз.",
        "ru": "Запись перенесена на другое время. Используйте код новой записи.",
        "en": "This booking was moved to another time. Use the new booking's code.",
    },
    "booking_expired": {
        "kk": "Бұл жазылудың мерзімі өтті.",
        "ru": "Срок этой записи истёк.",
        "en": "This booking has expired.",
    },
    "already_checked_in": {
        "kk": "Сіз тіркелгенсіз, талоныңыз {ticket}.",
        "ru": "Вы уже зарегистрированы, ваш талон {ticket}.",
        "en": "You are already checked in; your ticket is {ticket}.",
    },
    "other_center": {
        "kk": "Бұл жазылу басқа орталыққа.",
        "ru": "Эта запись в другой центр.",
        "en": "This booking is for another center.",
    },
    "unknown_booking": {
        "kk": "Жазылу табылмады.",
        "ru": "Запись не найдена.",
        "en": "No booking found.",
    },
    "bad_iin": {
        "kk": "ЖСН қате: 12 цифрды тексеріп, қайта енгізіңіз.",
        "ru": "Неверный ИИН: проверьте 12 цифр и введите снова.",
        "en": "Invalid IIN: check the 12 digits and try again.",
    },
}


def kiosk_text(code: str, lang: str, params: dict[str, Any] | None = None,
               how_to_book: dict[str, str] | None = None) -> str | None:
    """The kiosk's sentence for a refusal `code` in `lang`, or None if there is none."""
    scope = (params or {}).get("scope")
    texts = _TEXTS.get(f"{code}:{scope}") if scope else None
    texts = texts or _TEXTS.get(code)
    if texts is None:
        return None
    template = texts.get(lang) or texts["ru"]
    book = (how_to_book or {}).get(lang) or DEFAULT_HOW_TO_BOOK.get(lang) or DEFAULT_HOW_TO_BOOK["ru"]
    values = {"how_to_book": book, "slot": "", "from_time": "", "day": "", "ticket": "",
              "opens": "", **(params or {})}
    return template.format(**values).strip()


@dataclass(frozen=True)
class BookingRules:
    early_ms: int = 30 * 60_000
    late_ms: int = 15 * 60_000
    late_action: str = "walk_in"
    call_ahead_ms: int = 0
    how_to_book: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Policies:
    """The engine's share of the day policies: built from [policies] and [bookings] by
    edge/config/domain.py, so the engine never reads the config itself."""

    recall_limit: int = 3
    rating_window_s: int = 120
    recall_min_interval_s: int = 0
    no_show_after_s: int | None = None
    # Minutes after its no-show before a ticket may be called by number again (ZMS: 5);
    # it may go back to the end of its line at once. 0 = a no-show is final.
    no_show_return_min: int = 5
    schedule: Schedule = Schedule()
    capacity_stop: bool = True
    estimate_samples: int = 20
    services: dict[str, ServiceRules] = field(default_factory=dict)
    bookings: BookingRules = BookingRules()
    site: str | None = None
    # The site's IIN secret (HMAC key); never printed.
    iin_key: bytes | None = field(default=None, repr=False)
    # The whole center: both, or booking_only (walk-ins refused at every service but a
    # walk_in_only one); see mode_of.
    mode: str = "both"
    # Benefit categories still given a walk-in ticket where only booked visitors are served.
    walk_in_categories: frozenset[str] = frozenset()
    slot_ms: int = 15 * 60_000         # the booking slots' grid (slot quotas)

    def rules(self, service: str) -> ServiceRules:
        return self.services.get(service) or ServiceRules()

    def mode_of(self, service: str) -> str:
        """How `service` takes visitors today: its own walk_in_only wins (a center-wide
        booking-only day may keep, say, the pick-up of ready documents open to all);
        otherwise booking_only if the center or the service says so."""
        own = self.rules(service).mode
        if own == "walk_in_only":
            return own
        return "booking_only" if "booking_only" in (own, self.mode) else own


def local(eff_ms: int, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(eff_ms / 1000, tz)
