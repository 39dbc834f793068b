"""Who may change anything through the kiosk page: the kiosk's address, its own page, slowly.

Every request comes from an address in `kiosk.allow` (others get 403 for any path). A
request that would issue a ticket must also come from the page itself: the same origin
(a page elsewhere cannot make the kiosk's browser post here), the token given to that
page when it loaded (per page, bound to the address), JSON of a few short fields, and
within the address's rate. A refused request changes nothing: the checks all come before
any command is made.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from edge.config.kiosk import KioskConfig
from edge.jsonin import JSONInputError, loads
from edge.web.lockout import RateLimit

MAX_TOKENS = 64          # pages loaded since the start (a kiosk reloads rarely)
MAX_FIELD = 64           # characters in one field: a booking code is at most 32


class Refused(Exception):
    """Why a request is not taken: HTTP status, a code for the page, a line for the log."""

    def __init__(self, status: int, code: str, why: str) -> None:
        super().__init__(why)
        self.status, self.code, self.why = status, code, why


class PageTokens:
    """The token of each page served (bound to its client address); bounded, newest kept."""

    def __init__(self, limit: int = MAX_TOKENS) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._tokens: OrderedDict[str, str] = OrderedDict()

    def issue(self, client: str) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = client
            while len(self._tokens) > self.limit:
                self._tokens.popitem(last=False)
        return token

    def valid(self, token: str | None, client: str) -> bool:
        if not token or len(token) > 64:
            return False
        with self._lock:
            return self._tokens.get(token) == client


class ClientGate:
    """ASGI middleware: only the addresses in kiosk.allow reach the page at all."""

    def __init__(self, app: ASGIApp, cfg: KioskConfig) -> None:
        self.app = app
        self.cfg = cfg
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client = (scope.get("client") or ("", 0))[0]
            if not self.cfg.allows(client):
                self.refused += 1
                response = PlainTextResponse(
                    "this page is for the kiosk's own screen; its address is not in "
                    "kiosk.allow\n", status_code=403, headers={"Connection": "close"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Guard:
    """The checks of a state-changing request, in order; raises Refused."""

    def __init__(self, cfg: KioskConfig) -> None:
        self.tokens = PageTokens()
        self.rate = RateLimit(cfg.rate_per_s, cfg.burst)
        self.refused: dict[str, int] = {}

    def _refuse(self, status: int, code: str, why: str) -> Refused:
        self.refused[code] = self.refused.get(code, 0) + 1
        return Refused(status, code, why)

    async def check(self, request: Request, fields: tuple[str, ...]) -> dict[str, str]:
        """The request's fields once every check passed."""
        client = request.client.host if request.client else ""
        if not self.rate.allow(client):
            raise self._refuse(429, "slow_down", f"{client} is over its rate")
        host = request.headers.get("host", "")
        origin = request.headers.get("origin")
        if origin != f"http://{host}" or request.headers.get("sec-fetch-site",
                                                             "same-origin") != "same-origin":
            raise self._refuse(403, "forbidden", "not from the kiosk page itself (origin "
                                                 f"{origin!r})")
        if not self.tokens.valid(request.headers.get("x-csrf-token"), client):
            # A page from before a restart: it reloads itself and gets a token.
            raise self._refuse(403, "stale_page", "no valid page token")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise self._refuse(415, "bad_request", "not application/json")
        return _fields(await request.body(), fields, self._refuse)


def _fields(body: bytes, names: tuple[str, ...], refuse: Any) -> dict[str, str]:
    try:
        data = loads(body)
    except (JSONInputError, UnicodeDecodeError) as e:
        raise refuse(400, "bad_request", f"not JSON: {e}") from None
    if not isinstance(data, dict) or set(data) != set(names):
        raise refuse(400, "bad_request", f"expected the fields {', '.join(names)}")
    for name in names:
        value = data[name]
        if not isinstance(value, str) or len(value) > MAX_FIELD:
            raise refuse(400, "bad_request", f"{name}: expected text of at most "
                                             f"{MAX_FIELD} characters")
    return {name: data[name] for name in names}
