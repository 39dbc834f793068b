"""What the kiosk page shows, from a queue snapshot and the applied config (pure).

The page's state: the services a visitor may choose (names, prefix, how many wait,
booked visitors only), the categories, whether the center is open now (else when it
opens), whether the kiosk's printer can print (else why, in every language), and a
notice from the kiosk's own hardware (a ticket button beside the screen). No personal
data: services, counts and codes only.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from edge.config.kiosk import KioskConfig
from edge.kiosk.notices import schedule_of
from edge.kiosk.texts import CATEGORIES, LABELS, sentence

# Sentences the page says by itself, before any request: a wrong check digit, too few digits.
LOCAL_CODES = ("bad_iin", "iin_short", "slow_down", "error")


class KioskView:
    def __init__(self, cfg: KioskConfig, center_names: dict[str, str]) -> None:
        self.cfg = cfg
        self.languages = list(cfg.languages)
        self.center_names = dict(center_names)
        self._policies: tuple[Any, Any] | None = None   # (config, its Policies), reused

    def services(self, snapshot: Any) -> list[Any]:
        """The services on the page, in the configured order (all of them by default)."""
        by_id = {s.id: s for s in snapshot.services}
        if not self.cfg.services:
            return list(snapshot.services)
        return [by_id[sid] for sid in self.cfg.services if sid in by_id]

    def _policies_of(self, config: Any) -> Any:
        """The engine's reading of the config's policies (a center-wide booking-only day
        included), made once per applied config."""
        if self._policies is None or self._policies[0] is not config:
            from edge.config.domain import policies_from_config
            self._policies = (config, policies_from_config(config, read_secret=False))
        return self._policies[1]

    def state(self, snapshot: Any, config: Any, wall_ms: int, printer: tuple[bool, str | None],
              notice: Any, now: float) -> tuple[dict[str, Any], float | None]:
        """The page's JSON state and when it next changes by itself (a notice ending)."""
        langs = self.languages
        how = dict(config.bookings.how_to_book or {})
        policies = self._policies_of(config)
        modes = {s.id: policies.mode_of(s.id) for s in snapshot.services}
        tz = zoneinfo.ZoneInfo(config.center.timezone)
        local = dt.datetime.fromtimestamp(wall_ms / 1000, tz)
        sched = schedule_of(config)
        is_open = sched.is_open(local)
        opens = None if is_open else sched.next_opening(local)
        ok, reason = printer
        shown = None
        next_change: float | None = None
        if notice is not None and notice.kind in ("refused", "info") and notice.live(now):
            shown = notice.view(langs)
            next_change = notice.until
        state = {
            "v": 1,
            "languages": langs,
            "center": {lang: self.center_names.get(lang, "") for lang in langs},
            "labels": {lang: LABELS[lang] for lang in langs},
            "services": [{"id": s.id, "prefix": s.prefix,
                          "names": {lang: s.names.get(lang, "") for lang in langs},
                          "waiting": int(s.waiting),
                          "booking_only": modes.get(s.id) == "booking_only"}
                         for s in self.services(snapshot)],
            "categories": [{"id": c, "names": {lang: CATEGORIES[c][lang] for lang in langs}}
                           for c in self.cfg.categories],
            "open": is_open,
            "opens": opens.strftime("%d.%m %H:%M") if opens is not None else None,
            "printer": {"name": self.cfg.printer, "ok": ok, "code": reason,
                        "texts": None if ok or reason is None else
                        {lang: sentence(reason, lang, {}, how) for lang in langs}},
            "checkin": {"iin": self.cfg.checkin_iin, "code": self.cfg.checkin_code},
            "texts": {code: {lang: sentence(code, lang, {}, how) for lang in langs}
                      for code in LOCAL_CODES},
            "notice": shown,
            "result_ms": int(self.cfg.result_s * 1000),
            "idle_ms": int(self.cfg.idle_s * 1000),
            "keepalive_ms": int(self.cfg.keepalive_s * 1000),
        }
        return state, next_change
