"""Downlink from central: versioned cfg and bookings snapshots, and one-shot commands.

Runs on the link's network thread and never blocks it: queue changes are submitted to
the controller, and their outcome comes back through `poll()`. Rules (docs/protocol.md):
  * cfg / bookings: validated in full first; applied as one controller command (atomic);
    persisted in meta only after the controller accepted it; only a version newer than
    the last applied (or pending) one is applied; a bad payload is rejected with a
    `sync.rejected` event and the running state stays as it was.
  * cmd: at most once per cmd_id (the id is persisted before the command runs), refused
    after ts + ttl_s when the wall clock is trustworthy (the broker also drops it after
    the MQTT message expiry), and the result is a `cmd.result` event.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
from collections import deque
from concurrent.futures import Future
from typing import Any, Callable

from pydantic import ValidationError

from edge.clock import Clock
from edge.control import QueueControl
from edge.config.domain import reconfigure
from edge.errors import CommandError, ConfigError
from edge.queue import commands as qc
from edge.queue.bookings import BookingIn, RefusedBooking, iin_in_text
from edge.sync.outbox import OutboxDb
from edge.strict import bounded
from edge.sync.protocol import (BookingsMessage, CfgMessage, CmdMessage, PayloadError, decode,
                                dumps, explain, problem_kind)

logger = logging.getLogger(__name__)

Emit = Callable[[str, dict[str, Any]], None]
MAX_REMEMBERED_CMDS = 5000
MAX_LOGGED_KINDS = 100   # kinds of bad acks logged (each once); beyond, only counted
BOOKING_FIELDS = frozenset(BookingIn.model_fields)
_PLAIN = (str, int, float, bool, type(None))
CLEAR_IIN_REASON = ("iin: a clear IIN is not accepted from central (it would be kept on the "
                    "device); send iin_hmac = HMAC-SHA256(site secret, IIN) instead, see "
                    "docs/bookings.md")


class Downlink:
    def __init__(self, db: OutboxDb, controller: QueueControl, base_config: Callable[[], Any],
                 clock: Clock, *,
                 emit: Emit, resend: Callable[[int], int], max_bytes: int,
                 reload: Callable[[], str | None] | None = None) -> None:
        self.db = db
        self.controller = controller
        self.base_config = base_config
        self.clock = clock
        self.emit = emit
        self.resend = resend
        self.reload = reload or reload_by_sighup
        self.max_bytes = max_bytes
        self.applied = {"cfg": db.get_int("sync.cfg_version", 0),
                        "bookings": db.get_int("sync.bookings_version", 0)}
        self.pending = {"cfg": 0, "bookings": 0}
        self._done: deque[tuple[str, int, str, Future[Any]]] = deque()
        self._cmd_done: deque[tuple[str, str, Future[Any]]] = deque()
        self.rejected = 0
        self.commands_run = 0
        self.rejected_acks = 0
        self._ack_kinds: set[str] = set()

    # -- start-up -----------------------------------------------------------------
    def restore(self) -> None:
        """Re-apply the last cfg and bookings central sent, before any connection."""
        for kind in ("cfg", "bookings"):
            raw = self.db.get(f"sync.{kind}")
            if not raw:
                continue
            try:
                try:
                    command, version, clean = self._build(kind, raw.encode("utf-8"))
                except (ValidationError, ConfigError) as e:
                    # Lax types: the edge that saved it had accepted it (an older edge took
                    # "version": "5"); refusing it now would start the queue on the file's
                    # services instead of central's.
                    command, version, clean = self._build(kind, raw.encode("utf-8"),
                                                          strict=False)
                    logger.warning("sync: the saved %s version %s holds values of the wrong "
                                   "type (%s); applied as the edge that saved it took them, "
                                   "until central sends a newer one", kind, version,
                                   _why(e))
            except (PayloadError, ValidationError, ConfigError) as e:
                # The local file changed so that central's last cfg no longer fits it.
                why = _why(e)
                logger.error("sync: the saved %s no longer applies: %s", kind, why)
                self.emit("sync.rejected", {"topic": kind, "reason": f"saved {kind}: {why}"})
                continue
            if clean != raw:
                # Saved by an older edge that kept central's bookings verbatim, clear
                # IINs included: keep only the sanitised copy from now on.
                logger.warning("sync: the saved %s held fields that are never kept; "
                               "replaced with a sanitised copy", kind)
                self.db.put_scrubbed({f"sync.{kind}": clean})
                raw = clean
            logger.info("sync: re-applying saved %s version %s", kind, version)
            self.pending[kind] = version
            self._track(kind, version, raw, self.controller.submit(command))

    # -- messages -----------------------------------------------------------------
    def handle(self, kind: str, payload: bytes) -> None:
        if kind in ("cfg", "bookings"):
            self._snapshot(kind, payload)
        elif kind == "cmd":
            self._command(payload)

    def _snapshot(self, kind: str, payload: bytes) -> None:
        if not payload:
            return  # an empty retained message clears the topic: keep what we run
        try:
            peek = decode(payload, self.max_bytes)
            version = peek.get("version")
            if type(version) is int and 1 <= version <= max(self.applied[kind],
                                                                self.pending[kind]):
                logger.debug("sync: %s version %s is not newer; ignored", kind, version)
                return
            command, version, clean = self._build(kind, payload)
        except (PayloadError, ValidationError, ConfigError) as e:
            self._reject(kind, payload, _why(e))
            return
        self.pending[kind] = version
        self._track(kind, version, clean, self.controller.submit(command))

    def _build(self, kind: str, payload: bytes, strict: bool = True
               ) -> tuple[qc.Command, int, str]:
        """The controller command, its version, and the text to save for restore().

        The saved text is the payload for cfg; for bookings it is a sanitised copy in
        which every refused entry keeps only its code (see refuse_unsafe_bookings).
        """
        data = decode(payload, self.max_bytes)
        if kind == "cfg":
            msg = CfgMessage.model_validate(data, strict=None if strict else False)
            return (reconfigure(self.merge(msg, strict=strict), source="mqtt:cfg"),
                    msg.version, payload.decode("utf-8"))
        data, refused = refuse_unsafe_bookings(data)
        bmsg = BookingsMessage.model_validate(data, strict=None if strict else False)
        items = tuple(refused.get(i, b) for i, b in enumerate(bmsg.bookings))
        # Only what the model took, never the raw message: a key it ignores (a "removed"
        # list, say) may carry an IIN.
        saved = {"v": bmsg.v, "version": bmsg.version, "bookings": data["bookings"]}
        return (qc.LoadBookings(bookings=items, version=bmsg.version, source="mqtt:bookings"),
                bmsg.version, dumps(saved).decode("utf-8"))

    def merge(self, msg: CfgMessage, strict: bool = True) -> Any:
        """The local config with central's sections replaced, validated as a whole.

        The running config goes in as JSON data: its paths, dates and number-keyed tables
        are text there, which the config takes by the conversions it makes on purpose
        (edge/strict.py), the same as for a TOML file or central's JSON."""
        from edge.config import parse_config

        # The config running now: after a SIGHUP reload that is the new file, not the one
        # the process started with (sections central leaves out keep the file's value).
        data = self.base_config().model_dump(mode="json")
        for section, value in msg.config.model_dump(exclude_none=True).items():
            data[section] = value
        return parse_config(data, f"cfg version {msg.version} from central", strict=strict)

    def _track(self, kind: str, version: int, raw: str, fut: "Future[Any]") -> None:
        fut.add_done_callback(lambda f: self._done.append((kind, version, raw, f)))

    def _reject(self, kind: str, payload: bytes, reason: str, extra: dict[str, Any] | None = None
                ) -> None:
        self.rejected += 1
        # The reason may quote the sender's values (a config key, a bad `v`): cut short,
        # IIN-like digit runs masked, before it goes into an event and the log.
        reason = bounded(reason)
        digest = hashlib.sha256(payload).hexdigest()[:16]
        # A retained bad snapshot comes back on every reconnect: report it once.
        if kind in ("cfg", "bookings"):
            if self.db.get(f"sync.rejected.{kind}") == digest:
                return
            self.db.put({f"sync.rejected.{kind}": digest})
        logger.warning("sync: rejected %s payload: %s", kind, reason)
        self.emit("sync.rejected", {"topic": kind, "reason": reason, "sha256": digest,
                                    **(extra or {})})

    # -- commands -----------------------------------------------------------------
    def _command(self, payload: bytes) -> None:
        if not payload:
            # An empty retained message clears a command somebody published retained by
            # mistake: the broker hands it over once, and it is nothing to run or reject.
            return
        try:
            data = decode(payload, self.max_bytes)
            msg = CmdMessage.parse(data).command
        except PayloadError as e:
            self._reject("cmd", payload, str(e))
            return
        except ValidationError as e:
            cmd_id = data.get("cmd_id") if isinstance(data.get("cmd_id"), str) else None
            self._reject("cmd", payload, explain(e), {"cmd_id": bounded(cmd_id or "", 64)})
            return
        key = f"sync.cmd.{msg.cmd_id}"
        if self.db.get(key) is not None:
            logger.info("sync: command %s already received; not run again", msg.cmd_id)
            return
        reading = self.clock.read()
        # At most once: remember the id before running it. A crash right here loses the
        # command (never runs it twice); central sees no cmd.result and may resend.
        self.db.put({key: reading.wall_ms})
        self._prune_commands()
        if reading.synced and reading.wall_ms > msg.ts + msg.ttl_s * 1000:
            self._result(msg.cmd_id, msg.name, False, "expired",
                         f"expired {(reading.wall_ms - msg.ts) // 1000 - msg.ttl_s} s ago")
            return
        self.commands_run += 1
        source = f"mqtt:{msg.cmd_id}"
        args = msg.args
        if msg.name == "resend":
            start = self.resend(args.from_seq)  # type: ignore[union-attr]
            self._result(msg.cmd_id, msg.name, True, "ok", f"resending from seq {start}")
            return
        if msg.name == "reload_config":
            problem = self.reload()
            self._result(msg.cmd_id, msg.name, problem is None, "ok" if problem is None
                         else "unsupported", problem or "reload requested")
            return
        command: qc.Command
        if msg.name == "announce":
            command = qc.RecordEvent("announce.text", {"text": args.text,  # type: ignore[union-attr]
                                                       "lang": args.lang,  # type: ignore[union-attr]
                                                       "cmd_id": msg.cmd_id}, source=source)
        elif msg.name == "reprint":
            command = qc.Reprint(label=args.label, printer=args.printer,  # type: ignore[union-attr]
                                 source=source)
        else:
            cls = {"open_window": qc.OpenWindow, "close_window": qc.CloseWindow,
                   "pause_window": qc.PauseWindow, "resume_window": qc.ResumeWindow}[msg.name]
            command = cls(window=args.window, source=source)  # type: ignore[union-attr]
        fut = self.controller.submit(command)
        fut.add_done_callback(lambda f: self._cmd_done.append((msg.cmd_id, msg.name, f)))

    def _result(self, cmd_id: str, name: str, ok: bool, code: str, message: str) -> None:
        self.emit("cmd.result", {"cmd_id": cmd_id, "name": name, "ok": ok, "code": code,
                                 "message": message[:500]})

    def _prune_commands(self) -> None:
        rows = self.db.keys_with_prefix("sync.cmd.")
        if len(rows) > MAX_REMEMBERED_CMDS:
            rows.sort(key=lambda kv: int(kv[1]) if kv[1].isdigit() else 0)  # oldest first
            self.db.delete_keys([k for k, _ in rows[:len(rows) - MAX_REMEMBERED_CMDS]])

    # -- outcomes (network thread) --------------------------------------------------
    def poll(self) -> None:
        while self._done:
            kind, version, raw, fut = self._done.popleft()
            self.pending[kind] = 0 if self.pending[kind] == version else self.pending[kind]
            error = fut.exception()
            if error is not None:
                code = error.code if isinstance(error, CommandError) else "error"
                self._reject(kind, raw.encode("utf-8"), f"{code}: {error}", {"version": version})
                continue
            if version > self.applied[kind] or self.db.get(f"sync.{kind}") is None:
                self.db.put({f"sync.{kind}": raw, f"sync.{kind}_version": version})
                if version > self.applied[kind]:
                    self.emit("sync.applied", {"topic": kind, "version": version})
                self.applied[kind] = max(self.applied[kind], version)
        while self._cmd_done:
            cmd_id, name, fut = self._cmd_done.popleft()
            error = fut.exception()
            if error is None:
                self._result(cmd_id, name, True, "ok", fut.result().reply.text or "done")
            elif isinstance(error, CommandError):
                self._result(cmd_id, name, False, error.code, str(error))
            else:
                self._result(cmd_id, name, False, "error", str(error))

    def refuse_ack(self, e: Exception) -> None:
        """An ack that is not JSON, not v1 or of the wrong types: it deletes nothing.

        Counted (`rejected_acks` in health) and logged once per kind of problem: a central
        with a serialisation bug sends one with every batch, and anyone may publish them
        (no event either: that would let anyone fill the outbox)."""
        self.rejected_acks += 1
        kind = problem_kind(e)
        if kind in self._ack_kinds or len(self._ack_kinds) >= MAX_LOGGED_KINDS:
            logger.debug("sync: bad ack ignored: %s", _why(e))
            return
        self._ack_kinds.add(kind)
        logger.warning("sync: bad ack ignored, nothing deleted: %s (more acks with this "
                       "problem are only counted: rejected_acks in health)", _why(e))

    def health(self) -> dict[str, Any]:
        return {"cfg_version": self.applied["cfg"], "bookings_version": self.applied["bookings"],
                "rejected": self.rejected, "commands_run": self.commands_run,
                "rejected_acks": self.rejected_acks}


def _why(e: Exception) -> str:
    """A refused message's reason, safe for an event and a log (edge/strict.py: bounded)."""
    if isinstance(e, ValidationError):
        return bounded(explain(e))
    if isinstance(e, ConfigError):
        return bounded("; ".join(e.problems[:5]))
    return bounded(str(e))


def refuse_unsafe_bookings(data: dict[str, Any]
                           ) -> tuple[dict[str, Any], dict[int, RefusedBooking]]:
    """Refuse the bookings entries whose content must never be kept on the device.

    A clear `iin` is accepted only from files loaded with the CLI (docs/bookings.md):
    from central it would end up in the database (this snapshot is saved for restore()),
    its WAL and backups. An entry with a key that is not a booking field is refused too,
    since its value may be an IIN under another name (the engine would refuse it anyway),
    and so is one with an IIN in a text field (the shared check, iin_in_text: the engine
    would refuse it too, but this copy is saved before it runs).
    Returns the message with each refused entry reduced to its code (unless the code is
    what holds an IIN) and the names of its offending keys (values null) -- what is
    saved -- and index -> RefusedBooking, which takes the entry's place in LoadBookings so
    the engine reports it at its own index.
    """
    items = data.get("bookings")
    if not isinstance(items, list):
        return data, {}  # the model validation names the problem
    refused: dict[int, RefusedBooking] = {}
    clean: list[Any] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            clean.append(item)
            continue
        extra = sorted(str(k) for k in item if k not in BOOKING_FIELDS)
        # A known field holding an object or a list could hide an IIN just as well.
        nested = sorted(str(k) for k in item
                        if k in BOOKING_FIELDS and not isinstance(item[k], _PLAIN))
        in_text = iin_in_text(item)
        if not extra and not nested and not in_text:
            clean.append(item)
            continue
        held = [f for f, _ in in_text]
        code = item.get("code")
        code = code[:32] if isinstance(code, str) and "code" not in held else None
        reasons = []
        if "iin" in item:
            reasons.append(CLEAR_IIN_REASON)
        elif extra:
            shown = ", ".join(k[:32] for k in extra[:5])
            reasons.append(f"{shown}: not a booking field (known fields: "
                           f"{', '.join(sorted(BOOKING_FIELDS))}); remove it")
        if nested:
            reasons.append(f"{', '.join(nested[:5])}: must be a string or a number, not an "
                           "object or list")
        reasons.extend(f"{f}: {why}" for f, why in in_text)
        refused[i] = RefusedBooking(code, "; ".join(reasons))
        clean.append({**({"code": code} if code is not None else {}),
                      **{k: None for k in extra + nested + held if k != "code"}})
    return {**data, "bookings": clean}, refused


def reload_by_sighup() -> str | None:
    """Ask this process to reload its config file the way `systemctl reload` does.

    Returns None when asked, or why it cannot (no SIGHUP handler is installed).
    """
    handler = signal.getsignal(signal.SIGHUP)
    if not callable(handler):
        return "this process does not reload its config on SIGHUP"
    try:
        os.kill(os.getpid(), signal.SIGHUP)
    except OSError as e:
        return f"cannot signal itself: {e}"
    return None
