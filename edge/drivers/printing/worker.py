"""One printer's worker: its own thread, status polling, reconnects, printing, voiding.

Which tickets it owes, and the reprints it remembers, are its job book (jobs.py). The
controller's listener only enqueues here; all printer I/O happens on this thread, so a
slow or dead printer never holds up the queue or the other printers. Outcomes go back to
the engine as commands: TicketPrinted, DeviceStatus (blocks ticket issue while down, raises
and clears the alarm) and VoidTicket.
"""

from __future__ import annotations

import logging
import queue
import time
import zoneinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Union

from edge.drivers.printing.content import TicketJob
from edge.drivers.printing.jobs import JobBook, Pending
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
        self.default = default          # takes reprints that name no printer
        self._blocked = blocked         # a config problem: never print, report down
        # SimpleQueue: the C one; a get with a timeout is one lock wait, not a Condition
        # with a new lock per wait (measurable at hundreds of tickets a second).
        self._inbox: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self.jobs = JobBook(self.name, void_after_s=void_after_s,
                            wall_ms=wall_ms or (lambda: time.time_ns() // 1_000_000),
                            zone=zoneinfo.ZoneInfo(timezone), reprints_file=reprints_file)
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
                # The first paper of a ticket that never printed is owed like an issued one.
                self._inbox.put(("issued" if data.get("first_paper") else "reprint", data))

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
                "pending": len(self.jobs.pending),
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
        owed = self.jobs.first()
        if owed is not None:
            self._print(owed)
            return
        wait = max(0.05, self._next_poll - time.monotonic()) if self.transport.can_poll else 1.0
        self._wait(wait)

    def _graphics_step(self) -> bool:
        """Ask a new connection whether it keeps images; define one that a ticket missed
        (only while no ticket waits: a visitor never waits for it). False on failure."""
        assert self.graphics is not None
        try:
            self.graphics.probe(self.transport)
            if not self.jobs.pending and self._inbox.empty():
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
        pending = self.jobs.pending
        while (pending and self._healthy is True and self._blocked is None
               and time.monotonic() < self._stop_by):
            self._print(next(iter(pending.values())))
        if pending:
            logger.warning("%s: stopping with %d ticket(s) not printed (%s): the next start "
                           "prints them, or voids those older than %g s", self.name,
                           len(pending), ", ".join(p.job.ticket for p in pending.values()),
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
                self.jobs.add(data, reprint=(kind == "reprint"))
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return

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
            self.jobs.add(dict(data), reprint=False)
        if jobs:
            logger.info("%s: %d ticket(s) still to print", self.name, len(jobs))
        self._need_fetch = False
        self.jobs.still_owed(jobs)

    def _void_overdue(self) -> None:
        for p in self.jobs.take_overdue(time.monotonic()):
            tid = p.job.ticket_id
            why = p.problem or self._detail or "printer not ready"
            if p.job.reprint:
                # The visitor already holds the first paper: never void it for a failed copy.
                logger.warning("%s: giving up the reprint of %s: %s", self.name, p.job.ticket, why)
                self.jobs.abandon(tid)
                continue
            self.voided += 1
            self.jobs.mark_handled(tid)
            reason = f"not printed within {self.void_after_s:g} s: {why}"
            logger.warning("%s: voiding %s (%s)", self.name, p.job.ticket, reason)
            self._submit(VoidTicket(ticket_id=tid, reason=reason[:200]))

    def _print(self, p: Pending) -> None:
        job = p.job
        try:
            rendered = self.render(job)
        except Exception as e:
            # Unprintable text or a missing font (ValueError), or a bug met by this one
            # ticket: it will never print, and retrying it would hold up every ticket after it.
            self.jobs.drop(job.ticket_id)
            if isinstance(e, ValueError):
                logger.error("%s: cannot render %s: %s", self.name, job.ticket, e)
            else:
                logger.exception("%s: cannot render %s", self.name, job.ticket)
            self.failed += 1
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
        self.jobs.printed(job.ticket_id)
        self.printed += 1
        logger.info("%s: printed %s%s", self.name, job.ticket, " (reprint)" if job.reprint else "")
        self._submit(TicketPrinted(ticket_id=job.ticket_id, ok=True,
                                   detail="reprint" if job.reprint else ""))

    def _submit(self, command: Command) -> None:
        def done(fut: Any) -> None:
            exc = fut.exception()
            if exc is not None:
                logger.warning("%s: %s refused: %s", self.name, type(command).__name__, exc)
        try:
            self.controller.submit(command).add_done_callback(done)
        except Exception as e:  # the controller stopping: nothing more to report to
            logger.warning("%s: cannot submit %s: %s", self.name, type(command).__name__, e)
