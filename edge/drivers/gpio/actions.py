"""Turning a button or keypad action at a window into a queue command (shared by GPIO and serial)."""

from __future__ import annotations

from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable

from edge.errors import CommandError
from edge.queue.commands import (CallNext, CloseWindow, Command, Finish, NoShow, OpenWindow, Park,
                                 PauseWindow, Recall, ResumeWindow, StartService, Transfer)

if TYPE_CHECKING:
    from edge.control import Applied

_SIMPLE: dict[str, Callable[..., Command]] = {
    "call_next": CallNext, "recall": Recall, "no_show": NoShow, "start": StartService,
    "finish": Finish, "park": Park, "pause": PauseWindow, "resume": ResumeWindow,
    "open": OpenWindow, "close": CloseWindow,
}

ACTIONS = tuple(_SIMPLE) + ("transfer",)


def window_command(action: str, window: int, source: str,
                   transfer_service: str | None = None) -> Command:
    """The command for `action` at `window`; ValueError for an unknown action."""
    if action == "transfer":
        if not transfer_service:
            raise ValueError("a transfer needs the target service")
        return Transfer(window=window, service=transfer_service, source=source)
    try:
        return _SIMPLE[action](window=window, source=source)
    except KeyError:
        raise ValueError(f"unknown action {action!r} (known: {', '.join(ACTIONS)})") from None


def outcome(fut: "Future[Applied]") -> tuple[bool, str, str]:
    """(ok, code, text) of a finished command future, without raising.

    Runs in done-callbacks, i.e. on the controller's loop thread: it only reads the result.
    """
    err = fut.exception()
    if err is None:
        return True, "ok", fut.result().reply.text or ""
    if isinstance(err, CommandError):
        return False, err.code, str(err)
    return False, "error", str(err) or type(err).__name__
