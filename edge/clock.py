"""Clock readings for the engine: wall time, monotonic time, boot id and NTP sync state."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time
import uuid
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ClockReading:
    """One look at the clocks; the engine only ever sees time through these.

    `wall_ms` is UTC milliseconds since the epoch as the system believes it; it can jump.
    `mono_ms` is monotonic milliseconds since boot; it never jumps within a boot.
    `boot` identifies the boot (monotonic time restarts on a new boot).
    `synced` says whether the wall clock is disciplined by NTP (or set by a trusted RTC).
    """

    wall_ms: int
    mono_ms: int
    boot: str
    synced: bool


class Clock(Protocol):
    def read(self) -> ClockReading: ...


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        # Not Linux: one id per process is the best we can do; it only makes the
        # engine treat a restart like a reboot, which is the safe side.
        return f"proc-{uuid.uuid4()}"


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>; only `status` is read, the rest is padding room.
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("pad", ctypes.c_byte * 256)]


_STA_UNSYNC = 0x0040


def wall_clock_synced() -> bool:
    """True when the kernel says NTP disciplines the clock (adjtimex without STA_UNSYNC)."""
    override = os.environ.get("KEZEK_CLOCK_SYNCED")
    if override in ("0", "1"):
        return override == "1"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        tx = _Timex()
        state = libc.adjtimex(ctypes.byref(tx))
        if state < 0:
            return False
        return not (tx.status & _STA_UNSYNC) and state != 5  # 5 = TIME_ERROR
    except (OSError, AttributeError):
        return False


class SystemClock:
    """The real clocks of the machine."""

    def __init__(self, sync_check_interval_s: float = 30.0) -> None:
        self._boot = _boot_id()
        self._synced = wall_clock_synced()
        self._checked_at = time.monotonic()
        self._interval = sync_check_interval_s

    def read(self) -> ClockReading:
        mono = time.monotonic()
        if mono - self._checked_at > self._interval:
            self._synced = wall_clock_synced()
            self._checked_at = mono
        return ClockReading(wall_ms=time.time_ns() // 1_000_000, mono_ms=int(mono * 1000),
                            boot=self._boot, synced=self._synced)


class ManualClock:
    """A clock the tests and the day simulator move by hand; it can also be made to jump."""

    def __init__(self, wall_ms: int, *, synced: bool = True, boot: str = "boot-1") -> None:
        self.wall_ms = wall_ms
        self.mono_ms = 1_000
        self.boot = boot
        self.synced = synced

    def read(self) -> ClockReading:
        return ClockReading(self.wall_ms, self.mono_ms, self.boot, self.synced)

    def advance(self, seconds: float) -> None:
        """Time passes normally: wall and monotonic move together."""
        step = int(seconds * 1000)
        self.wall_ms += step
        self.mono_ms += step

    def jump_wall(self, seconds: float) -> None:
        """The wall clock is stepped (NTP, fake-hwclock) while monotonic time stays."""
        self.wall_ms += int(seconds * 1000)

    def reboot(self, boot: str, *, wall_ms: int | None = None, synced: bool = False) -> None:
        self.boot = boot
        self.mono_ms = 1_000
        self.synced = synced
        if wall_ms is not None:
            self.wall_ms = wall_ms
