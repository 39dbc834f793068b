"""The controller's inbox: commands from any thread, taken by the loop in groups that share
one commit, and refused (not dropped) when the loop stops."""

from __future__ import annotations

import queue
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, cast

from edge.errors import CommandError
from edge.queue.commands import Command, TicketPrinted

if TYPE_CHECKING:
    from edge.control import Applied

# At most this many waiting commands share one commit: a bigger group makes its first
# visitor wait for the others' decisions before hearing anything.
GROUP_MAX = 32
# A printer's TicketPrinted that comes alone waits this long for company (the next press
# usually follows within milliseconds at a busy kiosk): one write to the card per ticket
# instead of two. Nobody waits on its answer; the ticket is callable this much later.
PRINTED_WAITS_S = 0.05

STOP = object()
WAKE = object()


class CommandInbox:
    def __init__(self) -> None:
        # SimpleQueue: its put() is reentrant, so a signal handler may wake the loop.
        self._queue: "queue.SimpleQueue[tuple[Command, Future[Applied]] | object]" = \
            queue.SimpleQueue()
        self.printed_waits_s = PRINTED_WAITS_S

    def put(self, command: Command, fut: "Future[Applied]") -> None:
        self._queue.put((command, fut))

    def wake(self) -> None:
        self._queue.put(WAKE)

    def stop(self) -> None:
        self._queue.put(STOP)

    def get(self, timeout: float) -> object | None:
        """The next command, STOP or WAKE; None when nothing came within `timeout`."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def waiting_with(self, item: object) -> "tuple[list[tuple[Command, Future[Applied]]], bool]":
        """`item` and the commands already waiting behind it; True if a stop came too."""
        group = [cast("tuple[Command, Future[Applied]]", item)]
        until = time.monotonic() + self.printed_waits_s
        while len(group) < GROUP_MAX:
            lone_printed = all(isinstance(c, TicketPrinted) for c, _ in group)
            try:
                more = (self._queue.get(timeout=max(0.0, until - time.monotonic()))
                        if lone_printed else self._queue.get_nowait())
            except queue.Empty:
                break
            if more is STOP:
                return group, True
            if more is not WAKE:
                group.append(cast("tuple[Command, Future[Applied]]", more))
        return group, False

    def refuse_the_rest(self) -> None:
        # Commands still queued at shutdown are refused, not silently dropped: the
        # submitter learns it and (for hardware) the visitor gets no ghost ticket.
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is STOP or item is WAKE:
                continue
            _, fut = cast("tuple[Command, Future[Applied]]", item)
            if not fut.done():
                fut.set_exception(CommandError("stopping", "the controller is shutting down"))
