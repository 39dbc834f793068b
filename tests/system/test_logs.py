"""Logs for the journal: <N> level prefixes, and no IIN ever reaches a written line."""

from __future__ import annotations

import io
import logging
import re
from typing import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.system.logs import JournalFormatter, RedactIIN, redact, setup_logging

TWELVE_DIGITS = re.compile(r"(?<!\d)\d{6}[ -]?\d{6}(?!\d)")
IIN = "900101300123"  # the test IIN shape: YYMMDD + century/sex digit + 5 more


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = setup_logging("debug", "journal", out)
    yield out
    logging.getLogger().removeHandler(handler)


def test_levels_become_journal_priorities(stream: io.StringIO) -> None:
    log = logging.getLogger("edge.test")
    log.error("printer kiosk: out of paper")
    log.warning("clock not synced")
    log.info("ticket A-001 issued")
    log.debug("tick")
    assert stream.getvalue().splitlines() == [
        "<3>edge.test: printer kiosk: out of paper", "<4>edge.test: clock not synced",
        "<6>edge.test: ticket A-001 issued", "<7>edge.test: tick"]


def test_iin_in_arguments_message_and_traceback_is_masked(stream: io.StringIO) -> None:
    log = logging.getLogger("edge.bookings")
    log.info("booking for %s at 10:00", IIN)
    log.warning(f"check-in refused for {IIN[:6]} {IIN[6:]}")
    try:
        raise ValueError(f"bad booking payload {{'iin': '{IIN}'}}")
    except ValueError:
        log.exception("payload rejected")
    text = stream.getvalue()
    assert IIN not in text and TWELVE_DIGITS.search(text) is None
    assert "booking for <IIN> at 10:00" in text
    assert "ValueError: bad booking payload {'iin': '<IIN>'}" in text
    # every line of the traceback has the error priority, so the journal files it together
    assert all(line.startswith("<3>") for line in text.splitlines()[2:])


def test_other_numbers_are_left_alone() -> None:
    assert redact("seq 1234567890123 ts 1763780000000 A-001 window 12") == \
        "seq 1234567890123 ts 1763780000000 A-001 window 12"


@settings(max_examples=200, deadline=None)
@given(prefix=st.text(max_size=20), digits=st.from_regex(r"\A[0-9]{12}\Z"),
       suffix=st.text(max_size=20))
def test_no_twelve_digit_number_survives_the_filter(prefix: str, digits: str, suffix: str) -> None:
    record = logging.LogRecord("edge.x", logging.INFO, __file__, 1, "%s", (prefix + digits + suffix,), None)
    RedactIIN().filter(record)
    line = JournalFormatter().format(record)
    assert digits not in line or TWELVE_DIGITS.search(prefix + digits + suffix) is None


def test_setup_twice_keeps_one_handler() -> None:
    root = logging.getLogger()
    before = len(root.handlers)
    a = setup_logging("info", "plain", io.StringIO())
    b = setup_logging("info", "plain", io.StringIO())
    assert len(root.handlers) == before + 1 and a not in root.handlers
    root.removeHandler(b)
