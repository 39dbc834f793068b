"""One printer's worker: its own thread and job list, status polling, reconnects, reprint or void.

The controller's listener only enqueues here; all printer I/O happens on this thread, so a
slow or dead printer never holds up the queue or the other printers. Outcomes go back to
the engine as commands: TicketPrinted, DeviceStatus (blocks ticket issue while down, raises
and clears the alarm) and VoidTicket.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import time
import zoneinfo
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Union

from edge.drivers.printing.content import TicketJob
from edge.drivers.printing.reprints import load_reprints, save_reprints
from edge.drivers.printing.transports.base import PrinterStatus, Transport
from edge.errors import CommandError, KezekError, PrinterError
from edge.queue.commands import Command, DeviceStatus, PrintJobs, TicketPrinted, VoidTicket
from edge.control import QueueControl
from edge.backoff import Backoff
from edge.worker import Worker

if TYPE_CHECKING:
    from edge.drivers.printing.render import Rendered
    from edge.drivers.printing.stored import GraphicsMemory

logger = logging.getLogger(__name__)

_STOP = object()
_HANDLED_KEPT = 20_000


@dataclass
class _Pending:
    job: TicketJob
    deadline: float          # monotonic seconds: void (or give up a reprint) after this
    attempts: int = 0
    problem: str = ""


class PrinterWorker:
    """Prints the tickets of one printer; a Component (name, start, stop, health)."""

    def __init__(self, printer: str, transport: Transport, controller: QueueControl, *,
                 render: Callable[[TicketJob], Union[bytes, "Rendered"]], void_after_s: float,
                 retry_interval_s: float, poll_interval_s: float = 5.0,
                 wall_ms: Callable[[], int] | None = None, timezone: str = "Asia/Almaty",
                 default: bool = False, blocked: str | None = None,
                 reprints_file: Path | None = None,
                 graphics: "GraphicsMemory | None" = None) -> None:
        self.printer = printer
        self.name = f"printer:{printer}"
        self.transport = transport
        self.controller = controller
        self.render = render
        self.graphics = graphics   # the fixed parts kept in the printer (stored.py), or None
        self.void_after_s = void_after_s
        self.retry_interval_s = retry_interval_s
        self.poll_interval_s = poll_interval_s
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self._zone = zoneinfo.ZoneInfo(timezone)
        self.default = default          # takes reprints that name no printer
        self._blocked = blocked         # a config problem: never print, report down
        self._inbox: "queue.Queue[Any]" = queue.Queue()
        self._pending: "OrderedDict[int, _Pending]" = OrderedDict()
        # Tickets asked to be printed again (already printed once): never voided; the engine
        # lists them among its print jobs like new ones, so remember them here -- and in
        # `reprints_file`, so a restart does not take a pending reprint for a new, overdue
        # ticket and void the paper the visitor holds.
        self._reprints_file = reprints_file
        self._reprints, self._abandoned = load_reprints(reprints_file, self.name)
        # Tickets already printed or voided: a ticket issued while the PrintJobs fetch runs
        # arrives twice (in the reply and as ticket.issued) and must print once.
        self._handled: "OrderedDict[int, None]" = OrderedDict()
        self._stop_by = 0.0      # monotonic: printing what is owed at a stop ends by then
        self.worker = Worker(f"kezek-{self.name}", self._run)
        # After an unexpected error the worker starts over after a growing pause; a ticket
        # that failed is tried again after its own growing pause (both capped at a minute).
        self._crash_backoff = Backoff(min(retry_interval_s, 60.0), 60.0)
        self._ticket_backoff = Backoff(min(retry_interval_s, 60.0), 60.0)
        self._healthy: bool | None = None
        self._detail = "starting"
        self._last_crash = ""   # the last unexpected error, logged with its traceback once
        self._need_fetch = True
        self._next_fetch = 0.0
        self._next_poll = 0.0
        self._retry_at = 0.0   # after a failed ticket: back off before trying again
        self.printed = 0
        self.failed = 0
        self.voided = 0

    # -- the controller's listener: runs on the loop thread, only enqueues -----------
    def on_applied(self, applied: Any) -> None:
        for event in applied.events:
            data = event.data
            if event.type == "ticket.issued" and data.get("printer") == self.printer:
                self._inbox.put(("issued", data))
            elif event.type == "ticket.reprint" and (
                    data.get("printer") == self.printer
                    or (data.get("printer") is None and self.default)):
                self._inbox.put(("reprint", data))

    # -- Component -------------------------------------------------------------------
    def start(self) -> None:
        self.worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        # Tickets already issued are printed first (a press just before a stop or reboot
        # must give paper), within most of `timeout` so the join rarely runs out.
        self._stop_by = time.monotonic() + timeout * 0.8
        self.worker.request_stop()
        self._inbox.put(_STOP)
        if not self.worker.stop(timeout):
            # Its own `finally` closes the transport once the write in flight times
            # out; closing it here, under that write, could hit a reused descriptor.
            return
        self.transport.close()

    def health(self) -> dict[str, Any]:
        return {"ok": bool(self._healthy) and self.worker.ok, "detail": self._detail,
                "pending": len(self._pending),
                "printed": self.printed, "failed": self.failed, "voided": self.voided,
                "connected": self.transport.is_open, "where": self.transport.where}

    # -- the thread ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self.worker.stopped:
                try:
                    self._step()
                    self._crash_backoff.reset()
                except Exception as e:
                    self._recover(e, self._crash_backoff.next())
            self._print_owed_at_stop()
        except Exception:
            logger.exception("%s: worker failed while stopping", self.name)
        finally:
            self.transport.close()

    def _recover(self, error: Exception, backoff: float) -> None:
        """A bug in a step must not leave the kiosk without paper until someone restarts
        the service: report the printer down, start over on a fresh connection, and back
        off while it keeps failing. The traceback is logged once per new error."""
        text = f"{type(error).__name__}: {error}"
        if text != self._last_crash:
            self._last_crash = text
            logger.exception("%s: printer driver error (it starts over by itself)", self.name)
        self._set_health(False, f"printer driver error: {text}; starting over (see the log)"[:200])
        try:
            self.transport.close()
        except Exception:  # the transport may be what failed; the next open starts afresh
            logger.debug("%s: close after an error failed", self.name, exc_info=True)
        self._wait(backoff)

    def _step(self) -> None:
        self._take_inbox(timeout=0)
        self._void_overdue()
        if self._blocked is not None:
            self._set_health(False, self._blocked)
            self._wait(self.retry_interval_s)
            return
        if not self.transport.is_open:
            try:
                self.transport.open()
            except PrinterError as e:
                self._set_health(False, str(e))
                self._wait(self.retry_interval_s)
                return
            self._next_poll = 0.0
            if self.graphics is not None:
                self.graphics.reset()   # another connection: maybe another printer
        now = time.monotonic()
        if self._healthy is not True or now >= self._next_poll:
            status = self._status()
            self._next_poll = time.monotonic() + self.poll_interval_s
            if not status.ok:
                self._set_health(False, status.detail)
                self._wait(self.retry_interval_s)
                return
            if self._healthy is not True and now < self._retry_at:
                # A printer that answers "fine" but just failed a ticket stays down for a
                # growing pause: no print / fail / up / down storm of events.
                self._wait(self._retry_at - now)
                return
            self._set_health(True, status.detail)
        if self.graphics is not None and not self._graphics_step():
            return
        if self._need_fetch and time.monotonic() >= self._next_fetch:
            self._fetch_jobs()
            self._void_overdue()   # owed since before a restart: too late to print now
        if self._pending:
            self._print(next(iter(self._pending.values())))
            return
        wait = max(0.05, self._next_poll - time.monotonic()) if self.transport.can_poll else 1.0
        self._wait(wait)

    def _graphics_step(self) -> bool:
        """Ask a new connection whether it keeps images; define one that a ticket missed
        (only while no ticket waits: a visitor never waits for it). False on failure."""
        assert self.graphics is not None
        try:
            self.graphics.probe(self.transport)
            if not self._pending and self._inbox.empty():
                self.graphics.define_owed(self.transport)
        except PrinterError as e:
            self.transport.close()
            self._set_health(False, str(e))
            self._wait(self.retry_interval_s)
            return False
        return True

    def _print_owed_at_stop(self) -> None:
        """Print the tickets issued before the stop while the printer works and time is left;
        the rest stay owed in the queue and are printed (or voided) by the next start."""
        self._take_inbox(timeout=0)
        self._void_overdue()
        while (self._pending and self._healthy is True and self._blocked is None
               and time.monotonic() < self._stop_by):
            self._print(next(iter(self._pending.values())))
        if self._pending:
            logger.warning("%s: stopping with %d ticket(s) not printed (%s): the next start "
                           "prints them, or voids those older than %g s", self.name,
                           len(self._pending), ", ".join(p.job.ticket for p in self._pending.values()),
                           self.void_after_s)

    def _wait(self, seconds: float) -> None:
        self._take_inbox(timeout=seconds)

    def _take_inbox(self, timeout: float) -> None:
        try:
            item = self._inbox.get(timeout=timeout) if timeout > 0 else self._inbox.get_nowait()
        except queue.Empty:
            return
        while True:
            if item is not _STOP:
                kind, data = item
                self._add(data, reprint=(kind == "reprint"))
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return

    def _add(self, data: dict[str, Any], *, reprint: bool) -> None:
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
            if job.ticket_id not in self._reprints or job.ticket_id in self._abandoned:
                self._reprints.add(job.ticket_id)
                self._abandoned.discard(job.ticket_id)
                self._save_reprints()
        elif job.ticket_id in self._handled:
            return
        elif reprint or job.ticket_id in self._reprints:
            if job.ticket_id in self._abandoned:
                return
            job = TicketJob.from_event(data, reprint=True)
        if job.ticket_id in self._pending:
            return
        self._pending[job.ticket_id] = _Pending(job, self._deadline(job))

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

    def _status(self) -> PrinterStatus:
        try:
            return self.transport.status()
        except PrinterError as e:
            self.transport.close()
            return PrinterStatus(False, str(e))

    def _set_health(self, ok: bool, detail: str) -> None:
        if ok == self._healthy and detail == self._detail:
            return
        changed = ok != self._healthy
        was = self._healthy
        self._healthy, self._detail = ok, detail
        if changed or ok:
            if ok:
                logger.info("%s: ready%s", self.name, f" ({detail})" if detail else "")
            else:
                logger.warning("%s: cannot print: %s", self.name, detail)
            self._submit(DeviceStatus(device=self.name, ok=ok, detail=detail, blocks_issue=True))
        if ok and was is not True:
            self._need_fetch = True   # start or recovery: pick up tickets still owed
            self._next_fetch = 0.0

    def _fetch_jobs(self) -> None:
        try:
            applied = self.controller.call(PrintJobs(printer=self.printer), timeout=5.0)
        except (CommandError, KezekError, TimeoutError) as e:
            logger.warning("%s: cannot ask for pending tickets: %s", self.name, e)
            self._next_fetch = time.monotonic() + self.retry_interval_s
            return
        jobs = (applied.reply.data or {}).get("jobs", [])
        for data in jobs:
            self._add(dict(data), reprint=False)
        if jobs:
            logger.info("%s: %d ticket(s) still to print", self.name, len(jobs))
        self._need_fetch = False
        # A remembered reprint the engine no longer owes (printed, or the ticket finished)
        # need not be remembered any more.
        owed = {int(d["ticket_id"]) for d in jobs if d.get("ticket_id") is not None}
        gone = {t for t in self._reprints if t not in owed and t not in self._pending}
        if gone:
            self._reprints -= gone
            self._abandoned -= gone
            self._save_reprints()

    def _void_overdue(self) -> None:
        now = time.monotonic()
        for tid, p in list(self._pending.items()):
            if now < p.deadline:
                continue
            del self._pending[tid]
            why = p.problem or self._detail or "printer not ready"
            if p.job.reprint:
                # The visitor already holds the first paper: never void it for a failed copy.
                logger.warning("%s: giving up the reprint of %s: %s", self.name, p.job.ticket, why)
                self._abandoned.add(tid)
                self._save_reprints()
                continue
            self.voided += 1
            self._mark_handled(tid)
            reason = f"not printed within {self.void_after_s:g} s: {why}"
            logger.warning("%s: voiding %s (%s)", self.name, p.job.ticket, reason)
            self._submit(VoidTicket(ticket_id=tid, reason=reason[:200]))

    def _print(self, p: _Pending) -> None:
        job = p.job
        try:
            rendered = self.render(job)
        except Exception as e:
            # Unprintable text or a missing font (ValueError), or a bug met by this one
            # ticket: it will never print, and retrying it would hold up every ticket after it.
            del self._pending[job.ticket_id]
            if isinstance(e, ValueError):
                logger.error("%s: cannot render %s: %s", self.name, job.ticket, e)
            else:
                logger.exception("%s: cannot render %s", self.name, job.ticket)
            self.failed += 1
            self._mark_handled(job.ticket_id)
            if not job.reprint:
                self._submit(TicketPrinted(ticket_id=job.ticket_id, ok=False, detail=str(e)[:200]))
                self._submit(VoidTicket(ticket_id=job.ticket_id, reason=f"cannot print: {e}"[:200]))
            return
        whole, stored = (rendered, None) if isinstance(rendered, bytes) else (
            rendered.whole, rendered.stored)
        p.attempts += 1
        try:
            if self.transport.can_poll:
                status = self.transport.status()
                if not status.ok:
                    p.problem = status.detail
                    self._set_health(False, status.detail)
                    return
            data, used = (whole, ()) if self.graphics is None else self.graphics.choose(
                self.transport, stored, whole)
            self.transport.write(data)
            self.transport.drain()
            if self.transport.can_poll:
                # Paper can run out, or the cover open, in the middle of the ticket.
                status = self.transport.status()
                if not status.ok:
                    raise PrinterError(self.name, f"after printing {job.ticket}: {status.detail}")
            if self.graphics is not None:
                self.graphics.confirm(self.transport, used, job.ticket)
        except PrinterError as e:
            self.transport.close()
            p.problem = str(e)
            self.failed += 1
            backoff = self._ticket_backoff.delay(p.attempts)
            self._retry_at = time.monotonic() + backoff
            logger.warning("%s: %s not printed (attempt %d, next in %.1f s): %s", self.name,
                           job.ticket, p.attempts, backoff, e)
            if p.attempts == 1:
                self._submit(TicketPrinted(ticket_id=job.ticket_id, ok=False, detail=str(e)[:200]))
            self._set_health(False, str(e))
            return
        self.transport.end_job()
        del self._pending[job.ticket_id]
        self._mark_handled(job.ticket_id)
        if job.ticket_id in self._reprints:
            self._reprints.discard(job.ticket_id)
            self._save_reprints()
        self.printed += 1
        logger.info("%s: printed %s%s", self.name, job.ticket, " (reprint)" if job.reprint else "")
        self._submit(TicketPrinted(ticket_id=job.ticket_id, ok=True,
                                   detail="reprint" if job.reprint else ""))

    def _mark_handled(self, ticket_id: int) -> None:
        self._handled[ticket_id] = None
        while len(self._handled) > _HANDLED_KEPT:   # a day's tickets, many times over
            self._handled.popitem(last=False)

    def _save_reprints(self) -> None:
        save_reprints(self._reprints_file, self._reprints, self._abandoned, self.name)

    def _submit(self, command: Command) -> None:
        def done(fut: Any) -> None:
            exc = fut.exception()
            if exc is not None:
                logger.warning("%s: %s refused: %s", self.name, type(command).__name__, exc)
        try:
            self.controller.submit(command).add_done_callback(done)
        except Exception as e:  # the controller stopping: nothing more to report to
            logger.warning("%s: cannot submit %s: %s", self.name, type(command).__name__, e)
