"""The outbox pump: a bounded window of event batches, go-back-N on central's acks.

It sends batches of consecutive events from `cursor`, keeps at most `window` batches
unacked, and moves forward only on central's application ack ("stored up to N"), which
also deletes those rows. No ack progress for `ack_timeout_s`, a reconnect, or a resend
request rewinds the cursor to the first unacked event: duplicates on the wire are fine
(central de-duplicates by device and seq), gaps are not. Like TCP, a loss halves the
usable window and every ack that makes progress grows it by one batch again, so a window
configured larger than a broker's queue stops flooding it. No I/O of its own beyond the
OutboxDb and the `send` function it is given; time is passed in.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Callable

from edge.sync.outbox import Fork, OutboxDb

logger = logging.getLogger(__name__)


@dataclass
class InFlight:
    first: int
    last: int
    sent_at: float
    size: int = 0   # bytes of the payload


class OutboxPump:
    def __init__(self, db: OutboxDb, *, site: str, device: str, window: int,
                 max_events: int, max_bytes: int, ack_timeout_s: float,
                 db_id: str | None = None, fork: Fork | None = None) -> None:
        self.db = db
        self.db_id = db_id
        self.fork = fork   # named in every batch: central keeps copied events once
        self.site = site
        self.device = device
        self.window = window
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.ack_timeout_s = ack_timeout_s
        self.acked = db.get_int("sync.acked_seq", 0)
        self.dropped_through = db.get_int("sync.dropped_through", 0)
        self.cursor = self.acked + 1
        # Central cannot have stored a seq the edge never sent, so an ack above the newest
        # seq sent is not believed. `sent_seq` is that mark in this process; the persisted
        # `sync.sent_seq` is reserved ahead of it (up to a window's worth, never beyond the
        # newest seq assigned), so that it is written once per window, not per batch, and
        # is never below what an earlier process sent. A database of an edge without the
        # key: whatever was assigned may have been sent.
        if db.get("sync.sent_seq") is None:
            db.put({"sync.sent_seq": db.last_assigned_seq()})
        self._reserved = db.get_int("sync.sent_seq", 0)
        self.sent_seq = self._reserved
        self.inflight: deque[InFlight] = deque()
        self.cwnd = window   # usable window: halved on a loss, +1 per ack progress
        self.session = 0
        self.hist_through = 0
        self._progress_at = 0.0
        self.last_sent_at: float | None = None   # when the newest batch went out
        # Counters for health().
        self.sent_batches = 0
        self.sent_events = 0
        self.rewinds = 0
        self.bad_acks = 0
        self.foreign_acks = 0   # acks naming another database (another box, same id)

    @property
    def floor(self) -> int:
        return max(self.acked, self.dropped_through)

    def start_session(self, session: int, now: float) -> None:
        """A new connection: everything unacked is sent again, oldest first."""
        self.session = session
        self.inflight.clear()
        self.cursor = self.floor + 1
        bounds = self.db.bounds()
        self.hist_through = bounds[1] if bounds else 0
        self._progress_at = now

    def rewind(self, from_seq: int, now: float, why: str, *, loss: bool = False) -> int:
        """Send again from `from_seq` (never below the first unacked event)."""
        target = max(from_seq, self.floor + 1)
        if target < self.cursor:
            logger.info("sync: resending from seq %s (%s)", target, why)
            self.rewinds += 1
            self.cursor = target
            if loss:
                self.cwnd = max(1, min(self.cwnd, len(self.inflight)) // 2)
            self.inflight.clear()
        self._progress_at = now
        return target

    def on_ack(self, acked_seq: int, now: float, resend_from: int | None = None,
               db: str | None = None) -> bool:
        """Central's ack; False when it is for another database's stream (ignored)."""
        if db is not None and self.db_id is not None and db != self.db_id:
            # Another box with our device id (its own database) shares the ack topic: its
            # acks say nothing about what central stored of ours.
            if not self.foreign_acks:
                logger.warning("sync: ignoring an ack for database %s (ours is %s): another "
                               "device uses this device id", db, self.db_id)
            self.foreign_acks += 1
            return False
        if acked_seq > max(self.sent_seq, self.floor):
            # Central cannot have stored what was never sent: a bug, a stray or forged ack.
            # Believing it would delete events central never got (a gap for good).
            logger.warning("sync: central acked seq %s but the newest seq ever sent is %s; "
                           "ignoring the ack", acked_seq, max(self.sent_seq, self.floor))
            self.bad_acks += 1
            return True
        if acked_seq > self.acked:
            self.db.delete_through(acked_seq, {"sync.acked_seq": acked_seq})
            self.acked = acked_seq
            self._progress_at = now
            self.cwnd = min(self.window, self.cwnd + 1)
            while self.inflight and self.inflight[0].last <= acked_seq:
                self.inflight.popleft()
            if self.inflight and self.inflight[0].first <= acked_seq:
                self.inflight[0].first = acked_seq + 1
            if self.cursor <= acked_seq:
                self.cursor = acked_seq + 1
        # Stale or duplicated acks (<= acked) change nothing: acks are cumulative.
        if resend_from is not None and self.inflight and \
                now - self.inflight[0].sent_at >= min(1.0, self.ack_timeout_s):
            self.rewind(resend_from, now, "central saw a gap", loss=True)
        return True

    def pump(self, now: float, send: Callable[[bytes], bool]) -> int:
        """Send what the window allows; returns how many batches went out."""
        if self.inflight and now - max(self._progress_at, self.inflight[0].sent_at) \
                > self.ack_timeout_s:
            self.rewind(self.floor + 1, now, f"no ack for {self.ack_timeout_s:g} s", loss=True)
        sent = 0
        while len(self.inflight) < self.cwnd:
            batch = self.db.read_batch(
                self.cursor, site=self.site, device=self.device, session=self.session,
                floor=self.floor, hist_through=self.hist_through,
                max_events=self.max_events, max_bytes=self.max_bytes, db=self.db_id,
                fork=self.fork)
            if batch is None:
                break
            if batch.last > self._reserved:
                # Before the publish: a crash after it must not leave central holding seqs
                # above the persisted mark (its acks would be refused, the drain stall).
                ahead = batch.last + self.window * self.max_events
                self._reserved = max(batch.last, min(ahead, self.db.last_assigned_seq()))
                self.db.put({"sync.sent_seq": self._reserved})
            if not send(batch.payload):
                break  # the client refused (disconnected); the next session resends
            if not self.inflight:
                self._progress_at = now
            self.inflight.append(InFlight(batch.first, batch.last, now, len(batch.payload)))
            self.last_sent_at = now
            self.sent_seq = max(self.sent_seq, batch.last)
            self.cursor = batch.last + 1
            self.sent_batches += 1
            self.sent_events += batch.count
            sent += 1
        return sent

    def note_dropped(self, through: int) -> None:
        """The cap policy deleted unsent rows through `through` (already persisted)."""
        self.dropped_through = max(self.dropped_through, through)
        while self.inflight and self.inflight[0].last <= through:
            self.inflight.popleft()
        if self.cursor <= through:
            self.cursor = through + 1

    def health(self) -> dict[str, int]:
        return {"acked_seq": self.acked, "cursor": self.cursor, "inflight": len(self.inflight),
                "window": self.cwnd,
                "sent_batches": self.sent_batches, "sent_events": self.sent_events,
                "rewinds": self.rewinds, "bad_acks": self.bad_acks,
                "foreign_acks": self.foreign_acks, "batch_max_bytes": self.max_bytes,
                "dropped_through": self.dropped_through}
