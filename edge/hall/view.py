"""What the hall page shows, computed from a queue snapshot (pure apart from the clock passed in).

Rule for the list of last calls: the newest `rows` calls are listed, newest first; a call
stays listed and highlighted for at least `min_show_s` after it first appeared, even if
more calls follow at once (the list then grows for a moment) — a visitor looking up
must not miss their number (QSystem keeps a call up at least 7 s).

A visitor's refusal at the kiosk or a ticket button (edge/kiosk/notices.py) shows as a
banner in every language of the page for its few seconds, then goes; a newer one
replaces it. Masked IIN entries are not shown here (that is the kiosk's board line).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

LABELS: dict[str, dict[str, str]] = {
    "kk": {"ticket": "Талон", "window": "Терезе", "waiting": "Кезекте",
           "calls": "Шақырылды", "empty": "Әзірге шақырылған жоқ", "offline": "Байланыс жоқ",
           "windows": "Терезелер", "paused": "Үзіліс"},
    "ru": {"ticket": "Талон", "window": "Окно", "waiting": "В очереди",
           "calls": "Вызваны", "empty": "Вызовов пока нет", "offline": "Нет связи",
           "windows": "Окна", "paused": "Перерыв"},
    "en": {"ticket": "Ticket", "window": "Window", "waiting": "Waiting",
           "calls": "Called", "empty": "No calls yet", "offline": "Offline",
           "windows": "Windows", "paused": "Break"},
}

# ticket, window, calls, when (effective ms): one call. A recall is a new entry, and so is
# the same ticket's first call again after a no-show came back, a transfer or a park: the
# first three alone would match the old call, and the new one would not be highlighted.
CallKey = tuple[str, int, int, int]


@dataclass(frozen=True)
class HallCall:
    ticket: str
    window: int
    service: str
    calls: int
    fresh: bool


class HallView:
    """Turns snapshots into the page's state; remembers when each call first appeared."""

    def __init__(self, *, rows: int, min_show_s: float, languages: Sequence[str],
                 center_names: dict[str, str], show_waiting: bool = True,
                 keepalive_s: float = 15.0) -> None:
        self.rows = rows
        self.min_show = min_show_s
        self.languages = list(languages)
        self.center_names = dict(center_names)
        self.show_waiting = show_waiting
        self.keepalive_s = keepalive_s
        self._first_seen: dict[CallKey, float] = {}

    def baseline(self, calls: Iterable[Any]) -> None:
        """Calls already made before the page started are shown, but not as new."""
        for c in calls:
            self._first_seen.setdefault((c.ticket, c.window, c.calls, c.at_ms), float("-inf"))

    def calls(self, recent: Sequence[Any], now: float) -> tuple[list[HallCall], float | None]:
        """The calls to list (newest first) and when the list next changes by itself."""
        seen_tickets: set[str] = set()
        entries: list[tuple[Any, CallKey]] = []
        for c in recent:  # newest first; a recall supersedes the earlier call of the ticket
            if c.ticket in seen_tickets:
                continue
            seen_tickets.add(c.ticket)
            entries.append((c, (c.ticket, c.window, c.calls, c.at_ms)))
        keys = {k for _, k in entries}
        for k in [k for k in self._first_seen if k not in keys]:
            del self._first_seen[k]
        shown: list[HallCall] = []
        next_change: float | None = None
        for i, (c, key) in enumerate(entries):
            first = self._first_seen.setdefault(key, now)
            until = first + self.min_show
            fresh = now < until
            if fresh:
                next_change = until if next_change is None else min(next_change, until)
            if i < self.rows or fresh:
                shown.append(HallCall(c.ticket, c.window, c.service, c.calls, fresh))
        return shown, next_change

    def state(self, snapshot: Any, now: float,
              notice: Any = None) -> tuple[dict[str, Any], float | None]:
        """The JSON-able page state (no personal data: tickets, windows, counts only);
        `notice`: the newest visitor notice (shown while it lasts)."""
        calls, next_change = self.calls(snapshot.recent_calls, now)
        banner = None
        if notice is not None and notice.kind in ("refused", "info") and notice.live(now):
            banner = notice.view(self.languages)
            next_change = notice.until if next_change is None else min(next_change, notice.until)
        services = [{"id": s.id, "prefix": s.prefix,
                     "names": {lang: s.names.get(lang, "") for lang in self.languages},
                     "waiting": int(s.waiting)} for s in snapshot.services]
        state = {
            "v": 1,
            "day": snapshot.day,
            "languages": self.languages,
            "center": {lang: self.center_names.get(lang, "") for lang in self.languages},
            "labels": {lang: LABELS[lang] for lang in self.languages},
            "rows": self.rows,
            "keepalive_ms": int(self.keepalive_s * 1000),
            "calls": [{"ticket": c.ticket, "window": c.window, "service": c.service,
                       "recall": c.calls > 1, "fresh": c.fresh, "newest": i == 0 and c.fresh}
                      for i, c in enumerate(calls)],
            # Each working window and the ticket at it now (closed windows are left out:
            # a visitor looks for their number, not for an empty counter).
            "windows": [{"number": w.number, "label": w.label, "paused": w.state == "paused",
                         "ticket": w.ticket}
                        for w in snapshot.windows if w.state in ("open", "paused")],
            "show_waiting": self.show_waiting,
            "services": services if self.show_waiting else [],
            "waiting_total": int(snapshot.waiting_total) if self.show_waiting else None,
            "notice": banner,
        }
        return state, next_change
