"""The unchanging parts of a raster ticket kept in the printer's RAM (ESC/POS download graphics).

A Kazakh raster ticket is ~10 KB, 0.9 s at 115200 baud; most of it (center and service
names, markers, rules, footer) is the same on every ticket of a service. Those parts are
defined once as download graphics (GS ( L function 83) and printed by key (function 85);
only the changing rows and the QR code travel per ticket (~4 KB).

Why RAM and not NV graphics (function 67): NV writes wear the printer's flash (vendors
allow ~10 a day), keep the printer busy up to a minute, and erase its FS q logos. RAM
graphics are lost at power-off and cleared by ESC @, so nothing is taken on trust:

- the printer must answer the key-list query (function 80) before any of it is used;
  a printer that does not answer prints whole raster tickets (the fallback, always right);
- before each ticket the keys are listed again: a missing one (the printer was switched
  off and on, ESC @, no room) means this ticket goes whole and the image is defined
  again once the printer is idle;
- after each ticket that used them the keys are listed once more (the printer answers
  after printing what came before): if one vanished meanwhile, the printer restarted
  under the ticket, which then counts as not printed and goes again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Sequence, Union

from edge.drivers.printing.raster import ESC, GS, Band, RasterTicket, align, feed, placed_bytes
from edge.errors import PrinterError

logger = logging.getLogger(__name__)

KEY_LIST = GS + b"(L\x04\x00\x30\x50KC"            # fn 80: list the download graphics keys
DELETE_ALL = GS + b"(L\x05\x00\x30\x51CLR"          # fn 81
ACK = b"\x06"                                       # the host's answer to a key-list block
REPLY_HEAD = b"\x37\x73"                            # header and identifier of fn 80's reply
MAX_IMAGES = 40       # one key-list reply block holds 40 keys
KEYS = tuple(bytes((0x4B, c)) for c in range(0x30, 0x30 + MAX_IMAGES))   # "K0", "K1", ...


@dataclass(frozen=True)
class StoredImage:
    """A full-width image of consecutive fixed bands, identified by its content."""

    id: str
    width: int              # dots, a multiple of 8
    height: int
    data: bytes             # rows top to bottom, 1 = a printed dot

    def define(self, key: bytes) -> bytes:
        """GS ( L fn 83 (or GS 8 L when over 64 KB): define it as download graphics `key`."""
        body = b"\x30\x53\x30" + key + b"\x01" + _le16(self.width) + _le16(self.height) \
            + b"\x31" + self.data
        if len(body) <= 0xFFFF:
            return GS + b"(L" + _le16(len(body)) + body
        return GS + b"8L" + len(body).to_bytes(4, "little") + body

    @staticmethod
    def print(key: bytes) -> bytes:
        """GS ( L fn 85: print download graphics `key` at normal size."""
        return GS + b"(L\x06\x00\x30\x55" + key + b"\x01\x01"


def delete(key: bytes) -> bytes:
    return GS + b"(L\x04\x00\x30\x52" + key            # fn 82


def _le16(n: int) -> bytes:
    return n.to_bytes(2, "little")


Part = Union[bytes, StoredImage]


def stored_parts(ticket: RasterTicket) -> tuple[Part, ...]:
    """The ticket with each run of fixed bands as one stored image (bytes in between).

    No ESC @ at the start: it would clear the printer's download graphics.
    """
    out: list[Part] = []
    chunk: list[bytes] = []
    y, current = 0, None
    bands = ticket.bands
    i = 0
    while i < len(bands):
        if bands[i].key is None:
            y, current = placed_bytes(bands[i].placed, y, current, chunk)
            i += 1
            continue
        j = i
        while j < len(bands) and bands[j].key is not None:
            j += 1
        run = bands[i:j]
        if any(b.placed for b in run):
            if run[0].y0 > y:
                chunk.append(feed(run[0].y0 - y))
            # Full width, so alignment does not move it; centred like the centred lines
            # on a printer whose print area is wider than `width`.
            if current != "center":
                chunk.append(align("center"))
                current = "center"
            out.append(b"".join(chunk))
            chunk = []
            out.append(composite(tuple(run), ticket.width))
            y = run[-1].y1
        i = j
    if ticket.height > y:
        chunk.append(feed(ticket.height - y))
    chunk.append(align("left"))
    out.append(b"".join(chunk))
    return tuple(p for p in out if p)


_COMPOSITES: "OrderedDict[Any, StoredImage]" = OrderedDict()
_LOCK = threading.Lock()


def composite(run: tuple[Band, ...], width: int) -> StoredImage:
    """The run's images on one full-width canvas, from its first band's top to its last
    band's bottom (the blank rows included: the printer feeds exactly as far).

    Kept by the run's band keys (their content): a renamed service is a new image."""
    key = (tuple(b.key for b in run), width)
    with _LOCK:   # one cache for every printer's worker thread
        image = _COMPOSITES.get(key)
        if image is not None:
            _COMPOSITES.move_to_end(key)
            return image
    image = _draw_composite(run, width)
    with _LOCK:
        _COMPOSITES[key] = image
        while len(_COMPOSITES) > 256:
            _COMPOSITES.popitem(last=False)
    return image


def _draw_composite(run: tuple[Band, ...], width: int) -> StoredImage:
    from PIL import Image
    y0, y1 = run[0].y0, run[-1].y1
    canvas = Image.new("1", ((width + 7) // 8 * 8, y1 - y0), 0)
    for band in run:
        for p in band.placed:
            ink = p.ink if p.scale == 1 else p.ink.resize(
                (p.ink.width * p.scale, p.ink.height * p.scale), Image.Resampling.NEAREST)
            canvas.paste(255, (p.x, p.y - y0), ink)
    data = canvas.tobytes()
    digest = hashlib.blake2b(data + _le16(canvas.width), digest_size=8).hexdigest()
    return StoredImage(digest, canvas.width, canvas.height, data)


def parse_key_list(reply: bytes) -> tuple[set[bytes], bool] | None:
    """(keys, more blocks follow) from a fn 80 reply block, or None if it is not one."""
    if len(reply) < 4 or reply[:2] != REPLY_HEAD or reply[2] not in (0x40, 0x41) \
            or reply[-1] != 0 or (len(reply) - 4) % 2:
        return None
    body = reply[3:-1]
    keys = {body[i:i + 2] for i in range(0, len(body), 2)}
    if any(not (0x20 <= k[0] <= 0x7E and 0x20 <= k[1] <= 0x7E) for k in keys):
        return None
    return keys, reply[2] == 0x41


class GraphicsMemory:
    """What one printer holds in its download graphics, as far as this process knows.

    States: "unknown" (not asked since the connection opened), "ready", "unsupported"
    (no or no valid answer: whole tickets until the next connection), "off".
    """

    def __init__(self, printer: str, *, enabled: bool) -> None:
        self.printer = printer
        self.state = "unknown" if enabled else "off"
        self._keys: dict[str, bytes] = {}                 # image id -> key, defined by us
        self._present: set[bytes] = set()                 # keys the printer listed last
        self._owed: "OrderedDict[str, StoredImage]" = OrderedDict()
        self._failed: set[str] = set()                    # defined, never listed: no room
        self.defined = 0
        self.fallbacks = 0

    def reset(self) -> None:
        """A new connection: ask again before trusting anything."""
        if self.state != "off":
            self.state = "unknown"
        self._keys.clear()
        self._present.clear()
        self._owed.clear()
        self._failed.clear()

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def owed(self) -> int:
        """Images a ticket missed, to be defined when the printer is idle."""
        return len(self._owed)

    def describe(self) -> str:
        if self.state == "ready":
            return (f"keeps the fixed parts of tickets (download graphics; {len(self._keys)} "
                    f"image(s) defined)")
        return {"off": "whole tickets (stored_graphics = off, or no back channel)",
                "unsupported": "whole tickets (no answer to the graphics key list)",
                "unknown": "not asked yet"}[self.state]

    def probe(self, transport: Any) -> None:
        """First contact: does the printer answer the key list? Then start from empty."""
        if self.state != "unknown":
            return
        keys = self._list(transport, transport.read_timeout_s)
        if keys is None:
            self.state = "unsupported"
            logger.info("printer:%s: no answer to the download-graphics key list (GS ( L fn 80): "
                        "every ticket is sent whole", self.printer)
            return
        # ESC @ once here instead of per ticket (it would clear the graphics), then a
        # clean slate: keys from before a restart may hold another layout.
        transport.write(ESC + b"@" + DELETE_ALL)
        self.state = "ready"
        logger.info("printer:%s: keeps the fixed parts of tickets in its memory", self.printer)

    def choose(self, transport: Any, stored: Sequence[Part] | None,
               whole: bytes) -> tuple[bytes, tuple[bytes, ...]]:
        """The bytes to send for a ticket, and the keys they rely on (empty: whole)."""
        if not self.ready or not stored:
            return whole, ()
        images = [p for p in stored if isinstance(p, StoredImage)]
        if any(i.id in self._failed for i in images):
            return self._whole(whole), ()
        keys = self._list(transport, transport.read_timeout_s)
        if keys is None:
            raise PrinterError(f"printer {self.printer}", "no answer to the graphics key list "
                               "before a ticket", "printer off or busy?")
        self._present = keys
        missing = [i for i in images if self._keys.get(i.id) not in keys]
        if missing:
            for image in missing:
                self._keys.pop(image.id, None)
                self._owed[image.id] = image
            self.fallbacks += 1
            return self._whole(whole), ()
        out = b"".join(p if isinstance(p, bytes) else StoredImage.print(self._keys[p.id])
                       for p in stored)
        return out, tuple(self._keys[i.id] for i in images)

    def confirm(self, transport: Any, used: tuple[bytes, ...], ticket: str) -> None:
        """After a ticket that used stored images: were they still there when it printed?"""
        if not used:
            return
        keys = self._list(transport, max(transport.read_timeout_s, transport.write_timeout_s))
        if keys is None:
            raise PrinterError(f"printer {self.printer}", f"no answer to the graphics key list "
                               f"after {ticket}", "printer off or busy?")
        self._present = keys
        if not set(used) <= keys:
            self.reset()
            self.state = "unknown"
            raise PrinterError(f"printer {self.printer}", f"its memory was cleared while "
                               f"{ticket} printed (switched off and on?)", "printing it again")

    def define_owed(self, transport: Any) -> bool:
        """Define one image a ticket missed; True when there was one (call when idle)."""
        if not self.ready or not self._owed:
            return False
        image_id, image = self._owed.popitem(last=False)
        key = self._free_key(transport)
        transport.write(image.define(key))
        transport.drain()
        keys = self._list(transport, max(transport.read_timeout_s, transport.write_timeout_s))
        if keys is None:
            raise PrinterError(f"printer {self.printer}", "no answer to the graphics key list "
                               "after defining an image", "printer off or busy?")
        self._present = keys
        if key in keys:
            self._keys[image_id] = key
            self.defined += 1
        else:
            self._failed.add(image_id)
            logger.warning("printer:%s: an image of %d x %d dots did not fit in its memory: "
                           "tickets that need it are sent whole", self.printer,
                           image.width, image.height)
        return True

    def _free_key(self, transport: Any) -> bytes:
        used = set(self._keys.values())
        for key in KEYS:
            if key not in used and key not in self._present:
                return key
        # Full: let the oldest image go (its tickets are whole until defined again).
        oldest_id, key = next(iter(self._keys.items()))
        del self._keys[oldest_id]
        transport.write(delete(key))
        return key

    def _whole(self, whole: bytes) -> bytes:
        # ESC @ would clear the graphics: it was sent once when the printer was probed.
        return whole[2:] if whole.startswith(ESC + b"@") else whole

    def _list(self, transport: Any, timeout: float) -> set[bytes] | None:
        keys: set[bytes] = set()
        for block_no in range(4):   # at most 160 keys; we define 40
            reply = transport.ask(ACK if block_no else KEY_LIST, end=b"\x00", limit=84,
                                  timeout=timeout)
            parsed = parse_key_list(reply)
            if parsed is None:
                return None
            block, more = parsed
            keys |= block
            if not more:
                transport.write(ACK)   # ESC/POS handshake: the last block is acknowledged
                return keys
        transport.write(b"\x18")       # CAN: stop the listing
        return keys
