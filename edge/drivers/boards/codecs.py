"""Frame codecs for LED boards: the bytes that put rows of text on the board at an address.

A codec is chosen per bus by name (config `codec`); add one by adding a class to CODECS.
"""

from __future__ import annotations

from typing import Protocol

from edge.drivers.boards.translit import encode_text

SOH, STX, ETX, EOT, BEL, ESC = 0x01, 0x02, 0x03, 0x04, 0x07, 0x1B


class Codec(Protocol):
    name: str
    native_blink: bool        # False: the writer blinks by alternating text and blank frames

    def encode(self, address: int, rows: list[str], *, charset: str, width: int,
               blink: bool = False) -> bytes: ...


def fit(row: str, width: int, charset: str) -> bytes:
    """The row as the board's bytes, cut to `width` characters. Encoded first: a
    transliteration makes rows longer (ж -> zh, щ -> shch), and a board counts bytes."""
    return encode_text(row, charset)[:width]


class AddressedCodec:
    """QSystem-style [0x01, address, text, 0x07]; several rows are sent padded to `width`
    characters one after another (a multi-row board wraps at its width)."""

    name = "addressed"
    native_blink = False

    def encode(self, address: int, rows: list[str], *, charset: str, width: int,
               blink: bool = False) -> bytes:
        if len(rows) == 1:
            text = fit(rows[0], width, charset)
        else:
            text = b"".join(fit(r, width, charset).ljust(width) for r in rows)
        return bytes([SOH, address]) + text + bytes([BEL])


class AlphaCodec:
    """Alpha Sign Communications Protocol (M-Protocol): write TEXT file 'A'.

    5×NUL, SOH, type 'Z' (all sign types), address as two hex digits, STX, 'A' (write
    TEXT) + file label 'A', ESC + position '0' (fill) + mode ('b' hold, 'c' flash), the
    text (rows separated by CR, 7-bit), ETX, checksum (sum of the bytes from STX to ETX,
    4 hex digits), EOT. Send at 9600 7E1.
    """

    name = "alpha"
    native_blink = True

    def encode(self, address: int, rows: list[str], *, charset: str, width: int,
               blink: bool = False) -> bytes:
        text = b"\x0d".join(fit(r, width, "latin") for r in rows)
        body = (bytes([STX]) + b"AA" + bytes([ESC]) + b"0" + (b"c" if blink else b"b")
                + text + bytes([ETX]))
        checksum = f"{sum(body) % 65536:04X}".encode("ascii")
        return b"\x00" * 5 + bytes([SOH]) + b"Z" + f"{address:02X}".encode("ascii") + body \
            + checksum + bytes([EOT])


CODECS: dict[str, Codec] = {"addressed": AddressedCodec(), "alpha": AlphaCodec()}
