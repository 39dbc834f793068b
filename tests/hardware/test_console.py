"""The console driver on a real terminal (a pty pair): junk input is answered, never fatal."""

from __future__ import annotations

import io
import os
import threading
import time
import tty

from edge.drivers.console import ConsoleDriver


def test_bytes_that_are_not_utf8_get_an_error_line_and_the_service_keeps_running(
        harness) -> None:
    """Risk: one byte that is not UTF-8 (a terminal set to CP1251, line noise) raised
    UnicodeDecodeError out of the read loop: the console stopped reading, and on a terminal
    (as in `kezek demo`) that counted as Ctrl-D, so the whole service shut down."""
    master, slave = os.openpty()
    tty.setraw(slave)
    stdin = open(slave, "r", encoding="utf-8")   # strict decoding, as sys.stdin under UTF-8
    out = io.StringIO()
    stopped = threading.Event()
    console = ConsoleDriver(harness.controller, stdin, out, stopped.set)
    assert console.quit_on_eof, "a terminal: the end of input would stop the service"
    console.start()
    try:
        os.write(master, b"ticket \xd0\xee\xf1\n")     # "Рос" typed in CP1251
        os.write(master, b"ticket docs\n")
        deadline = time.monotonic() + 5
        while out.getvalue().count("\n") < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        answers = out.getvalue().splitlines()
        assert len(answers) == 2, answers
        assert answers[0].startswith("ERROR") and "service" in answers[0]
        assert "A-001" in answers[1]
        assert not stopped.is_set(), "junk on the console must not stop the service"
        assert harness.controller.snapshot.waiting_total == 1
    finally:
        console.stop()
        os.close(master)
        stdin.close()


def test_help_lists_the_services_and_windows_of_the_running_configuration(harness) -> None:
    """Risk: `help` names the services of process start; one added by a reload (SIGHUP,
    central's cfg) is missing, and a person at the console cannot tell what to type."""
    from edge.config import parse_config
    from edge.config.domain import reconfigure

    from ..conftest import demo_config_dict

    out = io.StringIO()
    console = ConsoleDriver(harness.controller, io.StringIO(), out, lambda: None)
    console.handle_line("help")
    assert out.getvalue().count("\n") == 1, "one line, like every answer"
    assert "services: docs (A), realty (B), benefits (C) | windows: 1, 2, 3, 4" in out.getvalue()

    data = demo_config_dict()
    data["services"].append({"id": "tax", "names": {"kk": "Салық", "ru": "Налоги"},
                             "prefix": "D"})
    data["windows"].append({"number": 5, "services": {"tax": 1}})
    harness.call(reconfigure(parse_config(data), source="test"))
    console.handle_line("help")
    last = out.getvalue().splitlines()[-1]
    assert "benefits (C), tax (D) | windows: 1, 2, 3, 4, 5" in last
