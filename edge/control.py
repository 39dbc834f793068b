"""What a component may ask of the controller: submit, call, subscribe, snapshot, config.

Components are handed a `QueueControl` (edge/component.py's AppContext), never the
controller's class: they see the five things they may use, and a test may hand them any
object that has them. `Applied` is what each committed command tells its listeners,
the configuration it ran under included.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:
    from edge.config.model import AppConfig
    from edge.queue.commands import Command
    from edge.queue.engine.state import Reply
    from edge.queue.events import StoredEvent
    from edge.queue.snapshot import QueueSnapshot


@dataclass(frozen=True)
class Applied:
    """What one command did, as listeners see it after the commit.

    `config` is the configuration committed with it or before it: the one every component
    reads (a renamed service prints its new name on the next ticket)."""

    command: "Command"
    reply: "Reply"
    events: "list[StoredEvent]"
    snapshot: "QueueSnapshot"
    config: "AppConfig | None" = None


Listener = Callable[[Applied], None]


class QueueControl(Protocol):
    """The controller as components see it (edge/controller.py implements it)."""

    def submit(self, command: "Command") -> "Future[Applied]":
        """Enqueue a command; the future resolves after its commit (or with its error)."""
        ...

    def call(self, command: "Command", timeout: float = 10.0) -> Applied:
        """Submit and wait (never from the controller's own thread, nor a listener)."""
        ...

    def subscribe(self, listener: Listener) -> None:
        """`listener` runs on the controller's thread after each commit: it only enqueues."""
        ...

    @property
    def snapshot(self) -> "QueueSnapshot":
        """The latest committed view of the queue (immutable)."""
        ...

    @property
    def config(self) -> "AppConfig":
        """The running configuration: as started, then as each reload committed it."""
        ...

    @property
    def file_config(self) -> "AppConfig":
        """The config file as last loaded (at start or by SIGHUP), restart-only sections as
        they run: what central's cfg is merged over (docs/protocol.md, cfg)."""
        ...
