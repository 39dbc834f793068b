"""The bookings inbox: booking files queued by `kezek bookings load`, fed to the controller.

The CLI validates a file, hashes every IIN and writes the result atomically into
`<state_dir>/bookings-inbox/`. This component picks each file up (at start and every few
seconds), checks every entry with the same check as the engine (types, services,
duplicate codes), submits it as one LoadBookings command and deletes it once committed.
A file is loaded whole or not at all: one with a bad entry is moved to `rejected/` beside
it with every reason, never half loaded and never silently dropped. A file that could
not be loaded for a passing reason (the database busy or failing, the service stopping)
stays where it is and is tried again at the next poll.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.errors import CommandError, KezekError
from edge.jsonin import loads as loads_untrusted
from edge.queue.bookings import MAX_BOOKINGS_PER_BATCH, BookingRejected, parse_booking
from edge.queue.commands import DeviceStatus, LoadBookings
from edge.worker import Worker
from edge.control import QueueControl

if TYPE_CHECKING:
    from edge.component import AppContext

logger = logging.getLogger(__name__)

INBOX_DIR = "bookings-inbox"
# The command writes at most 20,000 bookings of ~250 bytes; far more is not its file.
MAX_INBOX_FILE_BYTES = 16 * 1024 * 1024


def inbox_path(state_dir: Path) -> Path:
    return Path(state_dir) / INBOX_DIR


def write_inbox_file(state_dir: Path, name: str, bookings: list[dict[str, Any]]) -> Path:
    """Atomically queue already-validated, IIN-free booking dicts (temp + fsync + rename)."""
    folder = inbox_path(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.json"
    tmp = folder / f".{name}.tmp"
    data = json.dumps({"bookings": bookings}, ensure_ascii=False).encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, target)
    dfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return target


class BookingsInbox:
    """Component: loads queued booking files through the controller, one file per command."""

    name = "bookings-inbox"

    def __init__(self, controller: QueueControl, folder: Path, interval_s: float = 3.0) -> None:
        self.controller = controller
        self.folder = Path(folder)
        self.interval_s = interval_s
        self.loaded = 0
        self.rejected = 0
        self.last_error: str | None = None
        self.fault: str | None = None     # the folder itself cannot be used (an alarm)
        self.worker = Worker("kezek-bookings-inbox", self._run)

    def start(self) -> None:
        self.worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.worker.stop(timeout)

    def health(self) -> dict[str, Any]:
        return {"ok": self.last_error is None and self.fault is None and self.worker.ok,
                "loaded_files": self.loaded, "rejected_files": self.rejected,
                "error": self.fault or self.last_error or self.worker.problem()}

    def _run(self) -> None:
        while not self.worker.stopped:
            try:
                self.poll()
            except Exception as e:  # the loop must survive a bad file system moment
                self._set_fault(f"bookings inbox {self.folder}: {type(e).__name__}: {e}; "
                                "queued booking files wait until the folder can be read and "
                                "written by the service's user (kezek)", e)
            else:
                self._set_fault(None)
            if self.worker.sleep(self.interval_s):
                return

    def _set_fault(self, fault: str | None, error: BaseException | None = None) -> None:
        """Raise or clear the alarm `device:bookings-inbox`, once per change (polls retry)."""
        if fault == self.fault:
            return
        if fault is not None:
            logger.error("%s", fault, exc_info=error)
        else:
            logger.warning("bookings inbox %s: usable again", self.folder)
        self.fault = fault
        try:
            self.controller.submit(DeviceStatus(device=self.name, ok=fault is None,
                                                detail=(fault or "")[:300], source=self.name))
        except Exception:  # a stopping controller: the log says it
            logger.debug("bookings inbox: status not recorded", exc_info=True)

    def poll(self, timeout: float = 30.0) -> int:
        """Load every queued file now; returns how many were loaded."""
        if not self.folder.is_dir():
            return 0
        done = 0
        for path in sorted(self.folder.glob("*.json")):
            if self.worker.stopped:
                break
            try:
                # Strict reading: a file nested thousands deep (RecursionError) or holding
                # a lone surrogate escape (refused by SQLite as a 'storage' error, so kept
                # and retried forever) would block every file queued behind it.
                size = path.stat().st_size
                if size > MAX_INBOX_FILE_BYTES:
                    raise ValueError(f"{size} bytes, more than {MAX_INBOX_FILE_BYTES}; queue "
                                     "booking files with `kezek bookings load`")
                payload = loads_untrusted(path.read_bytes())
                bookings = payload.get("bookings") if isinstance(payload, dict) else None
                if not isinstance(bookings, list):
                    raise ValueError('expected {"bookings": [...]} (as `kezek bookings load` '
                                     "writes it); queue booking files with that command")
            except (OSError, ValueError) as e:
                self._reject(path, f"unreadable booking file: {e}")
                continue
            problems = self.check(bookings)
            if problems:
                more = f" (+{len(problems) - 10} more)" if len(problems) > 10 else ""
                self._reject(path, f"{len(problems)} bad booking(s), nothing loaded: "
                                   + " | ".join(problems[:10]) + more)
                continue
            try:
                applied = self.controller.call(
                    LoadBookings(tuple(bookings), None, source=f"file:{path.name}"), timeout)
            except CommandError as e:
                if e.code == "stopping":
                    return done  # the service is shutting down: the next start loads it
                self._reject(path, str(e))  # the engine refused the content itself
                continue
            except KezekError as e:
                # Not the file's fault (storage, an internal error): keep it and retry,
                # logging each distinct error once so a full disk does not flood the log.
                why = f"{path.name}: not loaded yet ({e}); will retry"
                if why != self.last_error:
                    logger.error("bookings file %s", why)
                self.last_error = why
                return done
            except TimeoutError:
                self.last_error = "the controller did not answer; will retry"
                return done
            refused = (applied.reply.data or {}).get("rejected_items") or []
            if refused:
                # Checked above, so only a config change in between gets here: keep the
                # file (loading it again is harmless: loaded bookings are "unchanged").
                self._reject(path, f"{len(refused)} booking(s) refused by the queue, the "
                                   "others loaded: " + " | ".join(
                                       f"bookings[{r['index']}]: {r['reason']}" for r in refused[:10]))
                continue
            logger.info("bookings file %s: %s", path.name, applied.reply.text)
            path.unlink(missing_ok=True)
            self.loaded += 1
            self.last_error = None
            done += 1
        return done

    def check(self, bookings: list[Any]) -> list[str]:
        """Every problem of a queued file's entries ([] if the engine will take them all)."""
        if len(bookings) > MAX_BOOKINGS_PER_BATCH:
            return [f"{len(bookings)} bookings, at most {MAX_BOOKINGS_PER_BATCH} per file"]
        services = {s.id for s in self.controller.snapshot.services}
        problems: list[str] = []
        first: dict[str, int] = {}
        for i, raw in enumerate(bookings):
            where = f"bookings[{i}]"
            if isinstance(raw, dict) and "iin" in raw:
                # The command hashes IINs before it queues a file: this one was put here
                # by hand, and the engine would keep loading whatever else it holds.
                problems.append(f"{where}: holds a clear IIN; queue booking files with "
                                "`kezek bookings load`, which keeps only its hash (and "
                                "delete this file: it holds IINs)")
                continue
            try:
                b = parse_booking(raw, None)
            except BookingRejected as e:
                problems.append(f"{where}: {e}")
                continue
            if services and b.service not in services:
                problems.append(f"{where}: service: no such service at this center")
            if b.code in first:
                problems.append(f"{where}: code: the same booking code as "
                                f"bookings[{first[b.code]}]")
            first.setdefault(b.code, i)
        return problems

    def _reject(self, path: Path, why: str) -> None:
        bad = self.folder / "rejected"
        bad.mkdir(exist_ok=True)
        os.replace(path, bad / path.name)
        self.rejected += 1
        self.last_error = f"{path.name}: {why}"
        logger.error("bookings file %s rejected (kept in %s): %s", path.name, bad, why)


def build(ctx: "AppContext") -> list[BookingsInbox]:
    return [BookingsInbox(ctx.controller, inbox_path(ctx.state_dir))]
