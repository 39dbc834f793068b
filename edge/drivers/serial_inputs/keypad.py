"""Operator keypad protocols: text lines and QSystem-style 4-byte frames, parsed to commands.

Lines (ASCII, ended by CR or LF, at most 80 bytes):
    [<window>] <action> [<argument>]      e.g. "3 next", "3 call A-017", "3 transfer cars", "rate 5"
Frames: [0x01, address, key, 0x07]; the address picks the window, the key the action.
Parsers are pure: bytes in, (window/address, Command or error text) out.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.drivers.gpio.actions import window_command
from edge.queue.commands import CallTicket, Command, Rate, ReturnTicket

SOH, BEL = 0x01, 0x07
MAX_LINE = 80

# Words accepted in text lines; several spellings per action for hand-typed tests.
LINE_WORDS: dict[str, str] = {
    "next": "call_next", "call": "call_next", "call_next": "call_next",
    "recall": "recall", "noshow": "no_show", "no_show": "no_show", "start": "start",
    "done": "finish", "finish": "finish", "park": "park", "transfer": "transfer",
    "pause": "pause", "resume": "resume", "open": "open", "close": "close", "rate": "rate",
    "return": "return",
}


@dataclass(frozen=True)
class Parsed:
    """One keypad input: the command, or why there is none (`error`); `reply_to` for frames."""

    command: Command | None
    error: str = ""
    reply_to: int | None = None


def parse_line(line: str, *, window: int | None, source: str) -> Parsed:
    words = line.strip().split()
    if not words:
        return Parsed(None, "empty line")
    target = window
    if words[0].isascii() and words[0].isdecimal():   # not '²' or '٣': isdigit() lets them by
        target = int(words.pop(0))
    elif words[0][0].isdigit() or words[0][0].isnumeric():
        return Parsed(None, f"bad window number {words[0]!r}: use the digits 0-9, e.g. '3 next'")
    if target is None:
        return Parsed(None, "no window: start the line with the window number, e.g. '3 next'")
    if not words:
        return Parsed(None, "no action after the window number")
    action = LINE_WORDS.get(words[0].lower())
    if action is None:
        return Parsed(None, f"unknown action {words[0]!r}; use one of: "
                            + ", ".join(sorted(set(LINE_WORDS))))
    arg = words[1] if len(words) > 1 else None
    if action == "rate":
        if arg is None or arg not in ("1", "2", "3", "4", "5"):
            return Parsed(None, "rate needs a score 1..5, e.g. 'rate 5'")
        return Parsed(Rate(window=target, score=int(arg), source=source))
    if action == "call_next" and arg:
        # "3 call A-017": that ticket (a no-show who came back, too), not the next one.
        return Parsed(CallTicket(window=target, label=arg, source=source))
    if action == "return":
        if not arg:
            return Parsed(None, "return needs a ticket number, e.g. '3 return A-017'")
        return Parsed(ReturnTicket(label=arg, source=source))
    if action == "transfer" and not arg:
        return Parsed(None, "transfer needs a service id, e.g. 'transfer cars'")
    return Parsed(window_command(action, target, source, arg))


class LineReader:
    """Splits a byte stream into lines. An over-long line (a stuck key, garbage, a code
    longer than allowed) is never cut short: it comes out as None, for the caller to refuse."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> list[str | None]:
        lines: list[str | None] = []
        for byte in data:
            if byte in (0x0A, 0x0D):
                if self._overflow:
                    lines.append(None)
                elif self._buf:
                    lines.append(self._buf.decode("utf-8", errors="replace"))
                self._buf.clear()
                self._overflow = False
            elif len(self._buf) >= self.max_line:
                self._overflow = True
            else:
                self._buf.append(byte)
        return lines

    def pending(self) -> bool:
        return bool(self._buf) or self._overflow

    def take(self) -> str | None:
        """The unfinished line (a scanner without a line end), or None if it was too long."""
        text = None if self._overflow else self._buf.decode("utf-8", errors="replace")
        self._buf.clear()
        self._overflow = False
        return text


class FrameReader:
    """Finds [0x01, address, key, 0x07] frames in a byte stream, resyncing on garbage."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.garbage = 0

    def feed(self, data: bytes) -> list[tuple[int, int]]:
        self._buf += data
        frames: list[tuple[int, int]] = []
        while len(self._buf) >= 4:
            if self._buf[0] != SOH:
                self._buf.pop(0)
                self.garbage += 1
                continue
            if self._buf[3] != BEL:
                self._buf.pop(0)      # not a frame start after all; look for the next SOH
                self.garbage += 1
                continue
            frames.append((self._buf[1], self._buf[2]))
            del self._buf[:4]
        return frames

    def pending(self) -> bool:
        return bool(self._buf)

    def clear(self) -> int:
        """Drop an unfinished frame; how many bytes it had."""
        n = len(self._buf)
        self._buf.clear()
        self.garbage += n
        return n


def parse_frame(address: int, key: int, *, addresses: dict[int, int], keys: dict[int, str],
                transfer_service: str | None, source: str) -> Parsed:
    window = addresses.get(address)
    if window is None:
        return Parsed(None, f"unit address {address} is not in addresses", None)
    action = keys.get(key)
    if action is None:
        return Parsed(None, f"unit {address}: unknown key 0x{key:02X}", address)
    return Parsed(window_command(action, window, f"{source}@{address}", transfer_service),
                  reply_to=address)


def reply_frame(address: int, ok: bool) -> bytes:
    """The answer to a unit: [0x01, address, 'O' (done) or 'E' (refused), 0x07]."""
    return bytes([SOH, address, ord("O") if ok else ord("E"), BEL])


def reply_line(ok: bool, code: str, text: str) -> bytes:
    text = " ".join(text.split())       # one line, whatever the engine's text held
    return (f"OK {text}" if ok else f"ERR {code} {text}").rstrip().encode("utf-8") + b"\r\n"
