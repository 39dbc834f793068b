"""Streams and twins: which stream a batch's database is stored under, and which streams
share seqs with it (ledger.py, "Streams" and "Forks", says why)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.central.tx import Tx

logger = logging.getLogger(__name__)

INF = 1 << 62   # "shares every seq": one database under two device names
STREAMS_OF_SITE = "SELECT key, db, parent_db, fork_seq, device FROM streams WHERE site=?"


def stream_key(tx: "Tx", streams: list[tuple[Any, ...]], site: str, device: str,
               db: str | None, now: int, prev_db: str | None = None,
               fork_seq: int | None = None) -> str:
    """The `device` key under which this database's events are stored; `streams` (the
    site's, as twins() reads them) is kept up to date with what this changes."""
    if db is None:
        return device  # an edge that does not name its database: one stream
    mine = [i for i, r in enumerate(streams) if r[4] == device]
    for i in mine:
        key, sdb, parent, _, _ = streams[i]
        if sdb != db:
            continue
        if prev_db is not None and parent is None:   # made before its fork was known
            tx.run("UPDATE streams SET parent_db=?, fork_seq=? WHERE site=? AND device=? "
                   "AND db=? AND parent_db IS NULL",
                   (prev_db, fork_seq or 0, site, device, db))
            streams[i] = (key, sdb, prev_db, fork_seq or 0, device)
        return str(key)
    known = len(mine)
    # The first database named for a device continues its stream (the events an
    # older edge sent without `db` came from it); a later one is a replacement.
    key = device if known == 0 else f"{device}~{known + 1}"
    if known:
        logger.warning("central: %s/%s sends from a new database %s%s: its events are "
                       "kept as the stream %s", site, device, db,
                       f" (its SD card came from database {prev_db}, up to seq {fork_seq})"
                       if prev_db else "", key)
    fork = fork_seq if prev_db else None
    tx.run("INSERT INTO streams(site, device, db, key, since_ms, parent_db, fork_seq) "
           "VALUES (?,?,?,?,?,?,?)", (site, device, db, key, now, prev_db, fork))
    streams.append((key, db, prev_db, fork, device))
    return key


def twins(rows: list[tuple[Any, ...]], key: str) -> list[tuple[str, int]]:
    """Streams sharing seqs with stream `key`: (their key, up to which seq), from the
    site's streams (key, db, parent_db, fork_seq, device).

    Two streams of one database (a device renamed) share every seq; a card's stream
    and the one it forked into (`prev_db`) share seqs up to `fork_seq`. Over several
    forks the narrowest link on the way counts (a widest-path search over the site's
    few streams).
    """
    if len(rows) < 2:
        return []
    links: dict[str, list[tuple[str, int]]] = {r[0]: [] for r in rows}
    for k1, db1, parent1, fork1, _ in rows:
        for k2, db2, _, _, _ in rows:
            if k1 == k2:
                continue
            if db1 == db2:
                links[k1].append((k2, INF))
            elif parent1 is not None and parent1 == db2:
                links[k1].append((k2, int(fork1 or 0)))
                links[k2].append((k1, int(fork1 or 0)))
    if not links.get(key):
        return []
    best: dict[str, int] = {key: INF}
    todo = [key]
    while todo:
        here = todo.pop()
        for there, width in links[here]:
            w = min(best[here], width)
            if w > best.get(there, 0):
                best[there] = w
                todo.append(there)
    return [(k, w) for k, w in best.items() if k != key and w > 0]
