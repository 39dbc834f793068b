"""The console simulation driver: queue commands on stdin, one per line; results on stdout.

Used by `kezek demo`, the crash tests and anyone trying the queue without hardware.
Every line gets exactly one answer line (`status` prints several, ending with `END`).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import IO, Any, Callable

from edge.component import AppContext
from edge.config import AppConfig
from edge.errors import CommandError, KezekError
from edge.queue import commands as c
from edge.queue.estimates import line_windows, wait_minutes
from edge.queue.model import Category
from edge.control import QueueControl
from edge.storage.listing import (as_json, check_service, format_list, list_service, open_read_only,
                                  slot_lines, slot_plan)
from edge.worker import Worker

logger = logging.getLogger(__name__)

HELP = ("commands: ticket SERVICE [CATEGORY] | call WINDOW | call WINDOW TICKET | recall WINDOW | "
        "noshow WINDOW | start WINDOW | done WINDOW | transfer WINDOW SERVICE | park WINDOW | "
        "unpark TICKET | return TICKET | pause WINDOW | resume WINDOW | open WINDOW | "
        "close WINDOW | rate WINDOW N | reprint TICKET | checkin CODE | checkin-iin IIN | "
        "status | list SERVICE | help | quit")


def _int(word: str, what: str) -> int:
    try:
        return int(word)
    except ValueError:
        raise CommandError("bad_argument", f"{what} must be a number, got {word!r}") from None


def _category(word: str) -> Category:
    try:
        return Category(word.lower())
    except ValueError:
        names = ", ".join(cat.value for cat in Category)
        raise CommandError("bad_argument", f"unknown category {word!r} (use one of: {names})") from None


Parser = Callable[[list[str], "ConsoleDriver"], c.Command]

# verb -> (argument count range, parser). Other parts add verbs here (e.g. check-in).
VERBS: dict[str, tuple[int, int, Parser]] = {
    "ticket": (1, 2, lambda a, drv: c.IssueTicket(a[0], _category(a[1]) if len(a) > 1 else Category.NORMAL,
                                                  printer=drv.printer, source="console")),
    "call": (1, 2, lambda a, drv: c.CallTicket(_int(a[0], "WINDOW"), a[1]) if len(a) > 1
             else c.CallNext(_int(a[0], "WINDOW"))),
    "recall": (1, 1, lambda a, drv: c.Recall(_int(a[0], "WINDOW"))),
    "noshow": (1, 1, lambda a, drv: c.NoShow(_int(a[0], "WINDOW"))),
    "start": (1, 1, lambda a, drv: c.StartService(_int(a[0], "WINDOW"))),
    "done": (1, 1, lambda a, drv: c.Finish(_int(a[0], "WINDOW"))),
    "transfer": (2, 2, lambda a, drv: c.Transfer(_int(a[0], "WINDOW"), a[1])),
    "park": (1, 1, lambda a, drv: c.Park(_int(a[0], "WINDOW"))),
    "unpark": (1, 1, lambda a, drv: c.Unpark(a[0])),
    "return": (1, 1, lambda a, drv: c.ReturnTicket(a[0])),
    "pause": (1, 1, lambda a, drv: c.PauseWindow(_int(a[0], "WINDOW"))),
    "resume": (1, 1, lambda a, drv: c.ResumeWindow(_int(a[0], "WINDOW"))),
    "open": (1, 1, lambda a, drv: c.OpenWindow(_int(a[0], "WINDOW"))),
    "close": (1, 1, lambda a, drv: c.CloseWindow(_int(a[0], "WINDOW"))),
    "rate": (2, 2, lambda a, drv: c.Rate(_int(a[0], "WINDOW"), _int(a[1], "N"))),
    "reprint": (1, 1, lambda a, drv: c.Reprint(a[0], printer=drv.printer)),
    "checkin": (1, 1, lambda a, drv: c.CheckIn(a[0], printer=drv.printer, source="console")),
    "checkin-iin": (1, 1, lambda a, drv: c.CheckInIin(a[0], printer=drv.printer, source="console")),
}


def parse(line: str, driver: "ConsoleDriver") -> c.Command:
    words = line.split()
    verb, args = words[0].lower(), words[1:]
    spec = VERBS.get(verb)
    if spec is None:
        raise CommandError("unknown_command", f"unknown command {verb!r}; type 'help' for the list")
    lo, hi, build = spec
    if not lo <= len(args) <= hi:
        raise CommandError("bad_argument", f"{verb}: expected {lo}{'-' + str(hi) if hi != lo else ''} "
                           f"argument(s), got {len(args)}; {HELP}")
    return build(args, driver)


def help_line(config: AppConfig) -> str:
    """The verbs, then the services and windows of the running configuration (a service
    added or renamed by a reload is listed at once): one line, like every answer."""
    services = ", ".join(f"{s.id} ({s.prefix})" for s in config.services)
    windows = ", ".join(str(w.number) for w in config.windows)
    return f"{HELP} | services: {services} | windows: {windows}"


def format_status(snapshot: Any) -> list[str]:
    lines = [f"STATUS day {snapshot.day}: {snapshot.waiting_total} waiting, "
             f"{snapshot.serving_total} at windows"]
    for s in snapshot.services:
        # A newcomer's working minutes, over the windows the ticket's estimate counts (the
        # ticket adds the breaks and the time before opening on top).
        windows = line_windows((w.state == "closed", w.services.get(s.id, 0))
                               for w in snapshot.windows)
        wait = wait_minutes(s.waiting, s.avg_minutes, windows)
        lines.append(f"  service {s.id} ({s.prefix}): {s.waiting} waiting, wait ~{wait} min "
                     f"(avg {s.avg_minutes:g} min/visitor)")
    for w in snapshot.windows:
        at = f" {w.ticket} {w.ticket_state}" if w.ticket else ""
        lines.append(f"  window {w.number}: {w.state}{at}")
    for u in getattr(snapshot, "unprinted", ()):
        # No ghost tickets: these numbers are not called until their paper is out.
        lines.append(f"  NOT PRINTED {u.ticket} ({u.service}, printer {u.printer}): waits "
                     "out of the line until printed, else voided")
    for a in snapshot.alarms.values():
        lines.append(f"  ALARM {a['alarm']}: {a['message']}")
    lines.append("END")
    return lines


class ConsoleDriver:
    name = "console"
    printer: str | None    # where console tickets print (read by the VERBS' parsers)

    def __init__(self, controller: QueueControl, stdin: IO[str], stdout: IO[str],
                 shutdown: Callable[[], None], printer: str | None = None,
                 quit_on_eof: bool | None = None, db_path: Path | None = None,
                 now_ms: Callable[[], int] | None = None) -> None:
        self.controller = controller
        self.stdin = stdin
        # End of input is Ctrl-D only on a terminal (and in `kezek demo`, which a person
        # drives). Under systemd stdin is /dev/null: its end must not stop the service.
        self.quit_on_eof = _is_tty(stdin) if quit_on_eof is None else quit_on_eof
        self.stdout = stdout
        self.shutdown = shutdown
        self.printer = printer
        self.db_path = db_path      # for `list SERVICE` (read-only, committed tickets)
        # The time its waits are counted to: the clock's (the snapshot's time is the last
        # commit's, which a quiet minute does not move).
        self.now_ms = now_ms or (lambda: self.controller.snapshot.now_ms)
        self.lines_handled = 0
        self.reader = Worker("kezek-console", self._read_loop)

    def start(self) -> None:
        self.reader.start()

    def stop(self, timeout: float = 5.0) -> None:
        # Not joined: the reader is blocked on stdin (a daemon thread, gone with the process).
        self.reader.request_stop()

    def health(self) -> dict[str, Any]:
        return {"ok": True, "lines": self.lines_handled}

    def _say(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def handle_line(self, line: str) -> bool:
        """Answer one line; False when the console should stop reading."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        self.lines_handled += 1
        verb = line.split()[0].lower()
        if verb in ("quit", "exit"):
            self._say("BYE")
            return False
        if verb == "help":
            self._say(help_line(self.controller.config))
            return True
        if verb == "status":
            for out in format_status(self.controller.snapshot):
                self._say(out)
            return True
        if verb == "list":
            for out in self._list(line.split()[1:]):
                self._say(out)
            return True
        try:
            applied = self.controller.call(parse(line, self))
        except CommandError as e:
            self._say(f"ERROR {e}")
            return True
        except KezekError as e:
            self._say(f"ERROR {e}")
            return True
        except TimeoutError:
            self._say("ERROR the controller did not answer in time")
            return True
        self._say(applied.reply.text or "OK")
        return True

    def _list(self, args: list[str]) -> list[str]:
        """`list SERVICE`: its waiting, parked and no-show tickets (several lines, END)."""
        config = self.controller.config
        if len(args) != 1:
            return [f"ERROR list: expected 1 argument (SERVICE), got {len(args)}; services: "
                    + ", ".join(s.id for s in config.services)]
        if self.db_path is None:
            return ["ERROR list: this console has no queue database to read"]
        try:
            check_service(args[0], [s.id for s in config.services])
        except CommandError as e:
            return [f"ERROR {e}"]
        snap = self.controller.snapshot
        try:
            conn = open_read_only(self.db_path)
            try:
                listed = list_service(conn, args[0], snap.day, self.now_ms())
                slots = slot_plan(conn, args[0], snap.day)
            finally:
                conn.close()
        except sqlite3.Error as e:
            return [f"ERROR list: cannot read {self.db_path}: {e}"]
        prefix = config.service(args[0]).prefix
        return format_list(args[0], prefix, as_json(listed), config.center.timezone,
                           slot_lines(config, args[0], slots))

    def _read_loop(self) -> None:
        quit_asked = False
        _tolerate_bad_bytes(self.stdin)
        try:
            for line in self.stdin:
                if self.reader.stopped:
                    return
                try:
                    going = self.handle_line(line)
                except Exception as e:  # a bug on one line must not end the console
                    logger.exception("console: cannot handle a line")
                    self._say(f"ERROR internal error ({type(e).__name__}); see the log")
                    continue
                if not going:
                    quit_asked = True
                    break
        except Exception:
            logger.exception("console input failed")
        if self.reader.stopped:
            return
        if quit_asked or self.quit_on_eof:
            self.shutdown()  # `quit`, or Ctrl-D at a terminal
        else:
            logger.warning("console input ended; the service keeps running (stop it with "
                           "SIGTERM: systemctl stop kezek)")


def _tolerate_bad_bytes(stream: IO[str]) -> None:
    """Read bytes that are not UTF-8 as U+FFFD, not as an error.

    With the default strict decoding, one such byte (a terminal in another encoding, line
    noise) raised UnicodeDecodeError out of the read loop: the console stopped for good,
    and at a terminal (and in `kezek demo`) that counted as Ctrl-D and stopped the whole
    service. Under the C locale Python decodes them to lone surrogates instead, which the
    database refuses later. The line is then answered like any unknown word.
    """
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is None:
        return  # a StringIO (tests): already text
    try:
        reconfigure(errors="replace")
    except (ValueError, OSError) as e:  # a closed or unusual stream: keep it as it is
        logger.debug("console: cannot set decoding errors to replace: %s", e)


def _is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-less stream
        return False


def build(ctx: AppContext) -> list[ConsoleDriver]:
    import sys
    stdin = ctx.stdin or sys.stdin
    console = ctx.config.console
    return [ConsoleDriver(ctx.controller, stdin, ctx.stdout, ctx.shutdown,
                          printer=console.printer, quit_on_eof=console.quit_on_eof,
                          db_path=ctx.db_path, now_ms=lambda: ctx.clock.read().wall_ms)]
