"""The running service: store + engine + controller + the configured components."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable

from edge.clock import Clock, SystemClock
from edge.component import AppContext, Component
from edge.config import AppConfig
from edge.config.domain import domain_from_config
from edge.controller import Controller
from edge.errors import ConfigError
from edge.exits import STORAGE_RETRY_EXIT
from edge.queue.engine import QueueEngine
from edge.storage.store import QueueStore

if TYPE_CHECKING:
    from edge.system.notify import Notifier

logger = logging.getLogger(__name__)

DB_NAME = "kezek.db"


class App:
    """One controller process. `start()` brings everything up; `run()` owns the main thread."""

    def __init__(self, config: AppConfig, state_dir: Path, *, stdout: IO[str] | None = None,
                 stdin: IO[str] | None = None, clock: Clock | None = None,
                 cache_dir: Path | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.db_path = self.state_dir / DB_NAME
        self.clock = clock or SystemClock()
        self.stop_event = threading.Event()
        # One process per database: a second `kezek run` on this state folder stops here,
        # whatever its center.device, before it opens (or migrates) the database the
        # first one is using.
        from edge.storage.faults import storage_error
        from edge.sync.lock import acquire_database_lock
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self.database_lock = acquire_database_lock(self.db_path)
        except OSError as e:
            # The first write of a start: a read-only card or a folder without permission
            # shows here, and must say so (not a traceback, see docs/operations.md).
            raise storage_error(e, self.db_path, "cannot use the state folder") from None
        # Where the queue is saved if its state folder vanishes under the running service
        # and cannot be made again from inside it: systemd's RuntimeDirectory (/run/kezek).
        runtime = os.environ.get("RUNTIME_DIRECTORY")
        self.store = QueueStore(self.db_path,
                                rescue_dir=Path(runtime.split(":")[0]) if runtime else None)
        services, windows, policies = domain_from_config(config)
        self.engine = QueueEngine(services, windows, config.center.timezone, policies,
                                  self.store.load())
        # From here on the controller holds the one running configuration (edge/control.py).
        self.controller = Controller(self.engine, self.store, self.clock, config=config)
        self.controller.on_restart = self.request_stop
        # Started last: if loading failed above, no thread is left behind.
        self.store.start_background_checkpoints()
        self.ctx = AppContext(controller=self.controller, clock=self.clock,
                              state_dir=self.state_dir, db_path=self.db_path,
                              stdout=stdout or sys.stdout, logger=logging.getLogger("kezek"),
                              shutdown=self.request_stop,
                              storage_fault=lambda: self.controller.storage_fault,
                              stdin=stdin or sys.stdin, cache_dir=cache_dir)
        self.components: list[Component] = []
        # SIGTERM / `quit` only ask; the loop then stops the components while it still
        # applies commands (a printer's last TicketPrinted), and ends after them.
        self.stop_requested = threading.Event()
        self._stopper: threading.Thread | None = None
        self._components_stopped = False
        self._loop_thread: threading.Thread | None = None   # the thread in run(), if any

    @property
    def config(self) -> AppConfig:
        """The running configuration (the controller's)."""
        return self.controller.config

    def start_components(self) -> None:
        from edge.wiring import build_components
        self.components = build_components(self.ctx)
        for comp in self.components:
            logger.info("starting %s", comp.name)
            comp.start()
        # What start-up loaded (modules, the config, the day's tickets, printer profiles,
        # fonts: ~50,000 objects) lives until the stop. Out of the cycle collector's reach,
        # a full collection no longer walks it: 26-35 ms here, ~0.1 s on a Pi, paid by
        # whichever press or call it happens in (measured in docs/performance.md).
        gc.freeze()

    def request_stop(self) -> None:
        """Ask for a graceful stop; safe from a signal handler (it sets an event and puts a
        marker on the controller's queue, both non-blocking)."""
        self.stop_requested.set()
        self.controller.wake()

    def run(self, heartbeat: Callable[[], None] | None = None,
            stop_timeout: float = 5.0) -> None:
        """Apply commands in this thread until request_stop() (SIGTERM, `quit`) or stop()."""
        def beat() -> None:
            if heartbeat is not None:
                heartbeat()
            if self.stop_requested.is_set() and self._stopper is None:
                self._stopper = threading.Thread(target=self._stop_components,
                                                 args=(stop_timeout, True),
                                                 name="kezek-shutdown", daemon=True)
                self._stopper.start()
        self._loop_thread = threading.current_thread()
        self.controller.run(self.stop_event, beat)

    def _stop_components(self, timeout: float, then_end_loop: bool = False) -> None:
        # Inputs first (no new commands), outputs and sync last (they flush).
        for comp in reversed(self.components):
            try:
                comp.stop(timeout)
            except Exception:
                logger.exception("stopping %s failed", comp.name)
        self._components_stopped = True
        if then_end_loop:
            self.stop_event.set()
            self.controller.stop(0)  # wakes the loop now instead of at its next tick

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        if self._stopper is not None:
            self._stopper.join(timeout * (len(self.components) + 1))
        loop = self._loop_thread
        if loop is not None and loop is not threading.current_thread() and loop.is_alive():
            # run() on another thread (benchmarks, fronts that own the main thread) may be
            # in a command or a tick: the store is closed only after its loop has ended,
            # else its next tick reads a closed database and reports the files deleted.
            self.controller.wake()
            loop.join(timeout)
        if not self._components_stopped:
            # The loop ended without a graceful stop (an error, or stop_event set directly):
            # stop them now; what they report can no longer be applied.
            self._stop_components(timeout)
        self.store.close()


def run_service(config: AppConfig, state_dir: Path, *,
                stdout: IO[str] | None = None, config_path: Path | None = None,
                log_level: str | None = None, notifier: "Notifier | None" = None,
                cache_dir: Path | None = None, on_ready: Callable[[App], None] | None = None,
                ) -> int:
    """Run until SIGTERM/SIGINT; SIGHUP re-reads `config_path` (non-hardware sections).

    `on_ready(app)` runs once on the loop, when commands (the console's) are answered.

    Under systemd: READY=1 once the store and the configured hardware are up, WATCHDOG=1
    from the controller loop, STOPPING=1 when the stop begins.
    """
    from edge.system.logs import setup_logging
    from edge.system.notify import Notifier, WatchdogPinger

    setup_logging(log_level or config.system.log_level, config.system.log_format)
    notifier = notifier or Notifier()
    app = App(config, state_dir, stdout=stdout, cache_dir=cache_dir)
    reload_requested = threading.Event()
    stop_signal: list[str] = []  # the handler only records; the loop logs and notifies

    def _on_signal(signum: int, _frame: object) -> None:
        if signum == signal.SIGHUP:
            reload_requested.set()  # handled on the loop (heartbeat), not in the handler
            return
        stop_signal.append(signal.Signals(signum).name)
        app.request_stop()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    watchdog = WatchdogPinger(notifier)

    stopping_told = False

    def heartbeat() -> None:
        nonlocal stopping_told, on_ready
        if on_ready is not None:
            if not app.stop_requested.is_set():   # a `quit` typed while starting
                on_ready(app)
            on_ready = None
        watchdog()
        if app.stop_requested.is_set() and not stopping_told:
            stopping_told = True
            logger.info("%s: stopping (printers finish their ticket, state is saved)",
                        stop_signal[0] if stop_signal else "quit")
            notifier.stopping("finishing print jobs and saving state")
        if reload_requested.is_set():
            reload_requested.clear()
            reload_config(app, config_path, notifier)

    if config.system.warn_simulated:
        # Copied from config/demo.toml? Said once here; `kezek doctor` fails on them too.
        from edge.system.simulated import simulated_devices
        for sim in simulated_devices(config):
            logger.warning("simulated device: %s: %s; fix: %s", sim.key, sim.what, sim.fix)
    try:
        app.start_components()
        logger.info("kezek ready: site %s, device %s, database %s",
                    config.center.site, config.center.device, app.db_path)
        notifier.ready(f"serving {config.center.site}/{config.center.device}")
        app.run(heartbeat, STOP_TIMEOUT_S)
    finally:
        if not stopping_told:
            notifier.stopping("stopping")
        app.stop(STOP_TIMEOUT_S)
        logger.info("kezek stopped")
    if app.controller.restart_needed:
        # The database files were replaced under it and everything is saved back:
        # systemd starts it again (exit 75), on the files now on the card.
        logger.warning("restarting (exit %d) to go on with %s", STORAGE_RETRY_EXIT, app.db_path)
        return STORAGE_RETRY_EXIT
    return 0


# Each component gets this long to finish (a printer its ticket); the unit allows 30 s.
STOP_TIMEOUT_S = 10.0
# Sections that need a restart: their drivers hold devices, sockets and threads.
RESTART_SECTIONS = ("center", "storage", "console", "printers", "ticket", "gpio", "boards",
                    "hall", "announce", "sync", "system")


def reload_config(app: App, config_path: Path | None, notifier: "Notifier") -> None:
    """SIGHUP: validate the file again and hand services, windows and policies to the engine.

    An invalid file changes nothing: the running config stays and the log says why.
    Runs on the controller loop, so it only submits (never waits for) the Reconfigure.
    """
    from edge.config import load_config
    from edge.config.domain import reconfigure

    if config_path is None:
        logger.warning("SIGHUP: no config file to reload (started without one)")
        return
    notifier.reloading()
    try:
        new = load_config(config_path)
        running = app.controller.config
        changed = [name for name in RESTART_SECTIONS
                   if getattr(new, name) != getattr(running, name)]
        new = with_running_sections(new, running, changed, str(config_path))
    except ConfigError as e:
        logger.error("SIGHUP: %s is invalid, keeping the running config:\n%s", config_path,
                     "\n".join(f"  - {p}" for p in e.problems))
        notifier.ready("reload refused: invalid config file, running config kept")
        return
    if changed:
        logger.warning("SIGHUP: [%s] changed; those sections apply after a restart "
                       "(systemctl restart kezek)", "], [".join(changed))

    def _done(fut: "Future[Any]") -> None:
        error = fut.exception()
        if error is not None:
            logger.error("SIGHUP: %s refused, keeping the running config: %s", config_path, error)
            notifier.ready("reload refused, running config kept")
        else:
            # The controller made it the running config with the commit: every component
            # reads it from there (the next ticket prints a renamed service's new name).
            logger.info("SIGHUP: reloaded services, windows and policies from %s", config_path)
            notifier.ready("config reloaded")

    app.controller.submit(reconfigure(new, from_file=True)).add_done_callback(_done)


def with_running_sections(new: AppConfig, running: AppConfig, sections: list[str],
                          source: str) -> AppConfig:
    """`new` with the restart-only `sections` as they run: the drivers built from them keep
    running until a restart, so the running configuration must say what they do. Checked
    as a whole again (a button of the running [gpio] may name a service the new file
    drops); raises ConfigError naming the problem and the fix."""
    if not sections:
        return new
    from edge.config import parse_config
    data, kept = new.model_dump(mode="json"), running.model_dump(mode="json")
    for name in sections:
        data[name] = kept[name]
    try:
        return parse_config(data, source)
    except ConfigError as e:
        raise ConfigError(source, [f"{p} (the running [{'], ['.join(sections)}] "
                                   f"apply until a restart: restart to apply the whole file, "
                                   f"systemctl restart kezek)" for p in e.problems]) from None
