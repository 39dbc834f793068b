"""Serial input components: an operator keypad line, a kiosk scanner or a kiosk numeric
keypad (IIN entry) on one serial port. The kiosk's inputs answer their visitor on the
screens too (edge/kiosk/notices.py), not only with a beep."""

from __future__ import annotations

import functools
import logging
import os
import time
from concurrent.futures import Future
from typing import Any, Callable

from edge.config.serial_inputs import KeypadConfig, NumpadConfig, ScannerConfig
from edge.drivers.gpio.actions import outcome
from edge.drivers.serial_inputs.keypad import (FrameReader, LineReader, Parsed, parse_frame,
                                               parse_line, reply_frame, reply_line)
from edge.drivers.serial_inputs.numpad import IinEntry, Step
from edge.drivers.serial_inputs.ports import SerialLink, check_present
from edge.drivers.serial_inputs.scanner import checkin_command, clean_scan
from edge.queue.commands import CheckInIin, Command, DeviceStatus
from edge.control import QueueControl

logger = logging.getLogger(__name__)


def device_name(kind: str, port: str) -> str:
    return f"{kind}:{os.path.basename(port.rstrip('/')) or port}"


class _SerialInput:
    """What keypads and scanners share: the port, its alarm, the health counters."""

    kind = "serial"

    def __init__(self, config: Any, key: str, controller: QueueControl) -> None:
        self.config = config
        self.key = key                      # config key path, for error messages
        self.controller = controller
        self.name = device_name(self.kind, config.port)
        self.accepted = 0
        self.refused = 0
        self.ignored = 0
        self.last_result = ""
        self.link = SerialLink(self.name, config.port, config.baudrate, on_data=self._on_data,
                               on_state=self._on_state, reconnect_s=config.reconnect_s,
                               on_idle=self._on_idle)

    def start(self) -> None:
        if self.config.required:
            check_present(self.config.port, f"{self.key}.port")
        self.link.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.link.stop(timeout)

    def health(self) -> dict[str, Any]:
        return {"ok": bool(self.link.up), "port": self.config.port, "up": self.link.up,
                "opens": self.link.opens, "error": "" if self.link.up else self.link.last_error,
                "accepted": self.accepted, "refused": self.refused, "ignored": self.ignored,
                "last": self.last_result}

    def _on_state(self, up: bool, detail: str) -> None:
        self.controller.submit(DeviceStatus(device=self.name, ok=up, detail=detail,
                                            source=self.name))

    def _on_data(self, data: bytes) -> None:
        raise NotImplementedError

    def _on_idle(self) -> None:
        pass


class KeypadInput(_SerialInput):
    """Component for [[gpio.serial_inputs]] type = 'keypad'."""

    kind = "keypad"
    # The same command again within this time (the same key at the same window, or the
    # same line) is a bounce or a unit resending its frame, not a second press: a second
    # "next" would mark the visitor just called as served. (GPIO operator buttons have
    # min_interval_s for the same.)
    repeat_s = 1.0
    # 4 bytes take 4 ms at 9600 baud: a frame still unfinished after this pause is broken
    # (a unit reset, noise, a collision) and must not be glued to the next frame.
    frame_gap_s = 0.2

    def __init__(self, config: KeypadConfig, key: str, controller: QueueControl, *,
                 now: Callable[[], float] = time.monotonic) -> None:
        super().__init__(config, key, controller)
        self._lines = LineReader()
        self._frames = FrameReader()
        self._keys = config.key_table()
        self._now = now
        self._last_byte_at = 0.0
        # command -> [when, (ok, code, text) once known]. The whole command, not its type
        # and window: "return A-001" and "return A-002" (no window at all), or "3 call
        # A-017" and "3 call A-018", are two commands, not a bounce.
        self._recent: dict[Command, list[Any]] = {}

    def _on_state(self, up: bool, detail: str) -> None:
        if up:
            # Bytes from before an unplug are half a line or frame: never glue them to
            # what comes after the replug. (On the link's thread, like _on_data.)
            self._lines.take()
            self._frames.clear()
        super()._on_state(up, detail)

    def _on_idle(self) -> None:
        if (self.config.protocol == "frames" and self._frames.pending()
                and self._now() - self._last_byte_at > self.frame_gap_s):
            self.ignored += 1
            logger.info("%s: dropped %d byte(s) of an unfinished frame", self.name,
                        self._frames.clear())

    def _on_data(self, data: bytes) -> None:
        cfg = self.config
        self._last_byte_at = self._now()
        if cfg.protocol == "lines":
            for line in self._lines.feed(data):
                if line is None:
                    self._handle(Parsed(None, f"line longer than {self._lines.max_line} bytes"))
                    continue
                try:
                    parsed = parse_line(line, window=cfg.window, source=self.name)
                except Exception as e:  # a parser bug: this line is refused, the next still read
                    logger.exception("%s: cannot parse a line", self.name)
                    parsed = Parsed(None, f"cannot read this line ({type(e).__name__})")
                self._handle(parsed)
        else:
            for address, key in self._frames.feed(data):
                self._handle(parse_frame(address, key, addresses=cfg.addresses, keys=self._keys,
                                         transfer_service=cfg.transfer_service, source=self.name))

    def _handle(self, parsed: Parsed) -> None:
        if parsed.command is None:
            self.ignored += 1
            logger.info("%s: ignored input: %s", self.name, parsed.error)
            self._reply(parsed.reply_to, False, "bad_input", parsed.error)
            return
        cmd = parsed.command
        now = self._now()
        prev = self._recent.get(cmd)
        if prev is not None and now - prev[0] < self.repeat_s:
            self.ignored += 1
            label, window = getattr(cmd, "label", None), getattr(cmd, "window", None)
            logger.info("%s: %s%s%s again within %g s: done once", self.name,
                        type(cmd).__name__, f" {label}" if label else "",
                        f" at window {window}" if window is not None else "", self.repeat_s)
            if prev[1] is not None:    # answer as the first time (it may not have got it)
                self._reply(parsed.reply_to, *prev[1])
            return
        record: list[Any] = [now, None]
        self._recent = {k: v for k, v in self._recent.items() if now - v[0] < self.repeat_s}
        self._recent[cmd] = record
        fut = self.controller.submit(cmd)
        fut.add_done_callback(functools.partial(self._done, reply_to=parsed.reply_to,
                                                record=record))

    def _done(self, fut: "Future[Any]", reply_to: int | None, record: list[Any]) -> None:
        ok, code, text = outcome(fut)   # controller loop thread: read and enqueue only
        record[1] = (ok, code, text)
        self.last_result = code
        if ok:
            self.accepted += 1
        else:
            self.refused += 1
        self._reply(reply_to, ok, code, text)

    def _reply(self, address: int | None, ok: bool, code: str, text: str) -> None:
        if not self.config.replies:
            return
        if self.config.protocol == "lines":
            self.link.send(reply_line(ok, code, text))
        elif address is not None:
            self.link.send(reply_frame(address, ok))


class ScannerInput(_SerialInput):
    """Component for [[gpio.serial_inputs]] type = 'scanner' (QR / barcode at the kiosk)."""

    kind = "scanner"
    repeat_s = 3.0      # scanners in continuous mode send one code many times

    def __init__(self, config: ScannerConfig, key: str, controller: QueueControl, *,
                 beep: Callable[[], None] | None = None,
                 now: Callable[[], float] = time.monotonic, notices: Any = None) -> None:
        super().__init__(config, key, controller)
        self.notices = notices
        # Room for max_length characters plus the spaces a scanner may add: a longer line is
        # refused whole (clean_scan checks the length), never cut to a wrong code.
        self._lines = LineReader(max_line=config.max_length + 16)
        self._beep = beep
        self._now = now
        self._last: tuple[str, float] | None = None
        self._last_byte_at = 0.0
        self.notice = ""           # the last message for the visitor

    def _on_data(self, data: bytes) -> None:
        self._last_byte_at = self._now()
        for line in self._lines.feed(data):
            self._scan(line)

    def _on_idle(self) -> None:
        # Scanners set up without a CR suffix: a pause of 0.3 s ends the code.
        if self._lines.pending() and self._now() - self._last_byte_at > 0.3:
            self._scan(self._lines.take())

    def _scan(self, raw: str | None) -> None:
        code = None if raw is None else clean_scan(raw, self.config.max_length)
        if code is None:
            self.ignored += 1
            size = (f"over {self._lines.max_line}" if raw is None else str(len(raw)))
            logger.info("%s: ignored a scan of %s characters (not a booking code; codes up to "
                        "max_length = %d)", self.name, size, self.config.max_length)
            return
        now = self._now()
        if self._last is not None and self._last[0] == code and now - self._last[1] < self.repeat_s:
            self.ignored += 1
            return
        self._last = (code, now)
        cmd = checkin_command(code, self.config.printer, self.name, iin=self.config.iin)
        logger.info("%s: scanned %s", self.name, "an IIN (not shown)"
                    if isinstance(cmd, CheckInIin) else f"a code of {len(code)} characters")
        fut = self.controller.submit(cmd)
        fut.add_done_callback(self._done)

    def _done(self, fut: "Future[Any]") -> None:
        ok, code, text = outcome(fut)
        if ok:
            self.accepted += 1
            self.last_result, self.notice = code, text
        else:
            self._refused(code, text)
            if self.notices is not None:
                self.notices.after(fut, printer=self.config.printer, source=self.name)

    def _refused(self, code: str, text: str) -> None:
        self.refused += 1
        self.last_result, self.notice = code, text
        logger.info("%s: check-in refused (%s): %s", self.name, code, text)
        if self._beep is not None:
            self._beep()

    def health(self) -> dict[str, Any]:
        return {**super().health(), "notice": self.notice}


class NumpadInput(_SerialInput):
    """Component for [[gpio.serial_inputs]] type = 'numpad': a visitor types the IIN.

    The check digit is verified on the 12th key, before any command; only a valid IIN
    becomes CheckInIin (which hashes it). The keypad's display, when `echo` is on, gets
    the entry masked ('****--------') and each answer ('OK A-012', 'ERR bad_iin'); the
    screens get the masked entry (a board line) and every refusal in Kazakh and Russian.
    """

    kind = "numpad"

    def __init__(self, config: NumpadConfig, key: str, controller: Any, *,
                 beep: Callable[[], None] | None = None,
                 now: Callable[[], float] = time.monotonic, notices: Any = None) -> None:
        super().__init__(config, key, controller)
        self.notices = notices
        self._beep = beep
        self.entry = IinEntry(config.idle_s, now)

    def _on_state(self, up: bool, detail: str) -> None:
        if up:
            self.entry.key(0x1B)        # a replug: whatever was typed before is gone
        super()._on_state(up, detail)

    def _on_data(self, data: bytes) -> None:
        for byte in data:
            step = self.entry.key(byte)
            if step is not None:
                self._step(step)
        self.ignored = self.entry.ignored

    def _on_idle(self) -> None:
        step = self.entry.expire()
        if step is not None:
            logger.info("%s: a half-typed IIN was left for %g s: erased", self.name,
                        self.config.idle_s)
            self._step(step)

    def _step(self, step: Step) -> None:
        cfg = self.config
        if step.kind in ("typed", "erased", "cleared", "expired"):
            self._echo(step.mask)
            if self.notices is not None:
                # A board line over the kiosk shows the masked entry while it is typed.
                self.notices.publish("entry", "iin_entry", {"mask": step.mask},
                                     printer=cfg.printer, source=self.name,
                                     show_s=cfg.idle_s if step.count else 0.0)
            return
        if step.kind in ("bad_iin", "iin_short"):
            # Refused here, before anything: no command, no hash, nothing stored.
            logger.info("%s: an IIN entry was refused (%s; not shown)", self.name, step.kind)
            self._answer(False, step.kind)
            if self.notices is not None:
                self.notices.publish("refused", step.kind, printer=cfg.printer, source=self.name)
            return
        assert step.kind == "submit" and step.iin is not None
        logger.info("%s: IIN typed (not shown): checking in", self.name)
        self._echo("*" * 12)
        fut = self.controller.submit(CheckInIin(iin=step.iin, printer=cfg.printer,
                                                source=self.name))
        fut.add_done_callback(self._done)

    def _done(self, fut: "Future[Any]") -> None:
        ok, code, _ = outcome(fut)     # the controller's loop thread: enqueue only
        label = ""
        if ok:
            ticket = getattr(getattr(fut.result(), "reply", None), "ticket", None)
            label = getattr(ticket, "label", "") or ""
        self.last_result = code
        self._answer(ok, label if ok else code)
        if not ok and self.notices is not None:
            self.notices.after(fut, printer=self.config.printer, source=self.name)

    def _answer(self, ok: bool, what: str) -> None:
        if ok:
            self.accepted += 1
        else:
            self.refused += 1
            if self._beep is not None:
                self._beep()
        self._echo(f"OK {what}" if ok else f"ERR {what}")

    def _echo(self, text: str) -> None:
        if self.config.echo:
            self.link.send(text.encode("ascii", "replace") + b"\r\n")
