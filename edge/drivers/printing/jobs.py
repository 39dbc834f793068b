"""One printer's job book: the tickets it owes, the reprints it remembers, those it is done with.

The worker's thread is its only user. A ticket is owed until it is printed or voided; a
reprint is remembered in a small file (reprints.py) so that a restart never takes it for
a new, overdue ticket and voids the paper the visitor holds.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zoneinfo
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from edge.drivers.printing.content import TicketJob
from edge.drivers.printing.reprints import load_reprints, save_reprints

logger = logging.getLogger(__name__)

_HANDLED_KEPT = 20_000


@dataclass
class Pending:
    job: TicketJob
    deadline: float          # monotonic seconds: void (or give up a reprint) after this
    attempts: int = 0
    problem: str = ""


class JobBook:
    """The tickets one printer owes, oldest first, and what it remembers about the others."""

    def __init__(self, name: str, *, void_after_s: float, wall_ms: Callable[[], int],
                 zone: zoneinfo.ZoneInfo, reprints_file: Path | None) -> None:
        self.name = name
        self.void_after_s = void_after_s
        self._wall_ms = wall_ms
        self._zone = zone
        self.pending: "OrderedDict[int, Pending]" = OrderedDict()
        # Tickets asked to be printed again (already printed once): never voided; the engine
        # lists them among its print jobs like new ones, so remember them here -- and in
        # `reprints_file`, so a restart does not take a pending reprint for a new, overdue
        # ticket and void the paper the visitor holds.
        self._reprints_file = reprints_file
        self.reprints, self.abandoned = load_reprints(reprints_file, name)
        # Tickets already printed or voided: a ticket issued while the PrintJobs fetch runs
        # arrives twice (in the reply and as ticket.issued) and must print once.
        self._handled: "OrderedDict[int, None]" = OrderedDict()

    def first(self) -> Pending | None:
        """The oldest ticket owed, or None."""
        return next(iter(self.pending.values()), None)

    def add(self, data: dict[str, Any], *, reprint: bool) -> None:
        # `reprint`: someone asked for a copy just now (a ticket.reprint event), which also
        # retries a copy given up before. A fetched job the engine marks as printed before
        # is a reprint too, but one given up stays given up until a copy is asked again.
        asked = reprint
        reprint = reprint or data.get("reprint") is True
        try:
            job = TicketJob.from_event(data, reprint=reprint)
        except (ValueError, TypeError) as e:
            logger.error("%s: ignoring a malformed print job: %s", self.name, e)
            return
        if asked:
            self._handled.pop(job.ticket_id, None)
            if job.ticket_id not in self.reprints or job.ticket_id in self.abandoned:
                self.reprints.add(job.ticket_id)
                self.abandoned.discard(job.ticket_id)
                self._save()
        elif job.ticket_id in self._handled:
            return
        elif reprint or job.ticket_id in self.reprints:
            if job.ticket_id in self.abandoned:
                return
            job = TicketJob.from_event(data, reprint=True)
        if job.ticket_id in self.pending:
            return
        self.pending[job.ticket_id] = Pending(job, self._deadline(job))

    def _deadline(self, job: TicketJob) -> float:
        """Monotonic time after which the ticket is voided: void_after_s after it was issued."""
        if job.reprint:
            return time.monotonic() + self.void_after_s
        age = 0.0
        if job.issued_at:
            try:
                issued = dt.datetime.fromisoformat(job.issued_at)
                if issued.tzinfo is None:
                    issued = issued.replace(tzinfo=self._zone)
                age = self._wall_ms() / 1000 - issued.timestamp()
            except ValueError:
                logger.warning("%s: bad issued_at %r on %s", self.name, job.issued_at, job.ticket)
        # A clock step must not void fresh tickets nor keep old ones forever.
        age = min(max(age, 0.0), self.void_after_s * 10)
        return time.monotonic() + self.void_after_s - age

    def take_overdue(self, now: float) -> list[Pending]:
        """The tickets past their deadline, no longer owed (the worker voids or gives up each)."""
        overdue = [p for p in self.pending.values() if now >= p.deadline]
        for p in overdue:
            del self.pending[p.job.ticket_id]
        return overdue

    def abandon(self, ticket_id: int) -> None:
        """A reprint given up: remembered so that a fetch does not owe it again."""
        self.abandoned.add(ticket_id)
        self._save()

    def drop(self, ticket_id: int) -> None:
        """A ticket that can never print (it would not render): done with it."""
        del self.pending[ticket_id]
        self.mark_handled(ticket_id)

    def printed(self, ticket_id: int) -> None:
        del self.pending[ticket_id]
        self.mark_handled(ticket_id)
        if ticket_id in self.reprints:
            self.reprints.discard(ticket_id)
            self._save()

    def mark_handled(self, ticket_id: int) -> None:
        self._handled[ticket_id] = None
        while len(self._handled) > _HANDLED_KEPT:   # a day's tickets, many times over
            self._handled.popitem(last=False)

    def still_owed(self, jobs: list[dict[str, Any]]) -> None:
        """After a fetch of the engine's print jobs: a remembered reprint the engine no
        longer owes (printed, or the ticket finished) need not be remembered any more."""
        owed = {int(d["ticket_id"]) for d in jobs if d.get("ticket_id") is not None}
        gone = {t for t in self.reprints if t not in owed and t not in self.pending}
        if gone:
            self.reprints -= gone
            self.abandoned -= gone
            self._save()

    def _save(self) -> None:
        save_reprints(self._reprints_file, self.reprints, self.abandoned, self.name)
