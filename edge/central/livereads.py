"""Reads for the Situational Center's live screens, on both store back-ends: a stream's
new events by primary key, and what the states, health and devices tables say per device.

The screens fold each stream's new events as they come (edge/central/web/board.py)
instead of re-reading a site's whole day: a refresh reads only the seqs committed since
the last one (the primary key's range), every changed stream in one query, so its cost
follows the events that arrived, not the size of the day or of the country.
"""

from __future__ import annotations

from datetime import date
from itertools import groupby
from typing import TYPE_CHECKING, Any, Collection, Iterator

from edge.central.pg_store import PostgresStore
from edge.central.reads import EVENT_COLUMNS, _loads

if TYPE_CHECKING:
    from edge.central.ledger import LedgerStore


# One query reads at most this many streams' ranges, and about this many events (the
# first read of a day folds millions: it goes in pieces of a bounded size).
RANGES_PER_QUERY, EVENTS_PER_QUERY = 512, 50_000

_COLS = ", ".join(EVENT_COLUMNS)
# Each range must be a primary key range scan. SQLite: CROSS JOIN walks the ranges first
# (else it may scan the day's index). PostgreSQL: a LATERAL subquery behind OFFSET 0 (it
# cannot guess a range's size, and joined plainly it chose a hash join over the whole
# month's partition: 0.5 s instead of 10 ms for 100 streams).
RANGES_SQLITE = (f"SELECT c.site, c.device, {', '.join(f'e.{c}' for c in EVENT_COLUMNS)} "
                 "FROM c CROSS JOIN events e WHERE e.site = c.site AND e.device = c.device "
                 "AND e.seq > c.lo AND e.seq <= c.hi AND e.day = ? AND e.type IN ({types}) "
                 "ORDER BY c.site, c.device, e.seq")
RANGES_PG = (f"SELECT c.site, c.device, e.* FROM c CROSS JOIN LATERAL (SELECT {_COLS} "
             "FROM events WHERE site = c.site AND device = c.device AND seq > c.lo "
             "AND seq <= c.hi AND day = ? AND type IN ({types}) OFFSET 0) e "
             "ORDER BY c.site, c.device, e.seq")


def new_events(store: "LedgerStore", day: date, ranges: list[tuple[str, str, int, int]],
               types: Collection[str], *,
               per_query: tuple[int, int] = (RANGES_PER_QUERY, EVENTS_PER_QUERY)
               ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(site, its events) for (site, stream, after, upto) ranges: each stream's events of
    `types` with after < seq <= upto filed under `day`, in seq order, each with its
    `stream` (a site may come twice when its ranges fill more than one query; a stream
    never does). Naming the types spares decoding the rest (prints, health of the queue...),
    about half of an edge's events."""
    # The ranges go in a VALUES list joined to events, so a refresh that saw a hundred
    # streams change makes one round trip, not a hundred.
    ranges = sorted(ranges)
    wanted = sorted(types)
    most_ranges, most_events = per_query
    while ranges:
        n, size = 0, 0
        while n < len(ranges) and n < most_ranges and (n == 0 or size < most_events):
            size += ranges[n][3] - ranges[n][2]
            n += 1
        part, ranges = ranges[:n], ranges[n:]
        # Padded to a power of two with empty ranges: few distinct statements to prepare.
        width = 8
        while width < len(part):
            width *= 2
        args: list[Any] = [x for r in part for x in r]
        args += ["", "", 0, 0] * (width - len(part))
        values = ", ".join(["(CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), "
                            "CAST(? AS BIGINT))"] * width)
        with store._read() as tx:
            rows = tx.rows(f"WITH c(site, device, lo, hi) AS (VALUES {values}) " + (
                RANGES_PG if isinstance(store, PostgresStore) else RANGES_SQLITE).format(
                    types=", ".join("?" for _ in wanted)), [*args, store._day(day), *wanted])
        for site, site_rows in groupby(rows, key=lambda r: str(r[0])):
            events = []
            for r in site_rows:
                e = store._event(r[2:])
                e["stream"] = r[1]
                events.append(e)
            yield site, events


def devices_now(store: "LedgerStore") -> list[dict[str, Any]]:
    """Every device and stream central knows: its stored range (`contiguous`, by stream
    key), its last birth or will, and its last health (three small tables, one read)."""
    with store._read() as tx:
        streams = tx.rows("SELECT site, device, contiguous, last_seen_ms FROM devices")
        states = tx.rows("SELECT site, device, online, received_ms FROM states")
        health = tx.rows("SELECT site, device, payload, received_ms FROM health")
    out: dict[tuple[str, str], dict[str, Any]] = {}

    def row(site: str, device: str) -> dict[str, Any]:
        return out.setdefault((site, device), {
            "site": site, "device": device, "streams": {}, "online": None, "state_ms": None,
            "health": None, "health_ms": None, "last_seen_ms": None})
    for site, key, contiguous, seen in streams:
        r = row(site, key.split("~", 1)[0])   # `edge-1~2`: a later stream of edge-1
        r["streams"][key] = int(contiguous)
        r["last_seen_ms"] = max(r["last_seen_ms"] or 0, int(seen or 0)) or None
    for site, device, online, received in states:
        r = row(site, device)
        r["online"], r["state_ms"] = bool(online), int(received)
    for site, device, payload, received in health:
        r = row(site, device)
        try:
            r["health"] = _loads(payload)
        except ValueError:
            r["health"] = None
        r["health_ms"] = int(received)
    return [out[k] for k in sorted(out)]
