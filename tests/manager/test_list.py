"""`list SERVICE` in the console and over the status socket (`kezek status --list`)."""

from __future__ import annotations

import argparse
import io
import logging
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from edge.cli import status as status_cli
from edge.component import AppContext
from edge.drivers.console import ConsoleDriver
from edge.queue import commands as c
from edge.queue.model import Category
from edge.system.status import StatusServer, make_lister, request_status
from tests.conftest import Harness


def a_morning(h: Harness) -> None:
    """A-001 parked, A-002 a no-show at 09:03, A-003 waits, A-004 (pensioner) waits ahead
    of it, A-005's paper is still printing; B-001 in another service."""
    for _ in range(3):
        h.call(c.IssueTicket("docs"))
    h.call(c.IssueTicket("realty"))
    h.call(c.CallTicket(1, "A-001"))
    h.call(c.Park(1))
    h.clock.advance(180)
    h.call(c.CallTicket(1, "A-002"))
    h.call(c.NoShow(1))
    h.clock.advance(60)
    h.call(c.IssueTicket("docs", Category.PENSIONER))
    h.call(c.IssueTicket("docs", printer="kiosk"))
    h.clock.advance(120)


EXPECTED = [
    "LIST docs (A): 3 waiting, 1 parked, 1 no-show",
    "  waiting A-004 [pensioner]  2 min",
    "  waiting A-003  6 min",
    "  waiting A-005  2 min  NOT PRINTED (not called until printed)",
    "  parked  A-001  6 min",
    "  no-show A-002  missed at 09:03 (3 min ago)",
    "END",
]


def console(h: Harness, out: io.StringIO) -> ConsoleDriver:
    return ConsoleDriver(h.controller, io.StringIO(), out, lambda: None, db_path=h.db_path,
                         now_ms=lambda: h.clock.read().wall_ms)


def test_list_in_the_console(harness: Harness) -> None:
    """Risk: a keypad operator told "call A-017" cannot find which numbers wait, which are
    parked or missed, or calls a number whose paper never came out."""
    a_morning(harness)
    out = io.StringIO()
    drv = console(harness, out)
    drv.handle_line("list docs")
    assert out.getvalue().splitlines() == EXPECTED
    out.truncate(0), out.seek(0)
    drv.handle_line("list archive")
    drv.handle_line("list")
    errors = out.getvalue().splitlines()
    assert errors[0] == "ERROR unknown service 'archive' (use one of: docs, realty, benefits)"
    assert errors[1].startswith("ERROR list: expected 1 argument (SERVICE), got 0")


@pytest.fixture
def short_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kz", dir="/tmp") as d:   # a socket path <108 bytes
        yield Path(d)


def test_list_over_the_status_socket_and_the_cli(harness: Harness, short_dir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    a_morning(harness)
    ctx = AppContext(controller=harness.controller, clock=harness.clock, state_dir=short_dir,
                     db_path=harness.db_path, stdout=io.StringIO(), logger=logging.getLogger())
    server = StatusServer(short_dir / "status.sock", lambda: {}, lister=make_lister(ctx))
    server.start()
    try:
        got = request_status(server.path, request={"cmd": "list", "service": "docs"})
        assert [t["ticket"] for t in got["tickets"]] == ["A-004", "A-003", "A-005", "A-001", "A-002"]
        assert [t["printed"] for t in got["tickets"]] == [True, True, False, True, True]
        args = argparse.Namespace(socket=server.path, config=None, json=False, timeout=5.0,
                                  list="docs")
        assert status_cli.handle(args) == 0
        assert capsys.readouterr().out.splitlines() == EXPECTED[:-1]
        args.list = "nope"
        assert status_cli.handle(args) == 1
        assert "unknown service 'nope'" in capsys.readouterr().err
        with pytest.raises(ValueError, match="must be a service id"):
            request_status(server.path, request={"cmd": "list", "service": 7})
    finally:
        server.stop()


def test_list_shows_the_days_booked_slots_against_the_quota(tmp_path: Path, clock) -> None:
    """Risk (booking-only centers): the IT person cannot see how full each slot of the
    day is, nor which booked visitors came, without reading the database."""
    from edge.config import parse_config
    from tests.conftest import demo_config_dict
    raw = demo_config_dict()
    raw["policies"].setdefault("services", {}).setdefault("docs", {})["slot_quota"] = 2
    h = Harness(parse_config(raw, "demo+quota"), tmp_path / "kezek.db", clock)
    try:
        def booking(code: str, slot: str, **extra: str) -> dict[str, object]:
            return {"code": code, "service": "docs", "date": "2026-11-23", "slot_start": slot,
                    "slot_minutes": 15, **extra}
        h.call(c.LoadBookings((booking("BK-1", "09:00"), booking("BK-2", "09:00"),
                               booking("BK-3", "09:15"), booking("BK-4", "09:15",
                                                                 status="cancelled")), 1))
        h.call(c.CheckIn("BK-1"))
        out = io.StringIO()
        console(h, out).handle_line("list docs")
        lines = out.getvalue().splitlines()
        assert lines[-4:] == ["SLOTS (15 min, quota 2): 3 booked, 1 checked in",
                              "  09:00  2 of 2 booked, 1 checked in  FULL",
                              "  09:15  1 of 2 booked, 0 checked in",
                              "END"], lines
    finally:
        h.close()
