"""A SQLite write transaction that never leaves its connection inside it, whatever fails.

SQLite ends a failed transaction in two ways, and a caller must handle both:
  * COMMIT refused with SQLITE_BUSY (a reader held its lock past the busy timeout) keeps
    the transaction open, so that the COMMIT can be retried. Left open, it holds the
    write lock (every other writer, the queue's included, then fails), its reads see
    changes never committed, and the next BEGIN fails with "cannot start a transaction
    within a transaction".
  * SQLITE_FULL or an I/O error in a statement or in the COMMIT may roll the transaction
    back by itself; a ROLLBACK after it fails with "no transaction is active", and that
    error must not replace the real fault.
So: roll back only what is still open, never raise from the rollback, and re-raise the
first error. The queue store's commit() uses roll_back() too (its BEGIN and COMMIT stay
inline: a visitor's press is not the place for a generator's frames).
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import contextmanager
from typing import Iterator

logger = logging.getLogger(__name__)


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT on `conn` (opened with isolation_level=None).

    Any failure inside or at the COMMIT ends the transaction (see roll_back) and
    propagates unchanged: nothing of it is kept, and the connection works for the next.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        roll_back(conn)
        raise


def roll_back(conn: sqlite3.Connection) -> None:
    """End `conn`'s open transaction, if SQLite has not already; never raises, so that a
    failed ROLLBACK cannot hide the error that made the caller roll back."""
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error as e:
        logger.warning("rollback of a failed write failed too: %s", e)
