"""The one owner of queue state: a loop that takes commands, runs the engine, commits.

Anyone (console, GPIO callbacks, MQTT threads, timers) calls `submit()`, which only
enqueues. The loop applies one command at a time: engine.decide -> store.commit (one
SQLite transaction: queue change + outbox events) -> engine.apply -> listeners. Because
one thread applies everything, two windows can never be handed the same ticket.

Commands that arrived together (a printer's TicketPrinted beside the next press) are
decided one after another as above but committed in one transaction: one fsync for the
group, and nobody hears of any of them before it is on the card (_apply_group).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from typing import Callable

from edge.clock import Clock, ClockReading
from edge.command_inbox import GROUP_MAX, PRINTED_WAITS_S, STOP, WAKE, CommandInbox
from edge.config.model import AppConfig
from edge.control import Applied, Listener
from edge.errors import CommandError, KezekError
from edge.queue.commands import Command, Reconfigure, RecordEvent, Tick
from edge.queue.engine import QueueEngine, Reply
from edge.queue.events import StoredEvent
from edge.queue.snapshot import QueueSnapshot
from edge.storage.fault_state import StorageFault
from edge.queue.tokens import with_token
from edge.storage.store import QueueStore

__all__ = ["Applied", "Controller", "GROUP_MAX", "Listener", "PRINTED_WAITS_S", "StorageFault"]

logger = logging.getLogger(__name__)


# While the database cannot be written, the alarm is tried this often: it is stored (and
# so goes to central) as soon as a write works again, even on a quiet day with no command.
STORAGE_PROBE_S = 10.0
# The database's files are compared with the ones opened at start this often (three stat
# calls, see edge/storage/vanished.py): before the first command or tick after it is due.
FILES_CHECK_S = 1.0


class Controller:
    """Implements edge/control.py's QueueControl: what components may ask of it."""

    def __init__(self, engine: QueueEngine, store: QueueStore, clock: Clock, *,
                 config: AppConfig | None = None, tick_interval_s: float = 1.0) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        # The one running configuration: replaced only by a committed Reconfigure, and
        # handed to listeners with every Applied. None: an engine-only run (benchmarks).
        self._config = config
        self._file_config = config
        self._inbox = CommandInbox()
        self._listeners: list[Listener] = []
        self._tick_interval = tick_interval_s
        self._snapshot = engine.snapshot()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.storage_fault: StorageFault | None = None
        self.storage_probe_s = STORAGE_PROBE_S
        self._next_probe = 0.0
        self._next_files_check = 0.0
        # Set (with the reason) when the process must end and start again to go on saving:
        # its database files were replaced under it. The service exits 75 (systemd restarts).
        self.restart_needed: str | None = None
        self.on_restart: Callable[[], None] | None = None

    # -- used from any thread -------------------------------------------------------
    def submit(self, command: Command) -> "Future[Applied]":
        """Enqueue a command; the future resolves after its commit (or with its error).

        A command that issues a ticket gets its visitor-page token here (the engine is
        pure: the randomness comes with the command; edge/queue/tokens.py)."""
        fut: Future[Applied] = Future()
        self._inbox.put(with_token(command), fut)
        return fut

    def call(self, command: Command, timeout: float = 10.0) -> Applied:
        """Submit and wait: for the console, tests and request/response front ends."""
        return self.submit(command).result(timeout)

    @property
    def snapshot(self) -> QueueSnapshot:
        """The latest committed view of the queue (immutable; safe to read anywhere)."""
        return self._snapshot

    @property
    def config(self) -> AppConfig:
        """The running configuration: as started, then as each reload committed it."""
        if self._config is None:
            raise RuntimeError("this controller runs without a configuration (engine only); "
                               "pass config= to Controller")
        return self._config

    @property
    def file_config(self) -> AppConfig:
        """The config file as last loaded (start or SIGHUP): what central's cfg is merged over."""
        if self._file_config is None:
            raise RuntimeError("this controller runs without a configuration (engine only); "
                               "pass config= to Controller")
        return self._file_config

    def wake(self) -> None:
        """Make the loop run its heartbeat now (a stop was asked; don't wait for the tick)."""
        self._inbox.wake()

    @property
    def printed_waits_s(self) -> float:
        """How long a lone printer's note waits for company (command_inbox.py)."""
        return self._inbox.printed_waits_s

    @printed_waits_s.setter
    def printed_waits_s(self, seconds: float) -> None:
        self._inbox.printed_waits_s = seconds

    def subscribe(self, listener: Listener) -> None:
        """Listeners run on the loop thread after each commit: they must only enqueue."""
        self._listeners.append(listener)

    # -- the loop -------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None,
            heartbeat: Callable[[], None] | None = None) -> None:
        """Apply commands until `stop` is set or stop() is called. Runs in the caller."""
        stop = stop or self._stop
        next_tick = time.monotonic()
        self._clear_stale_storage_alarms()
        while not stop.is_set() and not self._stop.is_set():
            if heartbeat is not None:
                heartbeat()
            timeout = max(0.0, next_tick - time.monotonic())
            item = self._inbox.get(timeout)
            if item is STOP:
                break
            if item is WAKE:
                item = None
            if item is not None:
                group, stopping = self._inbox.waiting_with(item)
                if len(group) == 1:
                    self._apply(*group[0])
                else:
                    self._apply_group(group)
                if stopping:
                    break
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self._tick_interval
                self._apply(Tick(), None)
                if self.storage_fault is not None and time.monotonic() >= self._next_probe:
                    self._next_probe = time.monotonic() + self.storage_probe_s
                    self._apply(self._storage_alarm(), None)
        self._inbox.refuse_the_rest()

    def start(self) -> None:
        """Run the loop in a named thread (tests, and fronts that own the main thread)."""
        self._thread = threading.Thread(target=self.run, name="kezek-controller", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._inbox.stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def _apply(self, command: Command, fut: "Future[Applied] | None") -> None:
        if fut is not None and not fut.set_running_or_notify_cancel():
            return
        self._apply_running(command, fut)

    def _apply_running(self, command: Command, fut: "Future[Applied] | None") -> None:
        reading = self.clock.read()
        if time.monotonic() >= self._next_files_check:
            self._next_files_check = time.monotonic() + FILES_CHECK_S
            self._check_files(reading)
        if not isinstance(command, Tick) and self.engine.day_ends(reading):
            # The first command of a new day (before any tick) comes after the day's roll,
            # committed on its own as a tick would: the command then sees today's queue.
            if not self._step(Tick(source="day"), reading, fut, answer=False):
                return
        self._step(command, reading, fut)

    def _apply_group(self, group: "list[tuple[Command, Future[Applied]]]") -> None:
        """Decide and apply each in turn (each sees the ones before it), commit them all in
        one transaction, then answer each and run the listeners, in order. If storage fails,
        the engine goes back to what is committed and each is applied on its own, as if it
        had come alone: the single path reports the fault exactly as before."""
        group = [(c, f) for c, f in group if f.set_running_or_notify_cancel()]
        reading = self.clock.read()
        if (self.storage_fault is not None or time.monotonic() >= self._next_files_check
                or self.engine.day_ends(reading)
                or any(isinstance(c, Reconfigure) for c, _ in group)):
            for command, fut in group:   # the rare cases keep the one-at-a-time path
                self._apply_running(command, fut)
            return
        # (future, command, reply, events, whether it changed anything) of each that took,
        # or (future, error).
        answers: list[tuple[Future[Applied], Command, Reply, list[StoredEvent], bool]
                      | tuple[Future[Applied], BaseException]] = []
        any_changed, rest = False, group
        try:
            self.store.begin()
            for i, (command, fut) in enumerate(group):
                if i and self.engine.day_ends(reading := self.clock.read()):
                    rest = group[i:]   # the day's roll is committed on its own
                    break
                try:
                    outcome = self.engine.decide(command, reading)
                except CommandError as e:
                    answers.append((fut, e))
                    continue
                except Exception as e:  # a bug must not kill the loop; the state is untouched
                    logger.exception("engine failed on %s", type(command).__name__)
                    answers.append((fut, KezekError(
                        f"internal error on {type(command).__name__}: {e}")))
                    continue
                stored: list[StoredEvent] = []
                changed = not outcome.is_empty
                if changed:
                    stored = self.store.write(outcome, reading)
                    self.engine.apply(outcome)
                    any_changed = True
                answers.append((fut, command, outcome.reply, stored, changed))
            else:
                rest = []
            self.store.finish()
        except Exception:
            logger.warning("a group of %d commands could not be committed together; "
                           "applying each on its own", len(group), exc_info=True)
            if self._back_to_committed():
                for command, fut in group:
                    self._apply_running(command, fut)
            else:
                for _, fut in group:
                    fut.set_exception(KezekError(f"storage: {self.restart_needed}"))
            return
        # One snapshot for the group, after its last change: every answer and listener of
        # the group sees the state they were committed in together (a printer's note and
        # the next press: one view built, not two).
        if any_changed:
            self._snapshot = self.engine.snapshot()
        for answer in answers:
            if len(answer) == 2:
                answer[0].set_exception(answer[1])
                continue
            fut, command, reply, stored, changed = answer
            applied = Applied(command, reply, stored, self._snapshot, self._config)
            fut.set_result(applied)
            if changed:
                self._tell_listeners(applied)
        for command, fut in rest:
            self._apply_running(command, fut)

    def _back_to_committed(self) -> bool:
        """The engine as the store has it; False (and a restart asked) if unreadable."""
        try:
            self.engine.restore(self.store.load())
        except Exception as e:
            # The engine is ahead of a file it cannot read back: only a new start is sure.
            self.restart_needed = f"the queue database cannot be read back: {e}"
            logger.error("%s; restarting", self.restart_needed)
            if self.on_restart is not None:
                self.on_restart()
            return False
        self._snapshot = self.engine.snapshot()
        return True

    def _step(self, command: Command, reading: ClockReading, fut: "Future[Applied] | None",
              *, answer: bool = True) -> bool:
        """decide -> commit -> apply -> listeners; True if it took. A failure settles `fut`;
        success does only if `answer` (the day's roll before a command leaves it open)."""
        try:
            outcome = self.engine.decide(command, reading)
        except CommandError as e:
            if fut is not None:
                fut.set_exception(e)
            return False
        except Exception as e:  # a bug must not kill the loop; the state is untouched
            logger.exception("engine failed on %s", type(command).__name__)
            if fut is not None:
                fut.set_exception(KezekError(f"internal error on {type(command).__name__}: {e}"))
            return False
        if outcome.is_empty:
            if fut is not None and answer:
                fut.set_result(Applied(command, outcome.reply, [], self._snapshot, self._config))
            return True
        try:
            stored = self.store.commit(outcome, reading)
        except Exception as e:
            # Nothing was applied in memory: the engine only changes after a commit.
            error = e if isinstance(e, KezekError) else KezekError(f"storage: {e}")
            self._storage_failed(command, error, reading)
            if fut is not None:
                fut.set_exception(error)
            return False
        if self.storage_fault is not None:
            self._storage_recovered()
        self.engine.apply(outcome)
        self._snapshot = self.engine.snapshot()
        if isinstance(command, Reconfigure):
            self._reconfigured(command)
        applied = Applied(command, outcome.reply, stored, self._snapshot, self._config)
        if fut is not None and answer:
            fut.set_result(applied)
        self._tell_listeners(applied)
        return True

    def _tell_listeners(self, applied: Applied) -> None:
        for listener in self._listeners:
            try:
                listener(applied)
            except Exception:
                logger.exception("listener %r failed", listener)

    def _reconfigured(self, command: Reconfigure) -> None:
        # The engine never reads the config (it is pure): the command carries it as an
        # opaque value, and it becomes the running one only now, after the commit.
        if isinstance(command.config, AppConfig):
            self._config = command.config
        if isinstance(command.file_config, AppConfig):
            self._file_config = command.file_config

    # -- storage faults ---------------------------------------------------------------
    def _storage_failed(self, command: Command, error: KezekError, reading: ClockReading) -> None:
        kind = getattr(error, "kind", "")
        old = self.storage_fault
        if old is not None and old.kind == kind:
            # Said once: a full card must not also fill the journal with one line a second.
            self.storage_fault = StorageFault(kind, str(error), old.since_ms, old.failures + 1)
            logger.debug("could not save %s: %s", type(command).__name__, error)
            return
        self.storage_fault = StorageFault(kind, str(error),
                                          old.since_ms if old else reading.wall_ms)
        self._next_probe = time.monotonic() + self.storage_probe_s
        logger.error("could not save %s: %s (every command is refused until this is fixed; "
                     "the visitor gets no ticket that is not saved)", type(command).__name__, error)

    def _check_files(self, reading: ClockReading) -> None:
        error = self.store.check_files()
        if error is None:
            return
        old = self.storage_fault
        if old is None or old.message != str(error):
            # Said again only when it changes (the data saved after all, or not).
            self.storage_fault = StorageFault(error.kind, str(error),
                                              old.since_ms if old else reading.wall_ms,
                                              old.failures if old else 0)
            logger.error("%s", error)
        if self.store.restart_needed and self.restart_needed is None:
            self.restart_needed = str(error)
            if self.on_restart is not None:
                self.on_restart()

    def _clear_stale_storage_alarms(self) -> None:
        # A storage alarm is raised and cleared by the process that saw the fault. One
        # still raised in the saved state was left by a stop (or a card refusing again)
        # between the two; the store opened and this process has no fault, so it is cleared
        # now, once, instead of showing a card fault in status and at central for ever.
        for alarm in sorted(self.engine.state.alarms):
            if alarm.startswith("storage.") and self.storage_fault is None:
                self._apply(RecordEvent("alarm.cleared", {"alarm": alarm, "at_start": True},
                                        source="storage"), None)

    def _storage_alarm(self) -> RecordEvent:
        assert self.storage_fault is not None
        return self.storage_fault.raised()

    def _storage_recovered(self) -> None:
        # A commit went through: the alarm that could not be stored while it lasted is
        # recorded now (raised, with its since_ms, then cleared), so central learns of it.
        fault = self.storage_fault
        assert fault is not None
        raised = self._storage_alarm()
        self.storage_fault = None
        logger.warning("the queue database saves again (%s refused commands since the fault: "
                       "%s)", fault.failures, fault.message)
        self.submit(raised)
        self.submit(fault.cleared())
