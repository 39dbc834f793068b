"""Bookings from the e-gov portal: the wire model, the stored form, IIN checks and hashing.

The visitor's IIN never leaves this module in clear: `parse_booking` turns an `iin` key
into `iin_hmac` (HMAC-SHA256 with the site's secret) before anything is stored, refuses an
IIN put into a text field (`iin_in_text`), and errors about an IIN never repeat it.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import re
import zoneinfo
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

IIN_WEIGHTS_1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
IIN_WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)


def iin_valid(iin: str) -> bool:
    """True for 12 digits whose 12th is the check digit of the first 11 (see domain.md)."""
    if len(iin) != 12 or not iin.isascii() or not iin.isdigit():
        return False
    digits = [int(ch) for ch in iin]
    check = sum(w * d for w, d in zip(IIN_WEIGHTS_1, digits)) % 11
    if check == 10:
        check = sum(w * d for w, d in zip(IIN_WEIGHTS_2, digits)) % 11
        if check == 10:
            return False
    return check == digits[11]


# Any run of digits, Unicode ones included ("\d"): a full-width IIN is the IIN all the same.
_DIGIT_RUN = re.compile(r"\d+")


def holds_iin(value: Any) -> bool:
    """True for text holding an IIN: a run of exactly 12 digits with a valid check digit.

    Only whole runs: a longer number (a 13-digit timestamp) is not an IIN, and digits
    split by '-' or a space are not joined (a code may carry a date: KZ-20261123-0042).
    """
    if not isinstance(value, str):
        return False
    return any(len(run) == 12 and iin_valid("".join(str(int(ch)) for ch in run))
               for run in _DIGIT_RUN.findall(value))


def iin_hmac(key: bytes, iin: str) -> str:
    """The keyed hash stored instead of an IIN: lowercase hex HMAC-SHA256(site secret, IIN)."""
    return hmac.new(key, iin.encode("ascii"), hashlib.sha256).hexdigest()


class BookingStatus(str, enum.Enum):
    ACTIVE = "active"
    CANCELLED = "cancelled"
    REBOOKED = "rebooked"        # moved to another slot: the new booking has its own code
    CHECKED_IN = "checked_in"    # set here, at the kiosk; local state wins over central
    EXPIRED = "expired"          # its day (or its late margin) passed without a check-in


@dataclass(frozen=True)
class Booking:
    """A booking as the engine keeps it (no IIN, only its keyed hash)."""

    code: str
    service: str
    day: str                      # ISO date, the center's time zone
    slot_start: str               # "HH:MM" local time
    slot_minutes: int
    status: BookingStatus
    version: int
    iin_hmac: str | None = None
    site: str | None = None
    rebooked_to: str | None = None
    ticket_id: int | None = None
    checked_in_ms: int | None = None

    def with_(self, **changes: Any) -> "Booking":
        return replace(self, **changes)

    @property
    def holds_place(self) -> bool:
        """Whether it takes one of its slot's places (slot quotas): booked and not given
        up; a cancelled or moved booking frees its place for the portal to sell again."""
        return self.status in (BookingStatus.ACTIVE, BookingStatus.CHECKED_IN) \
            or self.ticket_id is not None

    def slot_ms(self, tz: zoneinfo.ZoneInfo) -> int:
        """The slot start as UTC milliseconds."""
        d = dt.date.fromisoformat(self.day)
        h, m = (int(x) for x in self.slot_start.split(":"))
        local = dt.datetime(d.year, d.month, d.day, h, m, tzinfo=tz)
        return int(local.timestamp() * 1000)

    def same_content(self, other: "Booking") -> bool:
        return (self.service, self.day, self.slot_start, self.slot_minutes, self.status,
                self.iin_hmac, self.site, self.rebooked_to) == \
            (other.service, other.day, other.slot_start, other.slot_minutes, other.status,
             other.iin_hmac, other.site, other.rebooked_to)


# What a booking file or central may hold (central's bookings message has the same cap).
MAX_BOOKINGS_PER_BATCH = 20_000
_CODE = r"^[A-Za-z0-9][A-Za-z0-9-]{2,31}$"


def _calendar_date(v: str) -> str:
    try:
        dt.date.fromisoformat(v)
    except ValueError:
        raise ValueError("not a real calendar date (month 01-12, day within the month)") from None
    return v


class BookingIn(BaseModel):
    """One booking as central (MQTT `bookings`) or a booking file sends it; docs/bookings.md.

    Types are taken as they are (strict, like the rest of the downlink): "15" is not 15
    minutes, true is not 1, a date-time is not a date. A whole 15.0 is 15 (JSON has one
    number type; parse_booking turns it into an int first).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    code: str = Field(pattern=_CODE,
                      description="booking code shown to the visitor (QR content); case-insensitive")
    service: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", description="service id")
    date: Annotated[str, AfterValidator(_calendar_date)] = Field(
        pattern=r"^\d{4}-\d{2}-\d{2}$", description="day of the slot, ISO date YYYY-MM-DD (local)")
    slot_start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM local time")
    slot_minutes: int = Field(default=15, ge=1, le=480, description="length of the slot")
    iin_hmac: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$",
                                 description="HMAC-SHA256(site secret, IIN), lowercase hex")
    status: Literal["active", "cancelled", "rebooked", "expired"] = Field(default="active")
    # At most SQLite's largest integer: a bigger one passed validation and then failed
    # the whole batch as a storage error naming nothing.
    version: int = Field(default=1, ge=1, le=2**63 - 1,
                         description="grows with every change of this booking")
    site: str | None = Field(default=None, min_length=1, max_length=64,
                             description="center the booking is for; another site is refused")
    rebooked_to: str | None = Field(default=None, pattern=_CODE,
                                    description="code of the new booking after a re-booking")


# Per field: what to write, for the person who fixes a file or central's sender.
FIELD_RULES = {
    "code": "3-32 letters, digits or '-', starting with a letter or digit, e.g. AB-100",
    "service": "a service id of this center's config (lowercase letters, digits, '_', '-'), "
               "e.g. docs",
    "date": "the day as YYYY-MM-DD, e.g. 2026-11-23",
    "slot_start": "the local start time as HH:MM from 00:00 to 23:59, e.g. 09:30",
    "slot_minutes": "a whole number of minutes from 1 to 480, e.g. 15 (default 15)",
    "iin_hmac": "64 lowercase hex characters: HMAC-SHA256(site secret, IIN)",
    "status": "one of active, cancelled, rebooked, expired, in lowercase (default active)",
    "version": "a whole number from 1 to 9223372036854775807, e.g. 1 (default 1)",
    "site": "this center's site id ([center] site in its config), or leave it out",
    "rebooked_to": "the new booking's code, written like a code (e.g. AB-101), or leave it out",
    "iin": "the visitor's IIN: 12 digits, as text",
}
# Booking fields whose text is stored, shown at the kiosk and in messages, and sent in
# events (the code in every ticket event of a booked visitor). An IIN must not be in any
# of them: a column shifted at central or in a spreadsheet, or a code made from the IIN,
# would keep it in clear. (iin_hmac is hex and may hold 12 digits in a row by chance; it
# is a hash, not checked. date, slot_start, status cannot hold one by their format.)
IIN_FREE_FIELDS = ("code", "service", "site", "rebooked_to")
_PROBLEM = {
    "missing": "missing or empty", "string_type": "must be text", "int_type": "not a whole number",
    "int_parsing": "not a whole number", "int_from_float": "not a whole number",
    "greater_than_equal": "out of range", "less_than_equal": "out of range",
    "string_pattern_mismatch": "wrong format", "string_too_long": "too long",
    "string_too_short": "empty", "literal_error": "not a known value",
}


class BookingRejected(ValueError):
    """One booking of a batch could not be taken; the message names the field, never an IIN.

    `problems` holds (field, text) pairs, every problem of the entry; field "" when the
    problem is the entry as a whole.
    """

    def __init__(self, problems: str | list[tuple[str, str]]) -> None:
        self.problems = [("", problems)] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(f"{f}: {m}" if f else m for f, m in self.problems))


class RefusedBooking(dict):  # type: ignore[type-arg]
    """Stands in for an entry the caller already refused, keeping its place in the batch.

    The sync downlink refuses bookings that carry a clear `iin` (central must send
    `iin_hmac`) and must not hand the IIN on; passing this instead keeps the engine's
    per-entry report (index, code, reason) identical to any other bad entry. It holds
    only the booking code.
    """

    def __init__(self, code: str | None, reason: str) -> None:
        super().__init__({"code": code} if code is not None else {})
        self.reason = reason


def shown(value: str) -> str:
    """A value for a message or an event, unless it could be (part of) an IIN: a field
    filled from the wrong column may hold one, and no IIN leaves in clear."""
    if len(value) <= 32 and sum(ch.isdigit() for ch in value) <= 4:
        return repr(value)
    return "(not shown: it holds many digits)"


def iin_in_text(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, problem) for each text field of a booking entry that holds an IIN.

    The one rule for central's entries, booking files and the inbox; the problem never
    repeats the value and says where the IIN belongs instead.
    """
    return [(f, "holds an IIN (12 digits in a row with a valid check digit), which is never "
                "kept or sent in clear; the visitor's IIN goes only in iin_hmac, as its keyed "
                "hash (in a booking file: in the iin column, hashed when loaded); write "
                + FIELD_RULES[f])
            for f in IIN_FREE_FIELDS if holds_iin(raw.get(f))]


def iin_problem(iin: Any) -> str | None:
    """Why `iin` is not a usable IIN (never repeating it), or None if it is one."""
    if not isinstance(iin, str):
        if isinstance(iin, int) and not isinstance(iin, bool):
            return ("must be text (in JSON a string in quotes), not a number: a number "
                    "loses the leading 0 of IINs of people born 2000-2009")
        return "must be text: the visitor's 12-digit IIN"
    if re.fullmatch(r"\d[.,]\d+[eE]\+?\d+", iin):
        return ("written in scientific notation (Excel shows a long number so and loses "
                "digits): format the iin column as Text and enter the IINs again")
    if not iin.isascii() or not iin.isdigit():
        return "only digits, 12 of them (no spaces, letters or signs)"
    if len(iin) == 11:
        return ("11 digits, not 12: the leading 0 was probably lost (Excel treats the column "
                "as a number); format the iin column as Text and add the 0")
    if len(iin) != 12:
        return f"{len(iin)} digits; an IIN has 12"
    if not iin_valid(iin):
        return "the check digit (the 12th) does not match the others: a typo?"
    return None


def _hint(field: str, value: Any) -> str:
    """A likely cause of a bad value, in words that never repeat the value."""
    if not isinstance(value, str):
        if isinstance(value, bool):
            return " (true/false)"
        if isinstance(value, float):
            return " (it has a fraction)"
        if value is None:
            return " (null)"
        if isinstance(value, int) and field not in ("slot_minutes", "version"):
            return " (a number; in JSON, text goes in double quotes)"
        if isinstance(value, str | int):
            return ""
        return f" (a JSON {type(value).__name__})"
    v = value.strip()
    if field in ("slot_minutes", "version"):
        if re.fullmatch(r"-?\d+", v):
            return " (a number in quotes is text: write it without quotes)"
        return ""
    if field == "date":
        if re.fullmatch(r"\d{1,2}[./]\d{1,2}[./]\d{2,4}", v):
            return (" (it looks like day.month.year, as Excel in Russian writes dates: "
                    "format the column as yyyy-mm-dd)")
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ].*", v):
            return " (only the date, without a time)"
    if field == "slot_start":
        if re.fullmatch(r"\d:\d\d", v):
            return " (write the hour with two digits, 09:00; Excel drops the 0: format the column as Text)"
        if re.fullmatch(r"\d{1,2}:\d\d:\d\d", v):
            return " (without seconds)"
        m = re.fullmatch(r"(\d\d):(\d\d)", v)
        if m and int(m.group(1)) > 23:
            return " (hours go from 00 to 23)"
        if m and int(m.group(2)) > 59:
            return " (minutes go from 00 to 59)"
    if field == "status" and v.lower() in ("active", "cancelled", "rebooked", "expired"):
        return " (write it in lowercase)"
    if field == "status" and v.lower() == "checked_in":
        return " (checked_in is set by the edge at the kiosk, never sent)"
    if v != value:
        return " (it has spaces around it)"
    return ""


def _model_problems(e: ValidationError, data: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for err in e.errors():
        loc = err.get("loc", ())
        field = str(loc[0]) if loc else ""
        kind = err.get("type", "")
        if kind == "extra_forbidden":
            name = field[:32] if sum(ch.isdigit() for ch in field) <= 4 else "(a key of digits)"
            out.append((name, "not a booking field; remove it (fields: "
                                    f"{', '.join(BookingIn.model_fields)})"))
            continue
        if kind == "value_error":
            problem = str(err.get("msg", "")).removeprefix("Value error, ")
        else:
            problem = _PROBLEM.get(kind, "not valid")
        hint = _hint(field, data.get(field)) if kind != "missing" else ""
        rule = FIELD_RULES.get(field)
        out.append((field, f"{problem}{hint}" + (f"; write {rule}" if rule else "")))
    return out


def parse_booking(raw: Any, key: bytes | None) -> Booking:
    """A validated Booking from a wire dict; a clear `iin` is hashed here and dropped.

    The one check of a booking for central's messages, booking files and the inbox:
    BookingRejected lists every problem of the entry, each with its field and the fix.
    """
    if isinstance(raw, Booking):
        return raw
    if isinstance(raw, BookingIn):
        raw = raw.model_dump()
    if isinstance(raw, RefusedBooking):
        raise BookingRejected(raw.reason)
    if not isinstance(raw, dict):
        raise BookingRejected(f"expected an object with the booking's fields, got "
                              f"{type(raw).__name__}")
    data = dict(raw)
    problems: list[tuple[str, str]] = []
    iin = data.pop("iin", None)
    if iin is not None:
        why = iin_problem(iin)
        if why is not None:
            problems.append(("iin", why))
        elif key is None:
            problems.append(("iin", "no IIN secret is configured on this device, so IINs "
                                    "cannot be kept; set [bookings] iin_secret_file or "
                                    "$KEZEK_IIN_SECRET, or send iin_hmac"))
        else:
            digest = iin_hmac(key, iin)
            if data.get("iin_hmac") not in (None, digest):
                problems.append(("iin_hmac", "does not match the IIN given beside it"))
            data["iin_hmac"] = digest
    in_text = iin_in_text(data)
    problems.extend(in_text)
    for k in ("slot_minutes", "version"):
        v = data.get(k)
        # JSON has one number type: 15.0 is the number 15 (as in central's messages).
        if isinstance(v, float) and v.is_integer() and abs(v) <= 2**53:
            data[k] = int(v)
    try:
        b = BookingIn.model_validate(data)
    except ValidationError as e:
        # A field holding an IIN is named once, with that reason: its format matters less.
        held = {f for f, _ in in_text}
        problems.extend(p for p in _model_problems(e, data) if p[0] not in held)
    if problems:
        raise BookingRejected(problems)
    return Booking(code=b.code.upper(), service=b.service, day=b.date,
                   slot_start=b.slot_start, slot_minutes=b.slot_minutes,
                   status=BookingStatus(b.status), version=b.version, iin_hmac=b.iin_hmac,
                   site=b.site, rebooked_to=b.rebooked_to.upper() if b.rebooked_to else None)


def booking_wire(b: Booking) -> dict[str, Any]:
    """The wire form of a stored booking (what a booking file written by the CLI holds)."""
    out: dict[str, Any] = {"code": b.code, "service": b.service, "date": b.day,
                           "slot_start": b.slot_start, "slot_minutes": b.slot_minutes,
                           "status": b.status.value if b.status is not BookingStatus.CHECKED_IN
                           else "active", "version": b.version}
    for k in ("iin_hmac", "site", "rebooked_to"):
        v = getattr(b, k)
        if v is not None:
            out[k] = v
    return out
