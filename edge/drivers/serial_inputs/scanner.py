"""A scanned booking code at the kiosk becomes a check-in command (once bookings exist).

Scanned text can be anything printed on paper, an ID card's barcode included (an IIN):
it is never logged, only its length.
"""

from __future__ import annotations

from edge.errors import CommandError
from edge.queue.commands import CheckIn, Command

# Shown to the visitor (kiosk screen, logs, health) while check-in is not available.
CHECKIN_UNAVAILABLE = CommandError(
    "checkin_unavailable",
    "Брондауды QR-код арқылы тіркеу әзірге қолжетімсіз: кезек нөмірін түйме арқылы алыңыз. / "
    "Регистрация брони по QR-коду пока недоступна: возьмите талон кнопкой. / "
    "Booking check-in is not available yet: please take a ticket with the button.")


def checkin_command(code: str, printer: str | None, source: str) -> Command | None:
    """The command a scanned booking code asks for: a check-in by booking code.

    (None would mean check-in is not available: the kiosk then says so, see
    CHECKIN_UNAVAILABLE; kept for configurations without bookings.)
    """
    return CheckIn(code=code, printer=printer, source=source)


def clean_scan(raw: str, max_length: int) -> str | None:
    """The code if it looks like one (printable ASCII, not too long), else None."""
    code = raw.strip()
    if not code or len(code) > max_length:
        return None
    if not all(32 < ord(ch) < 127 for ch in code):
        return None
    return code
