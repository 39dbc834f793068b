"""The visitor page's token: an unguessable secret per ticket, made outside the engine.

The engine is pure (commands and a clock reading in, events out), so the randomness comes
with the command: `with_token` fills it in when a command that issues a ticket is
submitted to the controller. 16 random bytes, URL-safe base64 (22 characters): the QR
on the paper carries `<ticket.qr_url>/t/<token>`, and central serves the visitor's page
there (docs/central.md, "The visitor's ticket page"). Never derived from the number.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from typing import Callable, TypeVar

from edge.queue.commands import CheckIn, CheckInIin, Command, IssueTicket

TOKEN_BYTES = 16
TOKEN_CHARS = 22                       # len(secrets.token_urlsafe(16))
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{22}")
# The commands that may issue a ticket, and so carry a token.
ISSUING = (IssueTicket, CheckIn, CheckInIin)

C = TypeVar("C", bound=Command)


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def with_token(command: C, make: Callable[[], str] = new_token) -> C:
    """`command` with a fresh token when it may issue a ticket and has none yet."""
    if isinstance(command, ISSUING) and command.token is None:
        return dataclasses.replace(command, token=make())
    return command


def is_token(text: str) -> bool:
    """Whether `text` has a token's form (checked before any store is read)."""
    return TOKEN_RE.fullmatch(text) is not None
