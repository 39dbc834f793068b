"""Central's event ledger, back-end neutral: store a batch once, ack what is committed.

`LedgerStore.store_batch` is the one algorithm both back-ends run (SQLite for the demo
and a small region, PostgreSQL for the country): insert a batch idempotently in one
transaction and return the newest seq below which every event is stored (the ack). A
back-end gives it a transaction (`_tx`), a lock that serialises the batches of one site
(`_lock_sites`: SQLite's write lock, a PostgreSQL advisory lock) and a bulk insert; the
SQL itself is written once, with `?` placeholders, in the dialect both accept.

Why a site lock: batches of one device may reach different central instances in any
order (a shared subscription), and what a batch does depends on what is stored for its
stream and for the site's other streams (twins, below). Under the lock each transaction
sees every batch committed before it, so the ack it computes is true. Sites never share
streams, so different sites are stored in parallel.

Streams: an edge names its database (`db`, a uuid made once per database). A device whose
database was replaced (a new SD card: seq starts again at 1) gets a new stream, stored
under the key `<device>~2`, `~3`... in the `device` column of every table, so its events
sit beside the old ones instead of clashing with them. An event whose (stream, seq) is
stored with another id is a conflict: it is kept whole in `conflicts`, never dropped.

Forks: an SD card moved to (or copied onto) another board gets a new `db` there and names
the old one (`prev_db`) and the newest seq it held then (`fork_seq`). Its events up to that
seq may also come under the old `db` (from the other box, or sent before the move) with
the same event `id`. Streams that share seqs this way are twins up to the lowest
`fork_seq` between them: an event a twin already holds under the same (seq, id) is not
stored again but noted in `copies` (where it is stored), and counts as held for the ack.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any

from edge.central.days import DayOf
from edge.central.reads import MEASURES, StoreReads, now_ms
from edge.central.streams import INF, stream_key, twins
from edge.central.tx import Pending, StoreResult, Tx, Write, data_json
from edge.central.ticket_page.projection import projection_write
from edge.central.ticket_page.projection import trim as trim_ticket_pages
from edge.sync.protocol import EventBatch, EventEnvelope

logger = logging.getLogger(__name__)

# A stream's mark (kind 0), what it holds of a range lo..hi (kind 1: events, copies), and
# the first seq it holds beyond hi (kind 2).
HEAD_SQL = (
    "SELECT 0, contiguous, NULL, NULL FROM devices WHERE site=? AND device=? "
    "UNION ALL SELECT 1, seq, id, device FROM events WHERE site=? AND device=? "
    "AND seq BETWEEN ? AND ? "
    "UNION ALL SELECT 1, seq, id, stored_in FROM copies WHERE site=? AND device=? "
    "AND seq BETWEEN ? AND ? "
    "UNION ALL SELECT 2, seq, NULL, NULL FROM (SELECT seq FROM events WHERE site=? "
    "AND device=? AND seq>? ORDER BY seq LIMIT 1) AS e "
    "UNION ALL SELECT 2, seq, NULL, NULL FROM (SELECT seq FROM copies WHERE site=? "
    "AND device=? AND seq>? ORDER BY seq LIMIT 1) AS c")


def _head_args(batch: EventBatch, device: str) -> tuple[Any, ...]:
    site, lo, hi = batch.site, batch.events[0].seq, batch.events[-1].seq
    return (site, device) + (site, device, lo, hi) * 2 + (site, device, hi) * 2


class LedgerStore(StoreReads):
    schema_version = 0   # set by the back-end once its migrations ran
    """The algorithm and the reads; subclasses give transactions and dialect details."""

    def __init__(self, timezone: str = "Asia/Almaty") -> None:
        self.day_of = DayOf(timezone)

    # -- what a back-end provides -------------------------------------------------------
    def _tx(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def _lock_sites(self, tx: Tx, sites: list[str], wait: bool = True
                    ) -> list[list[tuple[Any, ...]] | None]:
        """Take each site's lock in the order given, and read its streams (key, db,
        parent_db, fork_seq, device) once it is held. With wait=False a lock another
        transaction holds is not waited for: that site's entry is None."""
        raise NotImplementedError

    def _lock_migrations(self, tx: Tx) -> None:
        raise NotImplementedError

    def _events_write(self, rows: list[tuple[Any, ...]]) -> Write:
        """The write inserting (site, device, seq, id, type, ts, mono_ms, boot, clock_synced,
        hist, data json, received_ms, day) rows, skipping a key already there."""
        raise NotImplementedError

    def _before_batch(self, days: set[date]) -> None:
        """Called outside the transaction with the days a batch files events under."""

    def _after_batches(self, tx: Tx, sites: list[str]) -> None:
        """Called inside the batches' transaction, after their writes."""

    def _load(self, data: Any) -> Any:
        return data

    def close(self) -> None:
        raise NotImplementedError

    def is_transient(self, e: Exception) -> bool:
        """Is `e` the database being briefly unreachable (worth retrying the batch)?"""
        return False

    def apply_retention(self, days: int, today: date) -> int:
        raise NotImplementedError

    def maintain(self, retention_days: int | None, today: date | None = None) -> None:
        """Periodic upkeep: the retention setting (and PostgreSQL's partitions ahead)."""
        today = today or datetime.now(self.day_of.zone).date()
        if retention_days:
            self.apply_retention(retention_days, today)
        with self._tx() as tx:
            trim_ticket_pages(tx, today)

    # -- writing ----------------------------------------------------------------------
    def next_session(self) -> int:
        with self._tx() as tx:
            row = tx.rows("INSERT INTO meta(key, value) VALUES ('session', '1') "
                          "ON CONFLICT(key) DO UPDATE SET "
                          "value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT) RETURNING value")
        return int(row[0][0])

    def store_batch(self, batch: EventBatch) -> StoreResult:
        """Insert what is new, in one transaction; the result's acked_seq is committed."""
        return self.store_batches([batch])[0]

    def store_batches(self, batches: list[EventBatch]) -> list[StoreResult]:
        """Store several batches in one transaction (one commit for all), each as
        store_batch would; results in the order given.

        Every site of the group is locked first, in name order (so instances never wait
        on each other in a cycle), and its streams read under the lock. Then the batches
        go in waves of one batch per site, a site's batches in the order given: the
        batches of a wave touch different sites, so their reads go to the database
        together and so do their writes (PostgreSQL: one round trip each).

        Sites another instance holds right now are not waited for in that transaction:
        it would hold all its other sites meanwhile, and every instance wanting one of
        those would queue behind it (a shared subscription gives two instances batches of
        one site at once as a matter of course: docs/performance.md measured lock waits
        in nearly every sample). Their batches go in a second transaction that waits.
        """
        now = now_ms()
        days = {self.day_of(ev.ts, ev.clock_synced, now) for b in batches for ev in b.events}
        self._before_batch(days)
        results: list[StoreResult | None] = [None] * len(batches)
        # A failure (a full disk, a lost server) is raised as it is: no ack goes out, the
        # edges send the batches again (what the first transaction committed is then
        # found stored, and acked).
        busy = self._store_group(batches, list(range(len(batches))), now, results, wait=False)
        if busy:
            self._store_group(batches, busy, now, results, wait=True)
        return [r for r in results if r is not None]

    def _store_group(self, batches: list[EventBatch], indexes: list[int], now: int,
                     results: list[StoreResult | None], wait: bool) -> list[int]:
        """One transaction storing batches[indexes] (results filled in); without `wait`,
        the indexes whose site another transaction held are returned, not stored."""
        order = sorted(indexes, key=lambda i: batches[i].site)
        with self._tx() as tx:
            sites = sorted({batches[i].site for i in indexes})
            # _stream keeps each list up to date with the streams it adds.
            streams = {site: held for site, held in zip(sites, self._lock_sites(tx, sites, wait))
                       if held is not None}
            busy = sorted(i for i in indexes if batches[i].site not in streams)
            pending = [i for i in order if batches[i].site in streams]
            while pending:
                wave: list[int] = []
                rest: list[int] = []
                for i in pending:
                    (rest if wave and batches[wave[-1]].site == batches[i].site
                     else wave).append(i)
                keys = [stream_key(tx, streams[batches[i].site], batches[i].site,
                                     batches[i].device, batches[i].db, now,
                                     batches[i].prev_db, batches[i].fork_seq) for i in wave]
                heads = tx.rows_many([(HEAD_SQL, _head_args(batches[i], key))
                                      for i, key in zip(wave, keys)])
                out = Pending(self)
                for i, key, head in zip(wave, keys, heads):
                    results[i] = self._store(tx, batches[i], now, streams[batches[i].site],
                                             key, head, out)
                out.flush(tx)
                pending = rest
            if streams:
                self._after_batches(tx, sorted(streams))
        return busy

    def _store(self, tx: Tx, batch: EventBatch, now: int, streams: list[tuple[Any, ...]],
               device: str, head: list[tuple[Any, ...]], out: Pending) -> StoreResult:
        """One batch of stream `device`, from what HEAD_SQL found; its writes are added to
        `out` (the caller sends them), except those a later read of its own must see."""
        site = batch.site
        duplicates = conflicts = copies = 0
        twin_streams = twins(streams, device)
        # From one query: the stream's mark, what is already stored in the whole range of
        # the batch (a resend after a lost ack, or another database's events under the
        # same seqs), and the first seq stored beyond it. Ids are compared below the
        # contiguous mark too, else a replaced database's events would pass for
        # duplicates and be acked without being stored.
        lo, hi = batch.events[0].seq, batch.events[-1].seq
        contiguous: int | None = None
        above: int | None = None
        stored_ids: dict[int, str] = {}
        for kind, seq, eid, _ in head:
            if kind == 0:
                contiguous = int(seq)
            elif kind == 1:
                stored_ids[int(seq)] = str(eid)
            else:
                above = int(seq) if above is None else min(above, int(seq))
        own = Pending(self)
        writes = own.writes
        if contiguous is None:
            writes.append(("INSERT INTO devices(site, device) VALUES (?, ?)", (site, device),
                           False))
            contiguous = 0
        before = contiguous
        # What twin streams hold of this range (seq -> id -> the stream storing it).
        in_twins: dict[int, dict[str, str]] = {}
        for key, shared in twin_streams:
            for seq, eid, where in self._held(tx, site, key, lo, min(hi, shared)):
                in_twins.setdefault(seq, {}).setdefault(eid, where)
        fresh: list[EventEnvelope] = list(batch.events)
        copied = [(ev, in_twins[ev.seq][ev.id]) for ev in fresh
                  if ev.seq not in stored_ids and ev.id in in_twins.get(ev.seq, {})]
        if copied:
            writes.append(("INSERT INTO copies(site, device, seq, id, stored_in, received_ms) "
                           "VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                           [(site, device, ev.seq, ev.id, where, now) for ev, where in copied],
                           True))
            copies = len(copied)
            for ev, _ in copied:
                stored_ids[ev.seq] = ev.id
            copied_seqs = {e.seq for e, _ in copied}
            fresh = [ev for ev in fresh if ev.seq not in copied_seqs]
        new = [ev for ev in fresh if ev.seq not in stored_ids]
        # Checked absent above, under the site's lock: all of them are inserted (the
        # insert's ON CONFLICT is a safety net only).
        inserted = len(new)
        if new:
            rows = [(site, device, ev.seq, ev.id, ev.type, ev.ts, ev.mono_ms, ev.boot,
                     ev.clock_synced, ev.hist, data_json(ev.data), now,
                     self.day_of(ev.ts, ev.clock_synced, now)) for ev in new]
            own.events += rows
            self._roll_up(own.roll, site, new, [r[12] for r in rows])
            # The visitor's ticket page, in the same transaction as the events.
            page = projection_write(site, device, new)
            if page is not None:
                own.writes.append(page)
        for ev in fresh:
            stored_id = stored_ids.get(ev.seq)
            if stored_id is None:
                continue
            if stored_id == ev.id:
                duplicates += 1
                continue
            # Same seq, another event: a database replaced without a new `db` (an old
            # edge, a restored backup). Keep the first in `events` and this one whole in
            # `conflicts` (once, however often it is resent), so that the ack covering it
            # deletes nothing central does not hold.
            conflicts += 1
            writes.append((
                "INSERT INTO conflicts(site, device, seq, stored_id, new_id, received_ms, "
                "type, ts, mono_ms, boot, clock_synced, hist, data) "
                "SELECT ?,?,?,?,?,?,?,?,?,?,?,?,? WHERE NOT EXISTS (SELECT 1 FROM "
                "conflicts WHERE site=? AND device=? AND seq=? AND new_id=?)",
                (site, device, ev.seq, stored_id, ev.id, now, ev.type, ev.ts, ev.mono_ms,
                 ev.boot, ev.clock_synced, ev.hist, data_json(ev.data),
                 site, device, ev.seq, ev.id), False))
        if batch.floor > contiguous:
            # The edge holds nothing at or below floor any more: what we lack there is gone
            # for good (dropped at the edge's outbox cap, or acked to another store). A
            # forked stream starts at the card's floor: below it, its twins hold the
            # events (acked to the card under its earlier `db`).
            own.flush(tx)
            writes = own.writes
            missing = batch.floor - contiguous - self._count_held(
                tx, site, [(device, INF)] + twin_streams, contiguous, batch.floor)
            if missing:
                writes.append(("INSERT INTO gaps(site, device, from_seq, to_seq, reason, "
                               "received_ms) VALUES (?,?,?,?,?,?)",
                               (site, device, contiguous + 1, batch.floor,
                                f"{missing} events no longer held by the edge", now), False))
            contiguous = batch.floor
        if lo <= contiguous + 1:
            # Every seq of this consecutive batch is stored now (new, or there already):
            # no need to read them back to move the contiguous mark over them.
            contiguous = max(contiguous, hi)
        # The mark was as far as it could go before this batch; only a move can let it go
        # further, over seqs stored earlier beyond it (a batch that came early).
        if contiguous != before and (contiguous != hi or above is not None):
            own.flush(tx)
            writes = own.writes
            contiguous = self._advance(tx, site, device, contiguous)
        writes.append(("UPDATE devices SET contiguous=?, stored=stored+?, duplicates=duplicates+?,"
                       " conflicts=conflicts+?, copies=copies+?, last_seen_ms=? "
                       "WHERE site=? AND device=?",
                       (contiguous, inserted, duplicates, conflicts, copies, now, site, device),
                       False))
        out.merge(own)
        resend = contiguous + 1 if lo > contiguous + 1 else None
        return StoreResult(contiguous, inserted, duplicates, conflicts, resend, copies)

    def _roll_up(self, roll: dict[tuple[str, Any, str, str], list[int]], site: str,
                 events: list[EventEnvelope], days: list[date]) -> None:
        """Add the batch's new events to the day roll-up rows in `roll` (reads.MEASURES)."""
        for ev, day in zip(events, days):
            service = ev.data.get("service")
            key = (site, self._day(day), ev.type,
                   service[:64] if isinstance(service, str) else "")
            measure = ev.data.get(MEASURES.get(ev.type, ""))
            cell = roll.setdefault(key, [0, 0])
            cell[0] += 1
            if isinstance(measure, int) and not isinstance(measure, bool):
                cell[1] += measure

    def _held(self, tx: Tx, site: str, key: str, lo: int, hi: int) -> list[tuple[Any, ...]]:
        """(seq, id, stream storing it) of what stream `key` holds in lo..hi."""
        if hi < lo:
            return []
        return tx.rows(
            "SELECT seq, id, device FROM events WHERE site=? AND device=? AND seq BETWEEN ? AND ?"
            " UNION ALL SELECT seq, id, stored_in FROM copies WHERE site=? AND device=? AND "
            "seq BETWEEN ? AND ?", (site, key, lo, hi, site, key, lo, hi))

    def _count_held(self, tx: Tx, site: str, streams: list[tuple[str, int]], after: int,
                    through: int) -> int:
        """How many seqs in (after, through] any of `streams` (key, up to seq) holds."""
        parts: list[str] = []
        args: list[Any] = []
        for key, shared in streams:
            top = min(through, shared)
            if top <= after:
                continue
            for table in ("events", "copies"):
                parts.append(f"SELECT seq FROM {table} WHERE site=? AND device=? AND seq>? "
                             "AND seq<=?")
                args += [site, key, after, top]
        if not parts:
            return 0
        return int(tx.rows(f"SELECT COUNT(*) FROM ({' UNION '.join(parts)}) AS held",
                           args)[0][0])

    def _advance(self, tx: Tx, site: str, device: str, contiguous: int) -> int:
        while True:
            rows = tx.rows(
                "SELECT seq FROM events WHERE site=? AND device=? AND seq>? UNION "
                "SELECT seq FROM copies WHERE site=? AND device=? AND seq>? ORDER BY seq "
                "LIMIT 1000", (site, device, contiguous, site, device, contiguous))
            for (seq,) in rows:
                if seq != contiguous + 1:
                    return contiguous
                contiguous = seq
            if len(rows) < 1000:
                return contiguous

    def put_health(self, site: str, device: str, payload: dict[str, Any]) -> None:
        with self._tx() as tx:
            tx.run("INSERT INTO health(site, device, payload, received_ms) VALUES (?,?,?,?) "
                   "ON CONFLICT(site, device) DO UPDATE SET payload=excluded.payload, "
                   "received_ms=excluded.received_ms",
                   (site, device, data_json(payload), now_ms()))

    def put_state(self, site: str, device: str, online: bool, session: int,
                  db: str | None = None) -> None:
        # A will from an older session must not overwrite a newer birth. The session
        # counter lives in the edge's database, so a replaced database starts again at 1:
        # a birth naming another database wins whatever its session, while a will from
        # another database (the old card's, late) changes nothing.
        with self._tx() as tx:
            tx.run(
                "INSERT INTO states(site, device, online, session, received_ms, db) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT(site, device) DO UPDATE SET "
                "online=excluded.online, session=excluded.session, "
                "received_ms=excluded.received_ms, db=coalesce(excluded.db, states.db) "
                "WHERE (excluded.session >= states.session AND (excluded.db IS NULL "
                "OR states.db IS NULL OR excluded.db = states.db)) "
                "OR (excluded.online AND excluded.db IS NOT NULL "
                "AND (states.db IS NULL OR excluded.db <> states.db))",
                (site, device, bool(online), session, now_ms(), db))
