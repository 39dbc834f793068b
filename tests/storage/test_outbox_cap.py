"""trim_to_cap: the one outbox cap walk that the sync link and the trim (sync disabled) share."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.storage.outbox import DROPPED_THROUGH, Outbox, trim_to_cap
from edge.storage.connect import connect
from edge.storage.store import QueueStore


def _outbox_with(path: Path, seqs: list[int]) -> Outbox:
    """A real edge database whose outbox holds exactly `seqs`."""
    QueueStore(path).close()
    conn = connect(path)
    conn.executemany("INSERT INTO outbox(seq, id, type, ts_ms, mono_ms, boot, clock_synced, data) "
                     "VALUES (?, ?, 'test.event', 0, 0, 'b', 1, '{}')",
                     [(s, f"e{s}") for s in seqs])
    conn.close()
    return Outbox(path)


@pytest.mark.parametrize("seqs, cap, drop, expected", [
    # (events in the outbox, cap, drop_oldest?) -> (count, first, through, deleted, left)
    ([], 100, True, (0, 0, 0, 0, 0)),
    (list(range(1, 100)), 100, True, (99, 0, 0, 0, 99)),          # under the cap: kept
    (list(range(1, 101)), 100, True, (100, 1, 1, 1, 99)),         # at the cap: 1 % headroom
    (list(range(1, 101)), 100, False, (100, 0, 0, 0, 100)),       # "keep": nothing deleted
    (list(range(51, 301)), 200, True, (250, 51, 102, 52, 198)),   # acked rows gone before
    (list(range(1, 11)), 5, True, (10, 1, 6, 6, 4)),              # a tiny cap keeps one free
    ([1, 2, 5, 6, 7, 8, 9, 10], 5, True, (10, 1, 6, 4, 4)),       # a hole: the range counts
])
def test_trim_to_cap_drops_the_oldest_down_to_99_percent(
        tmp_path: Path, seqs: list[int], cap: int, drop: bool,
        expected: tuple[int, int, int, int, int]) -> None:
    """Risk: the link and the trim drop different ranges (or the drop's own report trips
    the next drop), and a link enabled later waits for rows that are gone."""
    outbox = _outbox_with(tmp_path / "kezek.db", seqs)
    try:
        trim = trim_to_cap(outbox, cap, drop=drop)
        assert (trim.count, trim.first, trim.through, trim.deleted, trim.left) == expected
        kept = [s for s in seqs if s > trim.through]
        assert outbox.bounds() == ((kept[0], kept[-1]) if kept else None)
        # The gap is recorded in the same transaction as the delete, or not at all.
        assert outbox.get_int(DROPPED_THROUGH, 0) == trim.through
    finally:
        outbox.close()
