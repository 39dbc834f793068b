"""Golden frames for each board codec, and the letter fallbacks for boards without Cyrillic."""

from __future__ import annotations

import pytest

from edge.drivers.boards.codecs import CODECS
from edge.drivers.boards.translit import encode_text, to_latin


@pytest.mark.parametrize("address, rows, charset, width, expected", [
    (5, ["A-042"], "latin", 16, b"\x01\x05A-042\x07"),
    (1, ["A-042"], "latin", 16, b"\x01\x01A-042\x07"),            # address 1 is also SOH
    (12, ["B-007>3"], "latin", 4, b"\x01\x0cB-00\x07"),            # cut to the board width
    (3, ["A-1>2", "B-2>5"], "latin", 6, b"\x01\x03A-1>2 B-2>5 \x07"),  # rows padded to width
    (2, ["Терезе 3"], "cyrillic", 16, b"\x01\x02\xd2\xe5\xf0\xe5\xe7\xe5 3\x07"),
    (2, ["Қош келдіңіз"], "cyrillic", 16,
     b"\x01\x02\xca\xee\xf8 \xea\xe5\xeb\xe4\xb3\xed\xb3\xe7\x07"),  # Қ->К, ң->н, і kept
    (2, ["Қош"], "kazakh", 16, b"\x01\x02\x8d\xee\xf8\x07"),       # KZ-1048 has Қ (0x8D)
    (2, ["Қош келдіңіз"], "latin", 16, b"\x01\x02Qosh keldiniz\x07"),
])
def test_addressed_codec_golden_frames(address, rows, charset, width, expected):
    assert CODECS["addressed"].encode(address, rows, charset=charset, width=width) == expected


def test_rows_are_cut_and_padded_after_transliteration():
    """Risk: ж -> zh makes a row longer than the board, and a multi-row board's rows shift."""
    frame = CODECS["addressed"].encode(20, ["Жұмыс жабық", "", "", ""], charset="latin", width=12)
    assert frame == b"\x01\x14" + b"Zhumys zhaby" + b" " * 36 + b"\x07"
    assert CODECS["addressed"].encode(11, ["Шығыс-Щучье"], charset="latin", width=12) == \
        b"\x01\x0bShygys-Shchu\x07"
    alpha = CODECS["alpha"].encode(1, ["Шешуші ұяшық", "Щ"], charset="latin", width=12)
    assert b"\x1b0bSheshushi uy\x0dShch\x03" in alpha


def test_alpha_codec_golden_frame_hold():
    # STX A A ESC '0' 'b' "A-042" ETX: 2+65+65+27+48+98 + 260 + 3 = 568 = 0x0238
    expected = (b"\x00\x00\x00\x00\x00\x01Z01\x02AA\x1b0bA-042\x03" + b"0238" + b"\x04")
    assert CODECS["alpha"].encode(1, ["A-042"], charset="latin", width=16) == expected


def test_alpha_codec_golden_frame_flash_two_rows():
    # mode 'c' (flash) = 99; rows joined by CR; address 0x1F -> "1F"
    # STX A A ESC '0' 'c' = 306, "A-1>2" = 271, CR = 13, "B-2>5" = 276, ETX = 3: 869 = 0x0365
    body = b"\x02AA\x1b0cA-1>2\x0dB-2>5\x03"
    expected = b"\x00" * 5 + b"\x01Z1F" + body + b"0365\x04"
    assert CODECS["alpha"].encode(31, ["A-1>2", "B-2>5"], charset="latin", width=16,
                                  blink=True) == expected


def test_alpha_text_is_seven_bit():
    frame = CODECS["alpha"].encode(1, ["Терезе №3"], charset="latin", width=16)
    assert b"Tereze N3" in frame
    assert all(byte < 0x80 for byte in frame)


@pytest.mark.parametrize("text, latin", [
    ("Терезе №3", "Tereze N3"),
    ("ЖАҢА", "ZHANA"),
    ("Шығыс", "Shygys"),
    ("Щука → 5", "Shchuka > 5"),
    ("Ыңғай", "Yngay"),
    ("日本", "??"),
])
def test_transliteration(text, latin):
    assert to_latin(text) == latin


def test_control_bytes_never_reach_a_frame():
    assert encode_text("A\x01B\x07C", "latin") == b"ABC"
