"""The shared plumbing of every component: Worker (the thread's lifecycle) and Backoff."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from edge.backoff import Backoff
from edge.worker import Worker


@pytest.mark.parametrize("first, cap, factor, waits", [
    (1.0, 5.0, 2.0, [1.0, 2.0, 4.0, 5.0, 5.0]),        # grows, then stays at the cap
    (2.0, 2.0, 2.0, [2.0, 2.0, 2.0]),                  # first == cap: a fixed interval
    (0.1, 120.0, 2.0, [0.1, 0.2, 0.4, 0.8, 1.6]),      # the sync link's defaults, scaled
    (3.0, 60.0, 3.0, [3.0, 9.0, 27.0, 60.0]),
])
def test_backoff_grows_to_its_cap(first: float, cap: float, factor: float,
                                  waits: list[float]) -> None:
    b = Backoff(first, cap, factor)
    assert [b.next() for _ in waits] == pytest.approx(waits)
    assert b.failures == len(waits)
    b.reset()
    assert (b.failures, b.peek(), b.next()) == (0, first, first)


def test_backoff_after_weeks_of_failures_stays_at_the_cap() -> None:
    """Risk: 2 ** failures overflows a float after a device is away for weeks."""
    assert Backoff(1.0, 30.0).delay(10**6) == 30.0
    assert Backoff(1.0, 30.0).delay(0) == 0.0


@pytest.mark.parametrize("first, cap, factor", [(-1, 5, 2), (5, 1, 2), (1, 5, 0.5)])
def test_backoff_refuses_settings_that_make_no_sense(first: float, cap: float,
                                                    factor: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(first, cap, factor)


def test_a_worker_is_named_woken_stopped_and_started_again() -> None:
    rounds: list[str] = []
    seen_name: list[str] = []

    def loop() -> None:
        seen_name.append(threading.current_thread().name)
        while not worker.wait(60):     # only wake() or a stop ends this wait
            rounds.append("woken")

    worker = Worker("kezek-test", loop)
    worker.start()
    worker.wake()
    deadline = time.monotonic() + 10
    while not rounds and time.monotonic() < deadline:
        time.sleep(0.01)
    assert rounds == ["woken"] and seen_name == ["kezek-test"]
    assert worker.alive and worker.ok and worker.problem() is None
    assert worker.stop(10) is True and not worker.alive
    assert worker.ok, "a loop that ended because it was asked to is fine"
    worker.start()                     # a component may be started again after a stop
    assert worker.alive
    assert worker.stop(10) is True
    assert seen_name == ["kezek-test", "kezek-test"]


def test_a_loop_that_dies_shows_in_health_with_its_error(caplog) -> None:
    """Risk: a component's thread dies of a bug and nothing says so: its health stays ok,
    and the buttons (or the printer) silently do nothing until someone restarts."""
    def loop() -> None:
        raise RuntimeError("bug in the loop")

    worker = Worker("kezek-test-dies", loop)
    with caplog.at_level(logging.ERROR):
        worker.start()
        deadline = time.monotonic() + 10
        while worker.alive and time.monotonic() < deadline:
            time.sleep(0.01)
    assert not worker.ok
    assert "RuntimeError: bug in the loop" in (worker.problem() or "")
    assert "kezek-test-dies" in caplog.text and "Traceback" in caplog.text


def test_a_step_that_keeps_failing_is_logged_once_and_clears_when_it_works(caplog) -> None:
    worker = Worker("kezek-test-steps", lambda: None)
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            worker.failed(OSError("disk full"), "checkpoint")
    assert caplog.text.count("checkpoint: OSError: disk full") == 1, "said once, not per retry"
    assert not worker.ok and "checkpoint: OSError: disk full" in (worker.problem() or "")
    worker.recovered()
    assert worker.ok and worker.problem() is None


def test_stop_does_not_wait_for_its_own_thread() -> None:
    """A loop may stop its own component (a fatal device error): no self-join deadlock."""
    done = threading.Event()

    def loop() -> None:
        if worker.stop(5) is False:     # returns at once instead of joining itself
            done.set()

    worker = Worker("kezek-test-self", loop)
    worker.start()
    assert worker.stop(10)
    assert done.is_set()
