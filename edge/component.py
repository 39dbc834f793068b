"""The small interface every part of the running service implements, and what it is given."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Protocol

from edge.clock import Clock
from edge.config import AppConfig
from edge.control import QueueControl


class Component(Protocol):
    """A running part: a printer service, a button set, the hall page, the MQTT link.

    start() must return quickly (spawn named threads); stop() must return within
    `timeout` seconds; health() is a small JSON-able dict for `kezek status`, the health
    snapshot and `kezek doctor`.
    """

    name: str

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...

    def health(self) -> dict[str, Any]: ...


@dataclass
class AppContext:
    """Everything a component may use; dependencies are passed in, never looked up.

    `config` is the running configuration, read from the controller each time: a
    component reads it when it uses a value (a service's name, a window's label), never
    keeps a copy from its start, so a reload (SIGHUP, central's cfg) reaches it.
    What it builds its devices from are sections that only a restart changes.
    """

    controller: QueueControl
    clock: Clock
    state_dir: Path
    db_path: Path
    stdout: IO[str]
    logger: logging.Logger
    # Components registered so far, by name; later ones may look up earlier ones
    # (e.g. the console asks the printer service to print its tickets).
    components: dict[str, Any] = field(default_factory=dict)
    # Asks the service to stop (the console's `quit`, a fatal device error).
    shutdown: Callable[[], None] = lambda: None
    stdin: IO[str] | None = None
    # Where `kezek demo` keeps what it makes once and reuses (its clip set); None: nowhere,
    # made again in the state folder.
    cache_dir: Path | None = None
    # Which board this is, for the sync link's database id (edge.sync.machine); None reads
    # the running machine. Tests pass one in to put "the same card in another board".
    machine: Callable[[], Any] | None = None
    # Why the queue database cannot be written now, if it cannot (the controller's
    # StorageFault): for the health report; the controller raises the alarm itself.
    storage_fault: Callable[[], Any] = lambda: None

    @property
    def config(self) -> AppConfig:
        """The running configuration (the controller's): read it where it is used."""
        return self.controller.config
