"""Notices for visitors: why a ticket was not issued, shown where the visitor stands.

A refusal is not a change of queue state: the engine refuses, nothing is committed, and
only the submitter's future learns why. The front ends a visitor uses (ticket buttons,
the scanner, the numeric keypad, the kiosk page) hand that answer to this small bus,
which words it in Kazakh, Russian and English once, and every visitor screen subscribed
shows it (the hall banner, a board line, the kiosk page) for a few seconds.

Subscribers run on the publisher's thread (often the controller's loop, in a future's
done-callback): they must only store and wake their own thread, like controller
listeners. Nothing here holds an IIN: refusals carry codes and the engine's params only.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import zoneinfo
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from edge.errors import CommandError
from edge.kiosk.texts import all_langs
from edge.queue.commands import Reconfigure
from edge.queue.policies import Refusal, Schedule

if TYPE_CHECKING:
    from edge.component import AppContext

logger = logging.getLogger(__name__)

REFUSED, INFO, ENTRY = "refused", "info", "entry"
# How long each kind stays up by default: long enough to read two sentences.
SHOW_S = {REFUSED: 10.0, INFO: 5.0, ENTRY: 20.0}
# Codes that say "no more tickets today": the answer adds when the center opens again.
NO_MORE_TODAY = ("capacity_full", "daily_cap", "numbers_exhausted")


@dataclass(frozen=True)
class Notice:
    seq: int
    kind: str                  # refused / info / entry
    code: str                  # the refusal code, or ticket_printing / iin_entry
    texts: dict[str, str]      # lang -> sentence
    short: dict[str, str]      # lang -> board line
    printer: str | None        # the kiosk it concerns (by its printer); None = no printer
    source: str                # the device: gpio:17, scanner:ttyUSB0, numpad:..., kiosk
    at: float                  # time.monotonic() when published
    show_s: float

    @property
    def until(self) -> float:
        return self.at + self.show_s

    def live(self, now: float) -> bool:
        return now < self.until

    def view(self, languages: list[str]) -> dict[str, Any]:
        """The JSON a page shows (no personal data: codes, tickets, times)."""
        return {"seq": self.seq, "kind": self.kind, "code": self.code,
                "texts": {lang: self.texts.get(lang, "") for lang in languages}}


Subscriber = Callable[[Notice], None]


def schedule_of(config: Any) -> Schedule:
    """The working days of a config ([policies] and the [calendar]), as the engine reads
    them: the one reading is edge.config.domain.schedule_from_config."""
    from edge.config.domain import schedule_from_config
    return schedule_from_config(config)


def next_opening_day(config: Any, wall_ms: int) -> str | None:
    """When the center opens on a later day than today ('24.11 09:00'), or None."""
    tz = zoneinfo.ZoneInfo(config.center.timezone)
    local = dt.datetime.fromtimestamp(wall_ms / 1000, tz)
    midnight = dt.datetime(local.year, local.month, local.day, tzinfo=tz) + dt.timedelta(days=1)
    sched = schedule_of(config)
    if sched.hours is None:
        return None       # open at all hours: no day to name
    at = sched.next_opening(midnight - dt.timedelta(microseconds=1))
    return at.strftime("%d.%m %H:%M") if at is not None else None


class Notices:
    """Component 'notices': the bus every visitor front end answers through."""

    name = "notices"

    def __init__(self, controller: Any, config: Any, clock: Any, *,
                 now: Callable[[], float] = time.monotonic,
                 show_s: dict[str, float] | None = None) -> None:
        self.controller = controller
        self.show_s = {**SHOW_S, **(show_s or {})}
        self.clock = clock
        self._config = config          # replaced by what the controller applies
        self._now = now
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []
        self._seq = 0
        self.counts: Counter[str] = Counter()
        self.last: Notice | None = None

    # -- component -------------------------------------------------------------------
    def start(self) -> None:
        self.controller.subscribe(self._on_applied)

    def stop(self, timeout: float = 5.0) -> None:
        pass

    def health(self) -> dict[str, Any]:
        last = self.last
        return {"ok": True, "published": dict(self.counts),
                "last": None if last is None else {"code": last.code, "kind": last.kind,
                                                   "source": last.source}}

    def _on_applied(self, applied: Any) -> None:
        # Controller loop: only note the config it applied (central's cfg, a SIGHUP): a
        # Reconfigure carries the whole AppConfig beside the engine's domain objects.
        if isinstance(applied.command, Reconfigure):
            self._config = applied.command.config

    # -- publishing --------------------------------------------------------------------
    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.append(subscriber)

    def publish(self, kind: str, code: str, params: dict[str, Any] | None = None, *,
                printer: str | None, source: str, show_s: float | None = None) -> Notice:
        """Word a notice in every language and hand it to every subscriber."""
        params = dict(params or {})
        if kind == REFUSED and code in NO_MORE_TODAY and "opens" not in params:
            try:
                opens = next_opening_day(self._config, self.clock.read().wall_ms)
            except Exception:  # a schedule problem must not cost the visitor the answer
                logger.exception("notices: cannot tell the next opening day")
                opens = None
            if opens:
                params["opens"] = opens
        how = dict(getattr(self._config.bookings, "how_to_book", {}) or {})
        texts, short = all_langs(code, params, how)
        with self._lock:
            self._seq += 1
            notice = Notice(self._seq, kind, code, texts, short, printer, source, self._now(),
                            self.show_s.get(kind, 8.0) if show_s is None else show_s)
            subscribers = list(self._subscribers)
            if kind != ENTRY:
                self.counts[code] += 1
                self.last = notice
        if kind == REFUSED:
            logger.info("visitor refused at %s: %s", source, code)
        for subscriber in subscribers:
            try:
                subscriber(notice)
            except Exception:  # one broken screen must not keep the others from the answer
                logger.exception("notice subscriber %r failed", subscriber)
        return notice

    def refusal(self, error: BaseException, *, printer: str | None, source: str) -> Notice:
        """Publish the refusal a command met (a Refusal, a CommandError, anything else)."""
        code, params = self.reason(error, printer)
        return self.publish(REFUSED, code, params, printer=printer, source=source)

    def after(self, fut: "Future[Any]", *, printer: str | None, source: str) -> Notice | None:
        """For a done-callback: publish the refusal if the command failed; None if it took."""
        error = fut.exception()
        if error is None:
            return None
        return self.refusal(error, printer=printer, source=source)

    def reason(self, error: BaseException, printer: str | None) -> tuple[str, dict[str, Any]]:
        """The code and params a visitor's text is made from."""
        if isinstance(error, Refusal):
            return error.code, dict(error.params)
        if isinstance(error, CommandError):
            if error.code == "printer_down":
                return self._printer_reason(printer), {}
            return error.code, {}
        return "error", {}

    def _printer_reason(self, printer: str | None) -> str:
        devices = getattr(self.controller.snapshot, "devices", {}) or {}
        detail = str((devices.get(f"printer:{printer}") or {}).get("detail", "")).lower()
        # "printer busy, off or out of paper" (a serial line held low) is not sure: generic.
        return "paper_out" if detail.startswith("out of paper") else "printer_down"

    def printer_state(self, printer: str | None) -> tuple[bool, str | None]:
        """(ok, reason code when not) of a kiosk printer as the queue knows it now."""
        if printer is None:
            return True, None
        devices = getattr(self.controller.snapshot, "devices", {}) or {}
        dev = devices.get(f"printer:{printer}")
        if dev is None or dev.get("ok", True):
            return True, None
        return False, self._printer_reason(printer)

    @property
    def config(self) -> Any:
        return self._config


def build(ctx: "AppContext") -> list[Notices]:
    return [Notices(ctx.controller, ctx.config, ctx.clock)]
