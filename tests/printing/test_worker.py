"""The printer worker against a recording controller: faults end in refusal, alarm, reprint or void."""

from __future__ import annotations

import datetime as dt
import functools
import threading
from typing import Any, Iterator

import pytest

from edge.drivers.printing.content import TicketJob
from edge.drivers.printing.render import ticket_bytes
from edge.drivers.printing.fake import FakeTransport
from edge.drivers.printing.worker import PrinterWorker

# 2026-11-23 09:00:00 in Asia/Almaty (UTC+5)
NINE_AM_MS = int(dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.timezone.utc).timestamp() * 1000)


@pytest.fixture
def make_worker(config_factory, fake_controller) -> Iterator[Any]:
    workers: list[PrinterWorker] = []

    def make(name: str = "kiosk", *, void_after_s: float = 30.0, wall_ms: int = NINE_AM_MS,
             config: Any = None, start: bool = True, **knobs: Any) -> tuple[PrinterWorker, FakeTransport]:
        cfg = config or config_factory({name: {"type": "fake"}})
        transport = FakeTransport(name, write_timeout_s=0.5)
        for k, v in knobs.items():
            setattr(transport, k, v)
        worker = PrinterWorker(name, transport, fake_controller,
                               render=functools.partial(ticket_bytes, config=cfg, printer=name),
                               void_after_s=void_after_s, retry_interval_s=0.05, poll_interval_s=0.05,
                               wall_ms=lambda: wall_ms, timezone="Asia/Almaty", default=True)
        fake_controller.subscribe(worker.on_applied)
        workers.append(worker)
        if start:
            worker.start()
        return worker, transport

    yield make
    for w in workers:
        w.stop(2)


def statuses(ctl: Any, name: str = "printer:kiosk") -> list[tuple[bool, str]]:
    return [(c.ok, c.detail) for c in ctl.of("DeviceStatus") if c.device == name]


def printed(ctl: Any, ok: bool = True) -> list[int]:
    return [c.ticket_id for c in ctl.of("TicketPrinted") if c.ok is ok]


def test_issued_ticket_is_printed_and_reported(make_worker, fake_controller, issued_data, config_factory):
    worker, printer = make_worker()
    fake_controller.wait_for(lambda c: statuses(c) == [(True, "")])
    fake_controller.emit("ticket.issued", issued_data(1, "A-001"))
    fake_controller.emit("ticket.issued", issued_data(2, "A-002", printer="other"))
    fake_controller.emit("ticket.issued", issued_data(3, "A-003", printer=None))
    fake_controller.wait_for(lambda c: printed(c) == [1])
    expected = ticket_bytes(TicketJob.from_event(issued_data(1, "A-001")),
                            config_factory({"kiosk": {"type": "fake"}}), "kiosk")
    assert printer.tickets == [expected]
    assert worker.health()["printed"] == 1


def test_paper_out_reports_down_keeps_the_ticket_and_prints_it_when_paper_is_back(
        make_worker, fake_controller, issued_data):
    worker, printer = make_worker(paper="out")
    fake_controller.wait_for(lambda c: statuses(c) == [(False, "out of paper: load a new roll")])
    fake_controller.emit("ticket.issued", issued_data(1))
    printer.paper = "low"
    fake_controller.wait_for(lambda c: printed(c) == [1])
    assert statuses(fake_controller)[-1] == (True, "paper near end")
    assert len(printer.tickets) == 1


def test_unplug_during_a_ticket_reports_failure_and_reprints_after_replug(
        make_worker, fake_controller, issued_data):
    worker, printer = make_worker()
    fake_controller.wait_for(lambda c: statuses(c) == [(True, "")])
    printer.fail_after = 700                  # the cable comes out 700 bytes into the ticket
    fake_controller.jobs = [issued_data(1)]    # the engine lists it until it is printed
    fake_controller.emit("ticket.issued", issued_data(1))
    fake_controller.wait_for(lambda c: printed(c, ok=False) == [1])
    fake_controller.wait_for(lambda c: statuses(c)[-1][0] is False)
    assert "device gone" in statuses(fake_controller)[-1][1]
    assert printer.tickets == []
    printer.fail_after = None
    printer.plugged = True                     # plugged back: reopened without a restart
    fake_controller.wait_for(lambda c: printed(c) == [1])
    assert statuses(fake_controller)[-1] == (True, "")
    assert len(printer.tickets) == 1 and printer.opens >= 2
    assert fake_controller.of("VoidTicket") == []


def test_status_silence_is_a_down_printer(make_worker, fake_controller, issued_data):
    """The risk: python-escpos reads an empty status reply as "paper OK"."""
    worker, printer = make_worker(silent=True)
    fake_controller.wait_for(lambda c: statuses(c) and statuses(c)[-1][0] is False)
    assert "no answer" in statuses(fake_controller)[-1][1]
    fake_controller.emit("ticket.issued", issued_data(1))
    fake_controller.wait_for(lambda c: worker.health()["pending"] == 1)
    assert printed(fake_controller) == [] and printer.tickets == []
    assert fake_controller.of("PrintJobs") == []         # never considered ready
    printer.silent = False
    fake_controller.wait_for(lambda c: printed(c) == [1])
    assert statuses(fake_controller)[-1] == (True, "")


def test_write_timeout_fails_the_ticket_and_marks_the_printer_down(make_worker, fake_controller, issued_data):
    worker, printer = make_worker()
    fake_controller.wait_for(lambda c: statuses(c) == [(True, "")])
    printer.stall = True
    fake_controller.emit("ticket.issued", issued_data(1))
    fake_controller.wait_for(lambda c: printed(c, ok=False) == [1])
    fake_controller.wait_for(lambda c: statuses(c)[-1][0] is False)
    assert "timed out" in statuses(fake_controller)[-1][1]
    printer.stall = False
    fake_controller.wait_for(lambda c: printed(c) == [1])


def test_a_ticket_not_printed_in_time_is_voided(make_worker, fake_controller, issued_data):
    worker, printer = make_worker(void_after_s=0.3, plugged=False)
    fake_controller.wait_for(lambda c: statuses(c) and statuses(c)[-1][0] is False)
    fake_controller.emit("ticket.issued", issued_data(7, "A-007"))
    fake_controller.wait_for(lambda c: [v.ticket_id for v in c.of("VoidTicket")] == [7])
    reason = fake_controller.of("VoidTicket")[0].reason
    assert "not printed within 0.3 s" in reason and "not found" in reason
    printer.plugged = True
    fake_controller.wait_for(lambda c: statuses(c)[-1] == (True, ""))
    assert printed(fake_controller) == [] and printer.tickets == []


def test_on_start_owed_tickets_are_printed_and_stale_ones_voided(make_worker, fake_controller, issued_data):
    fake_controller.jobs = [issued_data(4, "A-004", issued_at="2026-11-23T08:50:00"),   # 10 min old
                            issued_data(5, "A-005", issued_at="2026-11-23T09:00:00")]
    make_worker(void_after_s=60)
    fake_controller.wait_for(lambda c: printed(c) == [5] and len(c.of("VoidTicket")) == 1)
    assert fake_controller.of("VoidTicket")[0].ticket_id == 4


def test_reprint_is_printed_and_a_failed_reprint_is_never_voided(make_worker, fake_controller, issued_data):
    worker, printer = make_worker(void_after_s=0.3)
    fake_controller.wait_for(lambda c: statuses(c) == [(True, "")])
    old = issued_data(9, "A-009", issued_at="2026-11-23T07:00:00")
    fake_controller.emit("ticket.reprint", old)
    fake_controller.wait_for(lambda c: printed(c) == [9])
    printer.plugged = False
    fake_controller.jobs = [old]
    fake_controller.emit("ticket.reprint", old)
    fake_controller.wait_for(lambda c: 9 in worker.jobs.abandoned and statuses(c)[-1][0] is False)
    printer.plugged = True
    fake_controller.wait_for(lambda c: statuses(c)[-1] == (True, ""))
    fake_controller.wait_for(lambda c: len(c.of("PrintJobs")) >= 2)
    assert fake_controller.of("VoidTicket") == []


def test_unprintable_ticket_is_voided_at_once_never_printed_as_question_marks(
        make_worker, fake_controller, issued_data, config_factory):
    config = config_factory({"kiosk": {"type": "fake", "mode": "text"}},
                            services=[{"id": "docs", "prefix": "A",
                                       "names": {"kk": "Құжаттар", "ru": "Документы 中"}}])
    worker, printer = make_worker(config=config)
    fake_controller.wait_for(lambda c: statuses(c) == [(True, "")])
    fake_controller.emit("ticket.issued", issued_data(1))
    fake_controller.wait_for(lambda c: len(c.of("VoidTicket")) == 1)
    assert "cannot print" in fake_controller.of("VoidTicket")[0].reason
    assert printed(fake_controller, ok=False) == [1] and printer.tickets == []


def test_a_busy_printer_delays_only_its_own_tickets(make_worker, fake_controller, issued_data):
    gate = threading.Event()
    slow, slow_printer = make_worker("slow", gate=gate)
    fast, fast_printer = make_worker("fast")
    fake_controller.wait_for(lambda c: statuses(c, "printer:slow") and statuses(c, "printer:fast"))
    fake_controller.emit("ticket.issued", issued_data(1, "A-001", printer="slow"))
    fake_controller.emit("ticket.issued", issued_data(2, "A-002", printer="fast"))  # returns at once
    fake_controller.wait_for(lambda c: printed(c) == [2])
    assert slow_printer.tickets == []
    gate.set()
    fake_controller.wait_for(lambda c: sorted(printed(c)) == [1, 2])


def test_blocked_printer_reports_its_config_problem(fake_controller, config_factory):
    transport = FakeTransport("kiosk")
    worker = PrinterWorker("kiosk", transport, fake_controller, render=lambda j: b"",
                           void_after_s=30, retry_interval_s=0.05,
                           blocked="configuration problem: font missing")
    worker.start()
    try:
        fake_controller.wait_for(lambda c: statuses(c) == [(False, "configuration problem: font missing")])
        assert transport.opens == 0
    finally:
        worker.stop(2)


def test_a_ticket_issued_during_the_start_up_fetch_prints_once(make_worker, fake_controller, issued_data):
    # Issued while the worker's first PrintJobs is in flight: the ticket is in the reply and
    # its ticket.issued event is in the worker's inbox too.
    real_call = fake_controller.call

    def call(command: Any, timeout: float = 10.0) -> Any:
        if type(command).__name__ == "PrintJobs" and not fake_controller.of("PrintJobs"):
            fake_controller.jobs = [issued_data(1, "A-001")]
            fake_controller.emit("ticket.issued", issued_data(1, "A-001"))
        return real_call(command, timeout)

    fake_controller.call = call
    worker, printer = make_worker()
    fake_controller.wait_for(lambda c: printed(c) == [1])
    fake_controller.emit("ticket.issued", issued_data(2, "A-002"))   # the inbox has been read
    fake_controller.wait_for(lambda c: printed(c) == [1, 2])
    assert len(printer.tickets) == 2 and worker.health()["printed"] == 2


def test_tickets_issued_just_before_a_stop_are_printed_before_the_worker_ends(
        make_worker, fake_controller, issued_data):
    """A visitor presses while the service is stopping (systemctl stop, a reboot): the
    ticket was issued, so the paper must come out; the worker did not stop after its
    current ticket and leave the next ones owed until some later start (voided by then)."""
    gate = threading.Event()
    worker, printer = make_worker(gate=gate)
    fake_controller.wait_for(lambda c: statuses(c) == [(True, "")])
    fake_controller.emit("ticket.issued", issued_data(1, "A-001"))
    fake_controller.wait_for(lambda c: worker.health()["pending"] == 1)   # being written
    fake_controller.emit("ticket.issued", issued_data(2, "A-002"))
    stopper = threading.Thread(target=worker.stop, args=(5,))
    stopper.start()
    fake_controller.wait_for(lambda c: worker.worker.stopped)
    gate.set()
    stopper.join(10)
    assert not stopper.is_alive()
    assert printed(fake_controller) == [1, 2]
    assert len(printer.tickets) == 2


def test_a_stop_does_not_wait_for_a_printer_that_is_down(make_worker, fake_controller, issued_data):
    worker, printer = make_worker(paper="out")
    fake_controller.wait_for(lambda c: statuses(c) and statuses(c)[-1][0] is False)
    fake_controller.emit("ticket.issued", issued_data(1, "A-001"))
    fake_controller.wait_for(lambda c: worker.health()["pending"] == 1)
    worker.stop(5)
    assert not worker.worker.alive
    assert printed(fake_controller) == [] and fake_controller.of("VoidTicket") == []


def test_a_ticket_that_meets_a_rendering_bug_is_voided_and_the_next_ones_print(
        make_worker, fake_controller, issued_data, config_factory):
    """Risk: an unexpected error rendering one ticket killed the worker: no paper for
    anyone until someone restarted the service."""
    cfg = config_factory({"kiosk": {"type": "fake"}})

    def render(job: TicketJob) -> bytes:
        if job.ticket == "A-001":
            raise KeyError("a bug met by this ticket only")
        return ticket_bytes(job, config=cfg, printer="kiosk")

    worker, printer = make_worker()
    worker.render = render
    fake_controller.wait_for(lambda c: statuses(c) == [(True, "")])
    fake_controller.emit("ticket.issued", issued_data(1, "A-001"))
    fake_controller.emit("ticket.issued", issued_data(2, "A-002"))
    fake_controller.wait_for(lambda c: printed(c) == [2])
    assert printed(fake_controller, ok=False) == [1]
    assert [v.ticket_id for v in fake_controller.of("VoidTicket")] == [1]
    assert len(printer.tickets) == 1


class BuggyTransport(FakeTransport):
    """A fake printer whose status read hits an unexpected error `bugs` times."""

    bugs = 0

    def status(self):
        if self.bugs:
            self.bugs -= 1
            raise RuntimeError("driver bug")
        return super().status()


def test_an_unexpected_error_in_the_worker_reports_down_and_it_starts_over(
        fake_controller, issued_data, config_factory):
    cfg = config_factory({"kiosk": {"type": "fake"}})
    transport = BuggyTransport("kiosk", write_timeout_s=0.5)
    transport.bugs = 3
    worker = PrinterWorker("kiosk", transport, fake_controller,
                           render=functools.partial(ticket_bytes, config=cfg, printer="kiosk"),
                           void_after_s=30, retry_interval_s=0.05, poll_interval_s=0.05,
                           wall_ms=lambda: NINE_AM_MS, timezone="Asia/Almaty", default=True)
    fake_controller.subscribe(worker.on_applied)
    worker.start()
    try:
        fake_controller.emit("ticket.issued", issued_data(1, "A-001"))
        fake_controller.wait_for(lambda c: printed(c) == [1])
        down = [d for ok, d in statuses(fake_controller) if not ok]
        assert down and "printer driver error: RuntimeError: driver bug" in down[0]
        assert statuses(fake_controller)[-1] == (True, "")
        assert worker.health()["ok"] is True
    finally:
        worker.stop(2)
