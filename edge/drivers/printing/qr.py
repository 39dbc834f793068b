"""A fast QR code encoder for ticket URLs: byte mode, error correction M, one mask per code size.

The `qrcode` package draws the same code in ~5 ms of pure Python (it tries all eight
masks and keeps its polynomials as lists): half a ticket's CPU budget on a Pi. Here the
fixed parts of a code (finder, timing and alignment patterns, format and version
information, the order of the data modules) are built once per version and mask, and a
ticket only fills in its data and error correction bytes (table-driven Reed-Solomon).
Block structure, alignment positions and the BCH codes come from `qrcode` itself, and
the tests check every matrix against `qrcode`'s own for the same version and mask.

The mask: the one `qrcode` rates best for the ticket's URL with its digits and its token
(a run of 16 or more URL-safe characters: the visitor page's, random per ticket) replaced
by zeros, so "A-001" and "A-734", and any two tokens, share one evaluation: good codes,
one slow look per URL shape, and the same bytes for the same ticket whatever was printed
before. (Rated on every ticket's own token, the look took ~8 ms a ticket.)
"""

from __future__ import annotations

import functools
import operator
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from PIL import Image

ECC_M = 0          # qrcode.constants.ERROR_CORRECT_M; also its two format-info bits
BORDER = 2         # quiet zone in modules, as the tickets printed it before

_MASKS = (
    lambda r, c: (r + c) % 2 == 0,
    lambda r, c: r % 2 == 0,
    lambda r, c: c % 3 == 0,
    lambda r, c: (r + c) % 3 == 0,
    lambda r, c: (r // 2 + c // 3) % 2 == 0,
    lambda r, c: (r * c) % 2 + (r * c) % 3 == 0,
    lambda r, c: ((r * c) % 2 + (r * c) % 3) % 2 == 0,
    lambda r, c: ((r * c) % 3 + (r + c) % 2) % 2 == 0,
)

# GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1.
_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i] = _x
    _LOG[_x] = _i
    _x <<= 1
    if _x & 0x100:
        _x ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


@functools.lru_cache(maxsize=32)
def _ecc_table(n: int) -> tuple[int, ...]:
    """For each leading byte f: f * g(x) without its x^n term, as one n-byte integer."""
    gen = [1]                              # g(x) = (x - a^0)(x - a^1)...(x - a^(n-1))
    for i in range(n):
        nxt = [0] * (len(gen) + 1)
        for j, coef in enumerate(gen):
            nxt[j] ^= coef
            nxt[j + 1] ^= _mul(coef, _EXP[i])
        gen = nxt
    return tuple(int.from_bytes(bytes(_mul(f, g) for g in gen[1:]), "big") for f in range(256))


def _ecc(data: bytes, n: int) -> bytes:
    """Reed-Solomon: the remainder of data(x) * x^n divided by g(x)."""
    table = _ecc_table(n)
    shift = 8 * (n - 1)
    mask = (1 << (8 * n)) - 1
    rem = 0
    for byte in data:
        rem = ((rem << 8) & mask) ^ table[(rem >> shift) ^ byte]
    return rem.to_bytes(n, "big")


@functools.lru_cache(maxsize=40)
def _blocks(version: int) -> tuple[tuple[int, int], ...]:
    """(data bytes, error correction bytes) of each block of a version at level M."""
    from qrcode.base import rs_blocks
    return tuple((b.data_count, b.total_count - b.data_count) for b in rs_blocks(version, ECC_M))


def _count_bits(version: int) -> int:
    return 8 if version < 10 else 16


def version_for(length: int) -> int:
    """The smallest version whose level-M capacity holds `length` bytes in byte mode."""
    for version in range(1, 41):
        capacity = 8 * sum(d for d, _ in _blocks(version))
        if 4 + _count_bits(version) + 8 * length <= capacity:
            return version
    raise ValueError(f"{length} bytes do not fit a QR code (at most 2,331 at level M); "
                     f"shorten ticket.qr_url")


@functools.lru_cache(maxsize=16)
def _template(version: int, mask: int) -> "_Template":
    """What every code of this version and mask shares: fixed modules, placement, mask."""
    from qrcode.util import BCH_type_info, BCH_type_number, pattern_position
    n = 17 + 4 * version
    dark = bytearray(n * n)
    fixed = bytearray(n * n)

    def put(r: int, c: int, on: bool) -> None:
        dark[r * n + c] = on
        fixed[r * n + c] = 1

    for top, left in ((0, 0), (0, n - 7), (n - 7, 0)):       # finders and their separators
        for r in range(-1, 8):
            for c in range(-1, 8):
                if 0 <= top + r < n and 0 <= left + c < n:
                    ring = max(abs(r - 3), abs(c - 3))
                    put(top + r, left + c, ring != 2 and ring != 4)
    centres = pattern_position(version)
    for r0 in centres:                                         # alignment patterns
        for c0 in centres:
            if fixed[r0 * n + c0]:
                continue   # under a finder
            for r in range(-2, 3):
                for c in range(-2, 3):
                    put(r0 + r, c0 + c, max(abs(r), abs(c)) != 1)
    for i in range(8, n - 8):                                  # timing (alignment agrees)
        put(6, i, i % 2 == 0)
        put(i, 6, i % 2 == 0)
    fmt = BCH_type_info((ECC_M << 3) | mask)                  # 15 bits, bit 14 first
    first = [(8, c) for c in (0, 1, 2, 3, 4, 5, 7, 8)] + [(r, 8) for r in (7, 5, 4, 3, 2, 1, 0)]
    second = [(n - 1 - i, 8) for i in range(7)] + [(8, n - 8 + i) for i in range(8)]
    for k, ((r1, c1), (r2, c2)) in enumerate(zip(first, second)):
        bit = bool((fmt >> (14 - k)) & 1)
        put(r1, c1, bit)
        put(r2, c2, bit)
    put(n - 8, 8, True)                                        # the dark module
    if version >= 7:
        info = BCH_type_number(version)                        # 18 bits, bit 0 first
        for i in range(18):
            bit = bool((info >> i) & 1)
            put(i // 3, n - 11 + i % 3, bit)
            put(n - 11 + i % 3, i // 3, bit)
    order: list[int] = []
    col, upward = n - 1, True
    while col > 0:
        if col == 6:
            col -= 1   # the vertical timing column is skipped
        for r in (range(n - 1, -1, -1) if upward else range(n)):
            for c in (col, col - 1):
                if not fixed[r * n + c]:
                    order.append(r * n + c)
        upward = not upward
        col -= 2
    # A ticket's matrix is one gather and one XOR: `source` is the data bits (0/1 bytes,
    # placement order) followed by the fixed modules; `gather` picks each module's byte;
    # the mask flips the data modules it covers.
    where = {index: k for k, index in enumerate(order)}
    gather = tuple(where[i] if i in where else len(order) + i for i in range(n * n))
    masked = _MASKS[mask]
    flips = bytes(1 if i in where and masked(i // n, i % n) else 0 for i in range(n * n))
    return _Template(n, len(order), bytes(dark), operator.itemgetter(*gather),
                     int.from_bytes(flips, "big"))


@dataclass(frozen=True)
class _Template:
    n: int
    data_modules: int
    fixed: bytes                  # the fixed modules (1 = dark); data modules 0
    gather: Callable[[bytes], tuple[int, ...]]   # itemgetter: the gather in one C call
    flips: int


_BITS = bytes.maketrans(b"01", b"\x00\x01")


def _codewords(data: bytes, version: int) -> bytes:
    blocks = _blocks(version)
    capacity = sum(d for d, _ in blocks)
    count = _count_bits(version)
    bits = (0b0100 << count | len(data)) << 8 * len(data) | int.from_bytes(data, "big")
    nbits = 4 + count + 8 * len(data)
    room = 8 * capacity - nbits
    pad = min(4, room) + (-(nbits + min(4, room))) % 8          # terminator, then whole bytes
    bits <<= pad
    body = bits.to_bytes((nbits + pad) // 8, "big")
    body += (b"\xec\x11" * capacity)[:capacity - len(body)]
    parts, ecc, pos = [], [], 0
    for d, e in blocks:
        parts.append(body[pos:pos + d])
        ecc.append(_ecc(body[pos:pos + d], e))
        pos += d
    if len(parts) == 1:
        return body + ecc[0]
    out = bytearray()
    longest = max(d for d, _ in blocks)
    for i in range(longest):
        for p in parts:
            if i < len(p):
                out.append(p[i])
    for group in zip(*ecc):
        out += bytes(group)
    return bytes(out)


def matrix(data: bytes, *, version: int | None = None, mask: int | None = None) -> list[list[bool]]:
    """The code's modules (True = dark), rows top to bottom, without the quiet zone."""
    flat, n = _modules(data, version, mask)
    return [[bool(flat[r * n + c]) for c in range(n)] for r in range(n)]


def _modules(data: bytes, version: int | None, mask: int | None) -> tuple[bytes, int]:
    version = version or version_for(len(data))
    mask = _best_mask(data, version) if mask is None else mask
    t = _template(version, mask)
    words = _codewords(data, version)
    bits = format(int.from_bytes(words, "big"), f"0{8 * len(words)}b").encode().translate(_BITS)
    source = bits.ljust(t.data_modules, b"\x00") + t.fixed    # remainder bits are 0
    placed = bytes(t.gather(source))
    return (int.from_bytes(placed, "big") ^ t.flips).to_bytes(t.n * t.n, "big"), t.n


_TOKEN = re.compile(rb"[A-Za-z0-9_-]{16,}")


def _best_mask(data: bytes, version: int) -> int:
    shape = _TOKEN.sub(lambda m: b"0" * len(m.group()), data)
    return _rated_mask(re.sub(rb"[0-9]", b"0", shape), version)


@functools.lru_cache(maxsize=64)
def _rated_mask(canonical: bytes, version: int) -> int:
    import qrcode
    from qrcode.util import QRData
    code = qrcode.QRCode(version=version, error_correction=ECC_M)
    code.add_data(QRData(canonical, mode=4))   # 4 = 8-bit byte mode, as encoded here
    return int(code.best_mask_pattern())


def qr_ink(content: str, box: int) -> "Image.Image":
    """The code as a 1-bit ink mask (1 = dark), `box` dots per module, no quiet zone.

    The quiet zone is left to the paper (feed above and below, white margins beside):
    no blank rows or columns are sent.
    """
    from PIL import Image
    flat, n = _modules(content.encode("utf-8"), None, None)
    img = Image.frombytes("L", (n, n), flat.translate(_WHITE_INK)).convert("1", dither=Image.Dither.NONE)
    if box > 1:
        img = img.resize((n * box, n * box), Image.Resampling.NEAREST)
    return img


_WHITE_INK = bytes.maketrans(b"\x00\x01", b"\x00\xff")


def qr_modules(content: str) -> int:
    """Modules across the code of `content` (without the quiet zone)."""
    return 17 + 4 * version_for(len(content.encode("utf-8")))
