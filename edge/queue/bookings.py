"""Bookings from the e-gov portal: the wire model, the stored form, IIN checks and hashing.

The visitor's IIN never leaves this module in clear: `parse_booking` turns an `iin` key
into `iin_hmac` (HMAC-SHA256 with the site's secret) before anything is stored, and
errors about an IIN never repeat it.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import zoneinfo
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class BookingIn(BaseModel):
    """One booking as central (MQTT `bookings`) or a booking file sends it; docs/bookings.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{2,31}$",
                      description="booking code shown to the visitor (QR content); case-insensitive")
    service: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", description="service id")
    date: dt.date = Field(description="day of the slot, ISO date (local)")
    slot_start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM local time")
    slot_minutes: int = Field(default=15, ge=1, le=480, description="length of the slot")
    iin_hmac: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$",
                                 description="HMAC-SHA256(site secret, IIN), lowercase hex")
    status: Literal["active", "cancelled", "rebooked", "expired"] = Field(default="active")
    # At most SQLite's largest integer: a bigger one passed validation and then failed
    # the whole batch as a storage error naming nothing.
    version: int = Field(default=1, ge=1, le=2**63 - 1,
                         description="grows with every change of this booking")
    site: str | None = Field(default=None, max_length=64,
                             description="center the booking is for; another site is refused")
    rebooked_to: str | None = Field(default=None, max_length=32,
                                    description="code of the new booking after a re-booking")


class BookingRejected(ValueError):
    """One booking of a batch could not be taken; the message names the field, never an IIN."""


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


def parse_booking(raw: Any, key: bytes | None) -> Booking:
    """A validated Booking from a wire dict; a clear `iin` is hashed here and dropped."""
    if isinstance(raw, Booking):
        return raw
    if isinstance(raw, BookingIn):
        raw = raw.model_dump()
    if isinstance(raw, RefusedBooking):
        raise BookingRejected(raw.reason)
    if not isinstance(raw, dict):
        raise BookingRejected(f"expected an object, got {type(raw).__name__}")
    data = dict(raw)
    iin = data.pop("iin", None)
    if iin is not None:
        iin = str(iin).strip()
        if not iin_valid(iin):
            raise BookingRejected("iin: not a valid IIN (12 digits with a correct check digit)")
        if key is None:
            raise BookingRejected("iin: no IIN secret is configured on this device, so IINs "
                                  "cannot be kept; set [bookings] iin_secret_file or "
                                  "$KEZEK_IIN_SECRET, or send iin_hmac")
        if data.get("iin_hmac") not in (None, iin_hmac(key, iin)):
            raise BookingRejected("iin_hmac: does not match the IIN given beside it")
        data["iin_hmac"] = iin_hmac(key, iin)
    try:
        b = BookingIn.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err.get("loc", ())) or "(booking)"
            problems.append(f"{loc}: {str(err.get('msg', '')).removeprefix('Value error, ')}")
        raise BookingRejected("; ".join(problems)) from None
    return Booking(code=b.code.upper(), service=b.service, day=b.date.isoformat(),
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
