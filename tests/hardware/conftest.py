"""Fixtures for the hardware tests: a recording controller, a hand-moved clock, pins, ptys."""

from __future__ import annotations

import os
import time
import tty
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from edge.errors import CommandError
from edge.queue.events import StoredEvent
from edge.queue.snapshot import QueueSnapshot


@dataclass
class FakeApplied:
    command: Any
    reply: Any
    events: list[StoredEvent]
    snapshot: QueueSnapshot


@dataclass
class FakeReply:
    text: str = "ok"
    ticket: Any = None
    data: dict[str, Any] = field(default_factory=dict)


class RecordingController:
    """Stands in for edge.controller.Controller: records commands, resolves futures at once.

    `refuse` maps a command class to the CommandError its futures fail with.
    """

    def __init__(self) -> None:
        self.commands: list[Any] = []
        self.listeners: list[Callable[[Any], None]] = []
        self.snapshot = QueueSnapshot(day="2025-03-03")
        self.refuse: dict[type, CommandError] = {}
        self._seq = 0

    def submit(self, command: Any) -> "Future[Any]":
        self.commands.append(command)
        fut: Future[Any] = Future()
        err = self.refuse.get(type(command))
        if err is not None:
            fut.set_exception(err)
        else:
            fut.set_result(FakeApplied(command, FakeReply(), [], self.snapshot))
        return fut

    def subscribe(self, listener: Callable[[Any], None]) -> None:
        self.listeners.append(listener)

    def publish(self, events: list[tuple[str, dict[str, Any]]] = (), snapshot: QueueSnapshot | None = None) -> None:
        """Pretend a command was committed: listeners see its events and the snapshot."""
        if snapshot is not None:
            self.snapshot = snapshot
        stored = []
        for etype, data in events:
            self._seq += 1
            stored.append(StoredEvent(self._seq, f"e{self._seq}", etype, 0, 0, "b", True, dict(data)))
        applied = FakeApplied(None, FakeReply(), stored, self.snapshot)
        for listener in self.listeners:
            listener(applied)

    def of_type(self, cls: type) -> list[Any]:
        return [c for c in self.commands if isinstance(c, cls)]


class FakeTime:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def wait_for(cond: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll until cond() is truthy; fail with `what` after `timeout` seconds (generous:
    it returns at once when cond() holds, and CI machines are loaded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class PtyPair:
    """A pseudo-terminal: the code under test opens `link` (a stable symlink, like
    /dev/serial/by-id/...), the test talks through `master`. unplug()/replug() close
    the pair and make a new one behind the same link."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = -1
        self.slave = -1
        self.replug()

    def replug(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        if self.link.is_symlink():
            self.link.unlink()
        self.link.symlink_to(os.ttyname(self.slave))
        # Keep our slave fd open until the code under test has the port open: a pty
        # whose last slave closes reports a hang-up to the master.

    def unplug(self) -> None:
        for fd in (self.master, self.slave):
            if fd >= 0:
                os.close(fd)
        self.master = self.slave = -1
        if self.link.is_symlink():
            self.link.unlink()

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def read(self, n: int, timeout: float = 3.0) -> bytes:
        """Exactly n bytes from the master side, or fail after `timeout`."""
        import select

        got = b""
        deadline = time.monotonic() + timeout
        while len(got) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"expected {n} bytes, got {got!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                got += os.read(self.master, n - len(got))
        return got

    def read_until(self, end: bytes, timeout: float = 3.0) -> bytes:
        got = b""
        while not got.endswith(end):
            got += self.read(1, timeout)
        return got

    def close(self) -> None:
        self.unplug()


@pytest.fixture
def recorder() -> RecordingController:
    return RecordingController()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def mock_factory() -> Iterator[Any]:
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    yield factory
    factory.reset()
    factory.close()


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[PtyPair]:
    pair = PtyPair(tmp_path / "ttyTEST")
    yield pair
    pair.close()
