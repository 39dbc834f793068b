"""Central's intake: event batches stored by worker threads, PUBACKs sent in arrival order.

With PostgreSQL one instance stores the batches of different sites in parallel (one
pooled connection per worker); a site always goes to the same worker, so one device's
batches are stored in the order this instance got them. The broker's PUBACK for a
message goes out only after its batch was handled (manual ack), and in the order the
messages came (MQTT 5, 4.6: a receiver acknowledges QoS 1 messages in order), so a
finished batch waits for the ones before it. After a reconnect the old connection's
packet ids mean nothing: `reset()` forgets them.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from typing import Any, Callable

logger = logging.getLogger(__name__)


class OrderedAcks:
    """PUBACKs in arrival order: `received(mid)` on paho's thread, `done(token)` anywhere."""

    def __init__(self, send: Callable[[int], None]) -> None:
        self._send = send
        self._lock = threading.Lock()
        self._pending: deque[list[Any]] = deque()   # [mid, done, generation]
        self._generation = 0

    def received(self, mid: int) -> list[Any]:
        entry = [mid, False, self._generation]
        with self._lock:
            self._pending.append(entry)
        return entry

    def done(self, entry: list[Any]) -> None:
        ready: list[int] = []
        with self._lock:
            if entry[2] != self._generation:
                return   # a message of a connection that is gone
            entry[1] = True
            while self._pending and self._pending[0][1]:
                ready.append(self._pending.popleft()[0])
        for mid in ready:
            try:
                self._send(mid)
            except Exception:  # a connection lost meanwhile: the broker redelivers or not
                logger.debug("central: PUBACK of %s failed", mid, exc_info=True)

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
            self._pending.clear()

    def waiting(self) -> int:
        with self._lock:
            return len(self._pending)


class Workers:
    """N threads, each with its own queue; work for one key always goes to one thread.

    A thread hands everything waiting in its queue (up to `group` items) to `handle` at
    once: central stores them in one transaction, one commit (fsync) for all.
    """

    def __init__(self, n: int, handle: Callable[[list[Any]], None], name: str = "kezek-central",
                 group: int = 64) -> None:
        self._group = group
        self._queues: list[queue.Queue[Any]] = [queue.Queue() for _ in range(max(1, n))]
        self._handle = handle
        self._threads = [threading.Thread(target=self._run, args=(q,), name=f"{name}-store-{i}",
                                          daemon=True) for i, q in enumerate(self._queues)]
        for t in self._threads:
            t.start()

    def submit(self, key: str, item: Any) -> None:
        self._queues[hash(key) % len(self._queues)].put(item)

    def backlog(self) -> int:
        return sum(q.qsize() for q in self._queues)

    def _run(self, q: "queue.Queue[Any]") -> None:
        while True:
            items = [q.get()]
            while len(items) < self._group and items[-1] is not None:
                try:
                    items.append(q.get_nowait())
                except queue.Empty:
                    break
            stop = items[-1] is None
            work = [i for i in items if i is not None]
            if work:
                try:
                    self._handle(work)
                except Exception:  # never let one group end the worker
                    logger.exception("central: a group of batches failed")
            if stop:
                return

    def stop(self, timeout: float = 5.0) -> None:
        for q in self._queues:
            q.put(None)
        for t in self._threads:
            t.join(timeout)
