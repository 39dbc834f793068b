"""Optional: tell an SMS gateway when a visitor's turn is near (N or fewer ahead).

`kezek central run --turn-near-url URL [--turn-near-ahead N]`: after central stored a
batch of a site (Central.listeners), the thread `kezek-central-turn-near` looks at that
site's waiting tickets of today that have a token and were not announced yet; each with
`ahead` N or fewer is POSTed to URL as JSON, once:

    {"site": "ast-01", "ticket": "A-017", "service": "docs", "ahead": 3, "token": "…",
     "day": "2026-12-07"}

(the token lets the gateway link the visitor's page, or a phone the visitor left with it).
A POST that fails (no answer in timeout_s, or not a 2xx) is tried again after a Backoff
(1 s, doubling to 60 s); what was sent is marked in `ticket_pages.notified_ms` first after
a 2xx, so a ticket is announced at most once per success and at least once while the
gateway comes back the same day.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from edge.backoff import Backoff
from edge.central.reads import now_ms
from edge.central.ticket_page.reads import AHEAD_SQL
from edge.worker import Worker

if TYPE_CHECKING:
    from edge.central.ledger import LedgerStore

logger = logging.getLogger(__name__)

Post = Callable[[str, bytes, float], None]
RECHECK_S = 30.0   # a site is looked at again this often while it has pending tickets


def http_post(url: str, body: bytes, timeout_s: float) -> None:
    """POST JSON; raises on no answer or an answer that is not 2xx."""
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 - config'd URL
        if not 200 <= resp.status < 300:
            raise OSError(f"the gateway answered {resp.status}")


class TurnNear:
    """The hook: `on_stored` is a Central listener; one thread does the POSTs."""

    name = "turn-near"

    def __init__(self, store: "LedgerStore", url: str, *, ahead: int = 3,
                 post: Post = http_post, timeout_s: float = 5.0,
                 backoff: Backoff | None = None, clock: Callable[[], int] = now_ms) -> None:
        if ahead < 0:
            raise ValueError(f"--turn-near-ahead must be 0 or more, not {ahead}")
        self.store = store
        self.url = url
        self.ahead = ahead
        self.post = post
        self.timeout_s = timeout_s
        self.backoff = backoff or Backoff(1.0, 60.0)
        self.clock = clock
        self.sent = 0
        self._lock = threading.Lock()
        self._sites: set[str] = set()
        self._watched: set[str] = set()     # sites with waiting tickets not yet announced
        self.worker = Worker("kezek-central-turn-near", self._loop)

    def on_stored(self, site: str, device: str, result: Any) -> None:
        """Central's listener (its storing thread): only note the site and wake."""
        with self._lock:
            self._sites.add(site)
        self.worker.wake()

    def start(self) -> None:
        self.worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.worker.stop(timeout)

    def health(self) -> dict[str, Any]:
        return {"ok": self.worker.ok, "sent": self.sent, "error": self.worker.problem()}

    def _loop(self) -> None:
        while True:
            if self.worker.wait(RECHECK_S):
                return
            with self._lock:
                sites, self._sites = self._sites | self._watched, set()
            try:
                for site in sorted(sites):
                    self.check(site)
                self.backoff.reset()
                self.worker.recovered()
            except Exception as e:  # the gateway or the store: tried again, later
                self.worker.failed(e, f"turn-near: cannot notify {self.url}")
                with self._lock:
                    self._sites |= sites
                if self.worker.sleep(self.backoff.next()):
                    return
                self.worker.wake()

    def check(self, site: str) -> int:
        """Announce the site's tickets whose turn is near; how many were sent."""
        today = datetime.fromtimestamp(self.clock() / 1000, self.store.day_of.zone).date()
        day = today.isoformat()
        with self.store._read() as tx:
            waiting = tx.rows(
                "SELECT device, ticket_id, token, label, service, category, queued_ts "
                "FROM ticket_pages WHERE site=? AND day=? AND state='waiting' AND "
                "token IS NOT NULL AND notified_ms IS NULL ORDER BY queued_ts", (site, day))
            due = []
            for device, tid, token, label, service, category, queued in waiting:
                normal = 1 if (category or "normal") == "normal" else 0
                n = int(tx.rows(AHEAD_SQL, (site, device, service, day, tid, queued, queued,
                                            tid, normal))[0][0])
                if n <= self.ahead:
                    due.append((device, tid, {"site": site, "ticket": label, "service": service,
                                              "ahead": n, "token": token, "day": day}))
        with self._lock:
            if len(waiting) > len(due):
                self._watched.add(site)
            else:
                self._watched.discard(site)
        sent = 0
        for device, tid, payload in due:
            self.post(self.url, json.dumps(payload).encode(), self.timeout_s)
            with self.store._tx() as tx:
                tx.run("UPDATE ticket_pages SET notified_ms=? WHERE site=? AND device=? AND "
                       "ticket_id=?", (self.clock(), site, device, tid))
            sent += 1
            self.sent += 1
        return sent
