"""The printer worker with the real Controller and QueueStore on a SQLite file: refusal, alarm, reprint, void."""

from __future__ import annotations

import functools
import threading
import time
import tomllib
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from edge.config import parse_config
from edge.drivers.printing.render import ticket_bytes
from edge.drivers.printing.fake import FakeTransport
from edge.drivers.printing.worker import PrinterWorker
from edge.errors import CommandError
from edge.queue.commands import IssueTicket, Reprint

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo.toml"


class Events:
    """Every committed event, as the outbox gets them (a controller listener)."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.cond = threading.Condition()

    def __call__(self, applied: Any) -> None:
        with self.cond:
            self.items.extend(applied.events)
            self.cond.notify_all()

    def of(self, type_: str) -> list[dict[str, Any]]:
        with self.cond:
            return [e.data for e in self.items if e.type == type_]

    def wait(self, predicate: Callable[["Events"], Any], timeout: float = 5.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self), timeout), \
                [(e.type, e.data) for e in self.items]


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


@pytest.fixture
def setup(harness) -> Iterator[Callable[..., tuple[PrinterWorker, FakeTransport, Events]]]:
    data = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    data["printers"] = {"kiosk": {"type": "fake"}}
    config = parse_config(data, str(DEMO))
    workers: list[PrinterWorker] = []

    def make(void_after_s: float = 30.0, reprints_file: Path | None = None,
             plugged: bool = True) -> tuple[PrinterWorker, FakeTransport, Events]:
        events = Events()
        harness.controller.subscribe(events)
        transport = FakeTransport("kiosk", write_timeout_s=0.5)
        transport.plugged = plugged
        worker = PrinterWorker("kiosk", transport, harness.controller,
                               render=functools.partial(ticket_bytes, config=config, printer="kiosk"),
                               void_after_s=void_after_s, retry_interval_s=0.05, poll_interval_s=0.05,
                               wall_ms=lambda: harness.clock.read().wall_ms,
                               timezone=config.center.timezone, default=True,
                               reprints_file=reprints_file)
        harness.controller.subscribe(worker.on_applied)
        worker.start()
        workers.append(worker)
        return worker, transport, events

    yield make
    for w in workers:
        w.stop(2)


def device(harness) -> dict[str, Any]:
    return harness.controller.snapshot.devices.get("printer:kiosk", {})


def test_ticket_printed_then_paper_out_refuses_issue_raises_and_clears_alarm(harness, setup):
    worker, printer, events = setup()
    wait_until(lambda: worker.health()["ok"])
    applied = harness.call(IssueTicket("docs", printer="kiosk"))
    tid = applied.reply.data["ticket_id"]
    events.wait(lambda e: [d["ticket_id"] for d in e.of("ticket.printed")] == [tid])
    assert len(printer.tickets) == 1

    printer.paper = "out"
    wait_until(lambda: device(harness).get("ok") is False)
    with pytest.raises(CommandError) as refused:
        harness.call(IssueTicket("docs", printer="kiosk"))
    assert refused.value.code == "printer_down" and "out of paper" in str(refused.value)
    assert [a["alarm"] for a in events.of("alarm.raised")] == ["device:printer:kiosk"]
    assert "device:printer:kiosk" in harness.controller.snapshot.alarms

    printer.paper = "ok"
    events.wait(lambda e: len(e.of("alarm.cleared")) == 1)
    harness.call(IssueTicket("docs", printer="kiosk"))
    events.wait(lambda e: len(e.of("ticket.printed")) == 2)


def test_unplug_mid_ticket_is_reprinted_after_replug(harness, setup):
    worker, printer, events = setup()
    wait_until(lambda: worker.health()["ok"])
    printer.fail_after = 500
    tid = harness.call(IssueTicket("realty", printer="kiosk")).reply.data["ticket_id"]
    events.wait(lambda e: [d["ticket_id"] for d in e.of("ticket.print_failed")] == [tid])
    wait_until(lambda: device(harness).get("ok") is False)
    with pytest.raises(CommandError):
        harness.call(IssueTicket("realty", printer="kiosk"))     # no ghost ticket meanwhile
    printer.fail_after = None
    printer.plugged = True
    events.wait(lambda e: [d["ticket_id"] for d in e.of("ticket.printed")] == [tid])
    assert len(printer.tickets) == 1 and events.of("ticket.voided") == []


def test_ticket_that_cannot_be_printed_in_time_is_voided(harness, setup):
    worker, printer, events = setup(void_after_s=0.3)
    wait_until(lambda: worker.health()["ok"])
    printer.fail_after = 100
    tid = harness.call(IssueTicket("docs", printer="kiosk")).reply.data["ticket_id"]
    events.wait(lambda e: [d["ticket_id"] for d in e.of("ticket.voided")] == [tid])
    assert "not printed within" in events.of("ticket.voided")[0]["reason"]
    assert harness.controller.snapshot.waiting.get("docs", 0) == 0


def test_owed_ticket_is_printed_by_a_worker_started_later_and_reprint_works(harness, setup):
    # Issued while no printer worker runs (as before a restart): the engine owes the paper.
    tid = harness.call(IssueTicket("benefits", printer="kiosk")).reply.data["ticket_id"]
    worker, printer, events = setup()
    events.wait(lambda e: [d["ticket_id"] for d in e.of("ticket.printed")] == [tid])
    label = harness.call(Reprint("C-001", printer="kiosk")).reply.text
    assert "REPRINT C-001" in label
    wait_until(lambda: len(printer.tickets) == 2)
    assert printer.tickets[0] == printer.tickets[1]


def test_a_reprint_pending_at_a_restart_is_printed_not_voided(harness, setup, tmp_path):
    ledger = tmp_path / "printing" / "kiosk-reprints.json"
    worker, printer, _ = setup(void_after_s=90, reprints_file=ledger)
    tid = harness.call(IssueTicket("docs", printer="kiosk")).reply.data["ticket_id"]
    wait_until(lambda: len(printer.tickets) == 1)
    harness.clock.advance(300)                  # 5 min later the visitor asks for a copy
    printer.plugged = False
    harness.call(Reprint("A-001", printer="kiosk"))
    wait_until(lambda: not worker.health()["ok"])
    worker.stop(2)
    harness.restart()                           # the reprint is still owed
    worker2, printer2, events = setup(void_after_s=90, reprints_file=ledger)
    wait_until(lambda: len(printer2.tickets) == 1)
    assert printer2.tickets[0] == printer.tickets[0]
    assert events.of("ticket.voided") == []
    assert harness.engine.state.tickets[tid].state.value == "waiting"


def test_a_given_up_reprint_stays_given_up_after_a_restart(harness, setup, tmp_path):
    ledger = tmp_path / "printing" / "kiosk-reprints.json"
    worker, printer, _ = setup(void_after_s=0.3, reprints_file=ledger)
    tid = harness.call(IssueTicket("docs", printer="kiosk")).reply.data["ticket_id"]
    wait_until(lambda: len(printer.tickets) == 1)
    printer.plugged = False
    harness.call(Reprint("A-001", printer="kiosk"))
    wait_until(lambda: tid in worker.jobs.abandoned)
    harness.clock.advance(60)
    worker.stop(2)
    harness.restart()
    worker2, printer2, events = setup(void_after_s=0.3, reprints_file=ledger)
    wait_until(lambda: worker2.health()["ok"] and harness.controller.snapshot.devices
               .get("printer:kiosk", {}).get("ok"))
    time.sleep(0.6)                             # past void_after_s
    assert events.of("ticket.voided") == [] and printer2.tickets == []
    assert harness.engine.state.tickets[tid].state.value == "waiting"


def test_a_reprint_of_a_ticket_that_never_printed_is_its_first_paper(harness, setup):
    """Risk: `reprint` of a ticket whose paper never came out was taken as a copy (never
    voided): with the printer down, the ticket waited as NOT PRINTED all day for a visitor
    who holds nothing, instead of being voided in time as an owed ticket is."""
    worker, printer, events = setup(void_after_s=60)
    printer.plugged = False                 # unplugged between two status polls
    tid = harness.call(IssueTicket("docs", printer="kiosk")).reply.data["ticket_id"]
    wait_until(lambda: not worker.health()["ok"])
    harness.call(Reprint("A-001", printer="kiosk"))
    assert events.of("ticket.reprint")[-1]["first_paper"] is True
    wait_until(lambda: tid in worker.jobs.pending)
    assert worker.jobs.pending[tid].job.reprint is False      # voidable, like any owed one
    assert tid not in worker.jobs.reprints
    # Once printed, a reprint is a copy again.
    printer.plugged = True
    events.wait(lambda e: [d["ticket_id"] for d in e.of("ticket.printed")] == [tid], 30)
    harness.call(Reprint("A-001", printer="kiosk"))
    assert events.of("ticket.reprint")[-1]["first_paper"] is False
