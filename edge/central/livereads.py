"""Reads for the Situational Center's live screens, on both store back-ends: a stream's
new events by primary key, and what the states, health and devices tables say per device.

The screens fold each stream's new events as they come (edge/central/web/board.py)
instead of re-reading a site's whole day: a refresh reads only the seqs committed since
the last one (the primary key's range), so its cost follows the events that arrived,
not the size of the day or of the country.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from edge.central.reads import EVENT_COLUMNS, _loads

if TYPE_CHECKING:
    from edge.central.ledger import LedgerStore


def stream_events(store: "LedgerStore", site: str, stream: str, day: date, after: int,
                  upto: int) -> list[dict[str, Any]]:
    """Events of one stream with after < seq <= upto filed under `day`, in seq order, each
    with its `stream` (the (site, device, seq) primary key's range; `day` prunes the
    PostgreSQL months)."""
    with store._read() as tx:
        rows = tx.rows(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE site=? AND "
                       "device=? AND seq>? AND seq<=? AND day=? ORDER BY seq",
                       (site, stream, after, upto, store._day(day)))
    return [{**store._event(r), "stream": stream} for r in rows]


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
