"""The visitor's ticket page: `/t/<token>`, public, for the phone that scanned the QR.

Routes to mount into central's web app (`ticket_page_routes(store, clock)`): the page
itself (the same bytes for every token, so a forged token and a real one cannot be told
apart by the page), its state as JSON, a live stream of that state (server-sent events,
edge/web/live.py), and the rating form's POST. Every answer about a token that is not
today's ticket is the same "unknown or expired" (404, same body). Each client address is
rate-limited (edge/web/lockout.py RateLimit): a guesser gets 429s long before a token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Mapping
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from edge.central.ticket_page.reads import SCORES, rate, ticket_and_site
from edge.queue.tokens import is_token
from edge.web.live import Live, sse
from edge.web.lockout import RateLimit
from edge.web.pages import Files, csp

if TYPE_CHECKING:
    from edge.central.ledger import LedgerStore
    from edge.clock import Clock

logger = logging.getLogger(__name__)

FILES = {"/t/ticket.css": "ticket.css", "/t/ticket.js": "ticket.js"}
PAGE = "ticket.html"
# (site, service id) -> its names by language, e.g. from the cfg central publishes.
Names = Callable[[str, str], "Mapping[str, str] | None"]
UNKNOWN = json.dumps({"known": False}).encode()
_NO_STORE = {"Cache-Control": "no-store", "Connection": "close"}
MAX_BODY = 256   # the rating form's body ("score=5")


@dataclass(frozen=True)
class PageLimits:
    """What one client may ask of the page, and what all may hold open."""

    rate: float = 1.0           # requests a second per client address, on average...
    burst: int = 30             # ...with this many at once (a page load is 4 requests)
    rate_post: float = 1 / 30   # rating posts a second per client address
    burst_post: int = 3
    max_streams: int = 2000     # live pages open at once (each is one connection)
    poll_s: float = 2.0         # without `changes`: a live page's state is read this often
    fallback_s: float = 5.0     # with `changes`: read at least this often (another
    #                             instance stored the batch, a wake-up was missed)
    keepalive_s: float = 15.0   # a ping on a quiet stream, so the page knows it is live
    retry_ms: int = 3000        # the browser's reconnect delay after a lost stream


class SiteChanges:
    """Wakes the live pages of one site when central stored a batch of it: `publish(site)`
    from any thread (Central.listeners; PostgreSQL's NOTIFY kezek_stored for batches other
    instances stored). Only that site's pages read their ticket again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sites: dict[str, Live] = {}

    def of(self, site: str) -> Live:
        with self._lock:
            live = self._sites.get(site)
            if live is None:
                live = self._sites[site] = Live()
            return live

    def publish(self, site: str) -> None:
        with self._lock:
            live = self._sites.get(site)
        if live is not None:     # nobody watches a site no page was opened for
            live.publish(site)

    def close(self) -> None:
        with self._lock:
            sites, self._sites = list(self._sites.values()), {}
        for live in sites:
            live.close()


class TicketPage:
    """The page's handlers; `changes` (optional) wakes a site's live pages when central
    stored a batch of it; without it they poll every poll_s."""

    def __init__(self, store: "LedgerStore", clock: "Clock", *, names: Names | None = None,
                 changes: SiteChanges | None = None, limits: PageLimits = PageLimits()) -> None:
        self.store = store
        self.clock = clock
        self.names = names
        self.changes = changes
        self.limits = limits
        self.files = Files("edge.central.ticket_page.static", {"/t/": PAGE, **FILES})
        self.page = self.files.bodies["/t/"]
        self.policy = csp({"page": self.page}, forms=True)
        self.requests = RateLimit(limits.rate, limits.burst)
        self.posts = RateLimit(limits.rate_post, limits.burst_post)
        self._streams = 0
        self._lock = threading.Lock()

    def routes(self) -> list[BaseRoute]:
        return [*(Route(path, self._file, methods=["GET", "HEAD"]) for path in FILES),
                Route("/t/{token}", self._page, methods=["GET", "HEAD"]),
                Route("/t/{token}/state.json", self._state, methods=["GET"]),
                Route("/t/{token}/events", self._events, methods=["GET"]),
                Route("/t/{token}/rate", self._rate, methods=["POST"])]

    # -- helpers ------------------------------------------------------------------------
    def today(self) -> date:
        ms = self.clock.read().wall_ms
        return datetime.fromtimestamp(ms / 1000, self.store.day_of.zone).date()

    def state(self, token: str) -> tuple[dict[str, Any], str] | None:
        """The ticket's state for the page and its site (blocking: call from a thread)."""
        if not is_token(token):
            return None   # not even the form of a token: the store is not asked
        found = ticket_and_site(self.store, token, self.today())
        if found is None:
            return None
        view, site = found
        names = self.names(site, view["service"]) if self.names and view["service"] else None
        if names:
            view["service_names"] = {k: v for k, v in names.items() if k in ("kk", "ru", "en")}
        return view, site

    def _limited(self, request: Request, limit: RateLimit) -> Response | None:
        client = request.client.host if request.client else "?"
        if limit.allow(client):
            return None
        return Response("Тым көп сұрау: бір минуттан кейін қайталаңыз.\n"
                        "Слишком много запросов: повторите через минуту.\n"
                        "Too many requests: try again in a minute.\n", status_code=429,
                        media_type="text/plain; charset=utf-8",
                        headers={"Retry-After": "60", **_NO_STORE})

    def _headers(self) -> dict[str, str]:
        return {"Content-Security-Policy": self.policy, "Referrer-Policy": "no-referrer",
                "X-Robots-Tag": "noindex", **_NO_STORE}

    # -- handlers -----------------------------------------------------------------------
    async def _file(self, request: Request) -> Response:
        return self._limited(request, self.requests) or \
            self.files.response(request.url.path, head=request.method == "HEAD")

    async def _page(self, request: Request) -> Response:
        # The same bytes for every token: what the page shows comes from state.json.
        limited = self._limited(request, self.requests)
        if limited is not None:
            return limited
        return Response(b"" if request.method == "HEAD" else self.page,
                        media_type="text/html; charset=utf-8", headers=self._headers())

    async def _state(self, request: Request) -> Response:
        limited = self._limited(request, self.requests)
        if limited is not None:
            return limited
        found = await run_in_threadpool(self.state, request.path_params["token"])
        if found is None:
            return Response(UNKNOWN, status_code=404, media_type="application/json",
                            headers=self._headers())
        return Response(_json(found[0]), media_type="application/json",
                        headers=self._headers())

    async def _events(self, request: Request) -> Response:
        limited = self._limited(request, self.requests)
        if limited is not None:
            return limited
        token = request.path_params["token"]
        first = await run_in_threadpool(self.state, token)
        if first is None:
            return Response(UNKNOWN, status_code=404, media_type="application/json",
                            headers=self._headers())
        with self._lock:
            if self._streams >= self.limits.max_streams:
                return Response("busy; retrying\n", status_code=503,
                                media_type="text/plain; charset=utf-8",
                                headers={"Retry-After": "10", **_NO_STORE})
            self._streams += 1

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in self._stream(token, first):
                    yield chunk
            finally:
                with self._lock:
                    self._streams -= 1

        return StreamingResponse(body(), media_type="text/event-stream; charset=utf-8",
                                 headers={**self._headers(), "X-Accel-Buffering": "no"})

    async def _stream(self, token: str, first: tuple[dict[str, Any], str]
                      ) -> AsyncIterator[bytes]:
        """The state at once, then each change; it ends once the ticket is unknown (the
        day is over), after saying so. A ping when nothing changed for keepalive_s."""
        lim = self.limits
        yield b"retry: %d\n\n" % lim.retry_ms
        sent = _json(first[0])
        yield sse("state", sent)
        live = self.changes.of(first[1]) if self.changes is not None else None
        seen = live.current()[0] if live is not None else 0
        quiet = 0.0
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            if live is not None:
                got = await live.changed(seen, lim.fallback_s)
                if got is None:
                    return
                seen = got[0]
            else:
                await asyncio.sleep(lim.poll_s)
            found = await run_in_threadpool(self.state, token)
            if found is None:
                yield sse("state", UNKNOWN)
                return
            body = _json(found[0])
            if body != sent:
                sent = body
                quiet = 0.0
                yield sse("state", body)
                continue
            quiet += loop.time() - start
            if quiet >= lim.keepalive_s:
                quiet = 0.0
                yield b"event: ping\ndata: {}\n\n"

    async def _rate(self, request: Request) -> Response:
        limited = self._limited(request, self.posts)
        if limited is not None:
            return limited
        token = request.path_params["token"]
        body = await request.body()
        # A form of one small field, read without a multipart parser; anything larger
        # or odd is no score.
        raw = parse_qs(body[:MAX_BODY].decode("ascii", "replace")).get("score", [""])[0] \
            if len(body) <= MAX_BODY else ""
        score = int(raw) if raw.isdigit() and len(raw) == 1 else 0
        if score not in SCORES or not is_token(token):
            outcome = "unknown" if not is_token(token) else "bad"
        else:
            outcome = await run_in_threadpool(rate, self.store, token, score, self.today(),
                                              self.clock.read().wall_ms)
        # Back to the page, which shows the rating (or, for an unknown token, the same
        # "unknown or expired" as ever: nothing here tells a forged token from an old one).
        where = f"/t/{token}" if outcome == "unknown" else f"/t/{token}?rated={outcome}"
        return RedirectResponse(where, status_code=303, headers=_NO_STORE)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def ticket_page_routes(store: "LedgerStore", clock: "Clock", **options: Any) -> list[BaseRoute]:
    """The visitor's ticket page as routes for central's Starlette app (see TicketPage
    for the options: names, changes, limits)."""
    return TicketPage(store, clock, **options).routes()
