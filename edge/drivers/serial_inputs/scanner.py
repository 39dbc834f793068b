"""A scanned booking code at the kiosk becomes a check-in command.

Scanned text can be anything printed on paper, an ID card's barcode included (an IIN):
it is never logged, only its length.
"""

from __future__ import annotations

from edge.queue.bookings import iin_valid
from edge.queue.commands import CheckIn, CheckInIin


def checkin_command(code: str, printer: str | None, source: str, *,
                    iin: bool = False) -> CheckIn | CheckInIin:
    """The command a scan asks for: a check-in by booking code (an unknown code is the
    engine's refusal, which the kiosk shows), or with `iin` (the scanner's `iin` switch)
    by IIN when the scan is exactly 12 digits with a valid check digit: an ID card's
    barcode. 12 digits with a wrong check digit are not an IIN: a booking code then."""
    if iin and len(code) == 12 and code.isascii() and code.isdigit() and iin_valid(code):
        return CheckInIin(iin=code, printer=printer, source=source)
    return CheckIn(code=code, printer=printer, source=source)


def clean_scan(raw: str, max_length: int) -> str | None:
    """The code if it looks like one (printable ASCII, not too long), else None."""
    code = raw.strip()
    if not code or len(code) > max_length:
        return None
    if not all(32 < ord(ch) < 127 for ch in code):
        return None
    return code
