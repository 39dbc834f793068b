"""Connection guard for uvicorn's HTTP/1.1 protocol: slow request heads are cut, per client.

A TV on the LAN sends its request head in milliseconds. A client that opens connections
and sends a head a byte at a time (slowloris, or a broken TV) would otherwise hold every
connection slot: uvicorn has no deadline for a first request head. Each connection gets
`head_s` for its head, and one client address at most `per_client` connections whose head
has not arrived.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


@dataclass
class HeadGuard:
    head_s: float = 5.0
    per_client: int = 6
    cut: int = 0            # connections closed because their head was overdue
    refused: int = 0        # connections refused: their client had too many heads pending
    _pending: dict[str, int] = field(default_factory=dict)

    def admit(self, client: str) -> bool:
        if self._pending.get(client, 0) >= self.per_client:
            self.refused += 1
            return False
        self._pending[client] = self._pending.get(client, 0) + 1
        return True

    def done(self, client: str) -> None:
        left = self._pending.get(client, 0) - 1
        if left > 0:
            self._pending[client] = left
        else:
            self._pending.pop(client, None)

    def protocol(self) -> type[H11Protocol]:
        """An H11Protocol class bound to this guard (uvicorn takes a class, not an object)."""
        return type("GuardedH11Protocol", (_GuardedH11,), {"guard": self})


class _GuardedH11(H11Protocol):
    guard: HeadGuard

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._client_host = self.client[0] if self.client else "?"
        self._head_timer: asyncio.TimerHandle | None = None
        self._waiting_head = False
        if not self.guard.admit(self._client_host):
            transport.close()
            return
        self._waiting_head = True
        self._head_timer = self.loop.call_later(self.guard.head_s, self._head_overdue)

    def _head_arrived(self) -> None:
        if self._waiting_head:
            self._waiting_head = False
            self.guard.done(self._client_host)
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_overdue(self) -> None:
        self._head_timer = None
        if self._waiting_head:
            self.guard.cut += 1
            self._head_arrived()
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None:
            self._head_arrived()

    def connection_lost(self, exc: Any) -> None:
        self._head_arrived()
        super().connection_lost(exc)
