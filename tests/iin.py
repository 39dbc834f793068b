"""Test IINs: a valid one from 11 digits, and the same with a wrong check digit."""

from __future__ import annotations

from edge.queue.bookings import IIN_WEIGHTS_1, IIN_WEIGHTS_2


def make_iin(first11: str) -> str:
    """A valid IIN from 11 digits (adds the check digit; raises if none exists)."""
    digits = [int(ch) for ch in first11]
    check = sum(w * d for w, d in zip(IIN_WEIGHTS_1, digits)) % 11
    if check == 10:
        check = sum(w * d for w, d in zip(IIN_WEIGHTS_2, digits)) % 11
        if check == 10:
            raise ValueError("no valid check digit")
    return first11 + str(check)


def wrong_check_digit(iin: str) -> str:
    """The IIN with its 12th digit changed: a typo the check digit catches."""
    return iin[:11] + str((int(iin[11]) + 1) % 10)
