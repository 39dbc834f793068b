"""The sync link's view of the edge database: its identity for central, and batches.

The outbox's reads and deletes are edge.storage.outbox's; this adds what belongs to the
link to central: the database id (and forks, when the card moves to another machine),
the connection session counter, and batches encoded for the wire.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from edge.storage.outbox import Outbox
from edge.sync.machine import Machine

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fork:
    """This database continues another one (the same card, on another machine)."""

    prev_db: str        # the database id before
    fork_seq: int       # the newest seq the card held when it came to this machine
    acked_seq: int = 0  # what central had acked of it then
    reported: bool = True

    @classmethod
    def load(cls, value: Any) -> "Fork | None":
        if not isinstance(value, dict) or not isinstance(value.get("prev_db"), str):
            return None
        try:
            return cls(value["prev_db"], int(value.get("fork_seq", 0)),
                       int(value.get("acked_seq", 0)), bool(value.get("reported", True)))
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True)
class DbIdentity:
    db: str
    moved: Fork | None   # set when this start minted a new id: the card is on a new machine
    fork: Fork | None    # the fork in effect (this start's or an earlier one's)


@dataclass(frozen=True)
class Batch:
    first: int
    last: int
    count: int
    payload: bytes


class OutboxDb(Outbox):
    """The outbox and meta (edge.storage.outbox.Outbox) as the sync link uses them."""

    def database_id(self, machine: Machine | None = None) -> DbIdentity:
        """This database's id for central (`db` on the wire), kept in meta, bound to `machine`.

        A new SD card has a new database, so a new id: central can tell its events (seq
        from 1 again) from the old card's instead of taking them for duplicates. The id is
        also bound to the machine it was made on (`sync.machine`): the same card opened on
        another board (moved to a replacement, or copied onto a second box) gets a new id,
        so its events become a stream of their own at central and never collide with the
        other box's. The fork (`sync.db_fork`: the id before, and the newest seq the card
        held then) goes with every batch: central knows that seqs up to it may arrive under
        both ids, with the same event ids, and keeps each such event once.
        """
        with self._tx():
            value = self.get("sync.db_id")
            recorded = self.get("sync.machine")
            fork = self.get("sync.db_fork")
            moved: Fork | None = None
            if not isinstance(value, str) or not value:
                value = str(uuid.uuid4())
                self._write_meta({"sync.db_id": value})
                fork = None
            elif machine is not None and machine.ids and isinstance(recorded, dict) \
                    and not machine.same_as(recorded):
                acked = self.get_int("sync.acked_seq", 0)
                prev_db, earlier = value, Fork.load(fork)
                if earlier is not None and acked <= earlier.acked_seq:
                    # Central never acked anything under the id being left (a card tried
                    # in a spare board on the bench, offline, then put in the box): it may
                    # never have heard of it, and could not link the new id to the streams
                    # holding the card's older events (a false gap, events kept twice).
                    # Name the id before it instead; the seqs made under the one skipped
                    # are the card's own either way.
                    prev_db = earlier.prev_db
                moved = Fork(prev_db=prev_db, fork_seq=self.last_assigned_seq(),
                             acked_seq=acked, reported=False)
                value = str(uuid.uuid4())
                fork = {"prev_db": moved.prev_db, "fork_seq": moved.fork_seq,
                        "acked_seq": moved.acked_seq, "reported": False}
                self._write_meta({"sync.db_id": value, "sync.db_fork": fork})
            current = Fork.load(fork)
            if moved is None and current is not None and not current.reported \
                    and self._conn.execute(
                        "SELECT 1 FROM outbox WHERE seq>? AND type='sync.db_changed' AND "
                        "json_extract(data, '$.db')=? LIMIT 1",
                        (current.fork_seq, value)).fetchone():
                # The event was committed but the power went before it was marked as
                # told (the network loop marks it a moment later): not again.
                fork = {**fork, "reported": True}
                self._write_meta({"sync.db_fork": fork})
            if machine is not None and machine.ids:
                # First start on this version (nothing recorded: the card is taken to be on
                # its own board), a new board, or a kind of id that became readable. On the
                # same board the record is merged, not replaced: a kind unreadable at one
                # start must not be forgotten (see Machine.merged_into).
                record = machine.ids if moved is not None or not isinstance(recorded, dict) \
                    else machine.merged_into(recorded)
                if record != recorded:
                    self._write_meta({"sync.machine": record})
        return DbIdentity(value, moved, Fork.load(fork))

    def fork_reported(self) -> None:
        """The sync.db_changed event of the current fork is committed: not again at start."""
        with self._tx():
            fork = self.get("sync.db_fork")
            if isinstance(fork, dict) and not fork.get("reported"):
                self._write_meta({"sync.db_fork": {**fork, "reported": True}})

    def next_session(self) -> int:
        """Bump and persist the connection session counter (one per connect)."""
        with self._tx():
            session = self.get_int("sync.session", 0) + 1
            self._write_meta({"sync.session": session})
        return session

    def read_batch(self, from_seq: int, *, site: str, device: str, session: int, floor: int,
                   hist_through: int, max_events: int, max_bytes: int,
                   db: str | None = None, fork: Fork | None = None) -> Batch | None:
        """The longest run of consecutive events from `from_seq` within both bounds.

        One event bigger than max_bytes still goes alone (it cannot be split; the broker's
        message size limit must allow it).
        """
        rows = self.rows(from_seq, max_events)
        if not rows:
            return None
        head = (f'{{"v":1,"site":{json.dumps(site)},"device":{json.dumps(device)},'
                f'"session":{session},"floor":{floor},'
                + (f'"db":{json.dumps(db)},' if db else "")
                + (f'"prev_db":{json.dumps(fork.prev_db)},"fork_seq":{int(fork.fork_seq)},'
                   if db and fork else "") + '"events":[').encode("utf-8")
        parts: list[bytes] = []
        size = len(head) + 2
        first = int(rows[0][0])
        last = first - 1
        where = f'"site":{_js(site)},"device":{_js(device)}'
        for seq, eid, etype, ts_ms, mono_ms, boot, synced, data in rows:
            if seq != last + 1:
                break  # never skip over a hole within a batch
            if not (isinstance(data, str) and data.startswith("{") and data.endswith("}")):
                data = json.dumps(_load_data(data, seq), ensure_ascii=False, separators=(",", ":"))
            # The envelope of StoredEvent.envelope(), written out directly: this loop is the
            # drain's cost per event. `data` is spliced in as the store wrote it (a JSON
            # object) instead of being parsed and encoded again.
            blob = (f'{{"v":1,"id":{json.dumps(eid)},{where},"seq":{int(seq)},'
                    f'"boot":{_js(boot)},"type":{_js(etype)},"ts":{int(ts_ms)},'
                    f'"mono_ms":{int(mono_ms)},"clock_synced":{"true" if synced else "false"},'
                    f'"hist":{"true" if seq <= hist_through else "false"},"data":{data}}}'
                    ).encode("utf-8")
            if parts and size + len(blob) + 1 > max_bytes:
                break
            parts.append(blob)
            size += len(blob) + 1
            last = int(seq)
        return Batch(first, last, len(parts), head + b",".join(parts) + b"]}")


@functools.lru_cache(maxsize=256)
def _js(text: str) -> str:
    """JSON string literal (cached: types, boot ids and names repeat)."""
    return json.dumps(text, ensure_ascii=False)


def _load_data(text: str | None, seq: int) -> dict[str, Any]:
    try:
        data = json.loads(text) if text else {}
    except json.JSONDecodeError:
        logger.error("outbox seq %s: data is not JSON; sending it as a string", seq)
        return {"_raw": text}
    return data if isinstance(data, dict) else {"_value": data}
