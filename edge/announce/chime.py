"""A two-tone "ding-dong" chime made from sine waves (no recording or library needed)."""

from __future__ import annotations

import io
import math
import sys
import wave
from array import array

# E5 then C5: the falling major third most hall chimes use; partials make it bell-like.
NOTES = ((659.25, 0.0), (523.25, 0.45))
PARTIALS = ((1.0, 1.0), (2.0, 0.35), (3.0, 0.12))


def chime_samples(rate: int = 22050, seconds: float = 1.6, volume: float = 0.5) -> array:
    """Signed 16-bit mono samples of the chime."""
    n = int(rate * seconds)
    out = array("h", bytes(2 * n))
    norm = sum(a for _, a in PARTIALS)
    for freq, start_s in NOTES:
        start = int(start_s * rate)
        for i in range(start, n):
            t = (i - start) / rate
            # a 5 ms attack avoids a click; exponential decay like a struck bell
            env = min(1.0, t / 0.005) * math.exp(-3.2 * t)
            s = sum(a * math.sin(2 * math.pi * freq * k * t) for k, a in PARTIALS) / norm
            v = out[i] + int(32767 * volume * 0.5 * env * s)
            out[i] = max(-32768, min(32767, v))
    return out


def chime_wav(rate: int = 22050, channels: int = 1) -> bytes:
    """The chime as a 16-bit WAV file (bytes), in the clips' rate and channel count."""
    mono = chime_samples(rate)
    if channels == 2:
        frames = array("h")
        for s in mono:
            frames.extend((s, s))
    else:
        frames = mono
    if sys.byteorder == "big":  # WAV samples are little-endian
        frames.byteswap()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames.tobytes())
    return buf.getvalue()
