"""WAL checkpoints on their own thread and connection, off the path of a visitor's press.

SQLite folds the WAL back into the database file in the commit that crosses
`wal_autocheckpoint` pages: that one commit also copies ~1,000 pages and fsyncs the
database file, several times the cost of an ordinary commit. At ~8 pages per queue
command that is one press in ~125 — exactly the p99 a visitor feels. A PASSIVE
checkpoint from another connection does the same work while the controller goes on
committing (WAL lets a writer append while frames are copied back).

A checkpoint runs after every EVERY_COMMITS commits (about SQLite's own 1,000 pages),
or after a quiet IDLE_INTERVAL_S. If this thread stops for any reason, the writer's own
autocheckpoint (set to FALLBACK_PAGES) still keeps the WAL bounded.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Callable

from edge.worker import Worker

logger = logging.getLogger(__name__)

# The writer checkpoints by itself only past this many WAL pages (~16 MB of 4 KiB pages):
# never in normal running, where this thread keeps the WAL far smaller.
FALLBACK_PAGES = 4000
# A command writes 5-6 pages, so 200 commits are about SQLite's own default of 1,000 pages.
EVERY_COMMITS = 200
# ... and on a quiet day, whatever is pending after this long. Not more often: an SD card
# lasts longer when a page changed by 100 commands is copied back once, not 100 times.
IDLE_INTERVAL_S = 30.0


class WalCheckpointer:
    """Runs `PRAGMA wal_checkpoint(PASSIVE)` after `every_commits` commits, or after
    `interval_s` with anything committed. The store calls note_commit() per commit."""

    def __init__(self, path: Path, connect: Callable[[Path], sqlite3.Connection], *,
                 every_commits: int = EVERY_COMMITS, interval_s: float = IDLE_INTERVAL_S) -> None:
        self.path = Path(path)
        self._connect = connect  # the store's: the same pragmas as every Kezek connection
        self.every_commits = every_commits
        self.interval_s = interval_s
        self._pending = 0
        self.worker = Worker("kezek-checkpoint", self._run)
        self.checkpoints = 0       # checkpoints that copied frames back (tests, status)
        self.last_error: str | None = None

    def note_commit(self) -> None:
        """Called on the writer's thread after each commit: only counts and signals."""
        self._pending += 1
        if self._pending >= self.every_commits:
            self.worker.wake()

    def start(self) -> None:
        self.worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.worker.stop(timeout)

    def checkpoint_once(self, conn: sqlite3.Connection) -> tuple[int, int]:
        """One passive checkpoint; returns (frames in the WAL, frames copied back)."""
        # Reset before the checkpoint: commits made while it runs count for the next one.
        self._pending = 0
        busy, log_frames, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if done > 0:
            self.checkpoints += 1
        return log_frames, done

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            # synchronous=FULL there: the database file is fsynced after the copy, before
            # the WAL restarts.
            conn = self._connect(self.path)
            while True:
                if self.worker.wait(self.interval_s):
                    return
                if self._pending == 0:
                    continue
                try:
                    self.checkpoint_once(conn)
                    self.last_error = None
                except sqlite3.Error as e:
                    # Not fatal: the writer's fallback autocheckpoint bounds the WAL. Logged
                    # once per distinct error, so a full disk does not flood the journal.
                    if str(e) != self.last_error:
                        logger.warning("WAL checkpoint of %s failed: %s (will retry)", self.path, e)
                    self.last_error = str(e)
        except sqlite3.Error as e:
            logger.error("WAL checkpoints of %s stopped: %s; the writer checkpoints by itself "
                         "every %d pages instead", self.path, e, FALLBACK_PAGES)
        finally:
            if conn is not None:
                conn.close()
