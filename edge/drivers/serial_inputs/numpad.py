"""A visitor's IIN typed on the kiosk's numeric keypad: keys in, an entry step out (pure).

Bytes from the keypad (one per key, as serial numeric keypads send them):
    '0'..'9'                      a digit (at most 12)
    BS (0x08), DEL (0x7F), '*'    erase the last digit
    ESC (0x1B), 'C'               clear the entry
    CR, LF, '#', 'E'              enter (12 digits go on by themselves at the 12th)
Anything else is ignored. The check digit is verified the moment the 12th digit is in,
before anything is sent anywhere: a wrong one is refused here and the entry cleared.
An entry left half-typed for `idle_s` is erased, so the next visitor starts afresh and
never finishes someone else's number. The digits never leave this object but in the
`submit` step, and never appear in its repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from edge.queue.bookings import iin_valid

IIN_LENGTH = 12
_ERASE = {0x08, 0x7F, ord("*")}
_CLEAR = {0x1B, ord("C"), ord("c")}
_ENTER = {0x0D, 0x0A, ord("#"), ord("E"), ord("e")}


@dataclass(frozen=True)
class Step:
    """What a key did. kind: typed, erased, cleared, expired, submit, bad_iin, iin_short."""

    kind: str
    count: int                                  # digits in the entry after the key
    iin: str | None = field(default=None, repr=False)   # only with kind == "submit"

    @property
    def mask(self) -> str:
        return mask(self.count)


def mask(count: int) -> str:
    """What a screen shows of an entry: one '*' per digit typed, '-' for the rest."""
    return "*" * count + "-" * (IIN_LENGTH - count)


class IinEntry:
    """One visitor's IIN being typed. Not thread-safe: the serial link's thread owns it."""

    def __init__(self, idle_s: float, now: Callable[[], float]) -> None:
        self.idle_s = idle_s
        self._now = now
        self._digits: list[str] = []
        self._last_key = 0.0
        self.ignored = 0

    def __repr__(self) -> str:
        return f"IinEntry({len(self._digits)} digits)"

    @property
    def count(self) -> int:
        return len(self._digits)

    def expire(self) -> Step | None:
        """Erase an entry left alone for idle_s (called when no byte comes)."""
        if self._digits and self._now() - self._last_key > self.idle_s:
            self._digits.clear()
            return Step("expired", 0)
        return None

    def key(self, byte: int) -> Step | None:
        """One key; None when it changes nothing (an unknown byte, enter on nothing)."""
        expired = self.expire()
        self._last_key = self._now()
        if ord("0") <= byte <= ord("9"):
            if len(self._digits) >= IIN_LENGTH:
                return None           # cannot happen: the 12th digit ends the entry
            self._digits.append(chr(byte))
            if len(self._digits) < IIN_LENGTH:
                return Step("typed", len(self._digits))
            iin = "".join(self._digits)
            self._digits.clear()
            return Step("submit", 0, iin) if iin_valid(iin) else Step("bad_iin", 0)
        if byte in _ERASE:
            if not self._digits:
                return expired
            self._digits.pop()
            return Step("erased", len(self._digits))
        if byte in _CLEAR:
            if not self._digits:
                return expired
            self._digits.clear()
            return Step("cleared", 0)
        if byte in _ENTER:
            if not self._digits:
                return expired        # CR LF after a finished entry, or a stray enter
            self._digits.clear()
            return Step("iin_short", 0)
        self.ignored += 1
        return expired
