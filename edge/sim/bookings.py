"""The simulated day's bookings, in the wire form the engine loads (docs/bookings.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from edge.sim.visitors import Visitor


def booking_records(booked: list[Visitor], day: dt.date, slot_minutes: int) -> list[dict[str, Any]]:
    """One booking per booked visitor (those who never come too: their slot is held)."""
    out = []
    for v in booked:
        assert v.slot_s is not None
        out.append({"code": v.code, "service": v.service, "date": day.isoformat(),
                    "slot_start": f"{v.slot_s // 3600:02d}:{v.slot_s % 3600 // 60:02d}",
                    "slot_minutes": slot_minutes, "status": "active", "version": 1})
    return out
