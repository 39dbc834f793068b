"""Ticket bytes: KZ-1048 text mode and raster mode, golden bytes through python-escpos Dummy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import ImageChops

from edge.drivers.printing import fonts, raster, textmode
from edge.drivers.printing.content import TicketJob, build_blocks
from edge.drivers.printing.render import ticket_bytes, ticket_preview
from tests.printing.conftest import TOKEN

GOLDEN = Path(__file__).parent / "golden"


def _golden(name: str, data: bytes) -> bytes:
    """Compare with a stored golden file; KEZEK_REGEN_GOLDEN=1 rewrites it (after review)."""
    path = GOLDEN / name
    if os.environ.get("KEZEK_REGEN_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    if not path.exists():
        pytest.fail(f"golden file {path} is missing; review the output and run with "
                    f"KEZEK_REGEN_GOLDEN=1 to write it")
    return path.read_bytes()


def test_text_mode_golden_bytes_select_kz1048_and_encode_kazakh(config_factory, issued_data):
    """The risk: Kazakh letters printed as '?' by MagicEncode. Bytes are spelled out here."""
    config = config_factory(
        {"k": {"type": "fake", "mode": "text", "languages": ["kk"], "cut": "partial", "paper_mm": 58}},
        ticket={"lines": [{"text": "{service}"}, {"text": "{ticket}", "size": "huge", "bold": True}]})
    out = ticket_bytes(TicketJob.from_event(issued_data(printer="k")), config, "k")
    normal = b"\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1bM\x00"
    expected = (
        b"\x1b@"                       # ESC @ initialise
        b"\x1bt\x35"                   # ESC t 53: KZ-1048, after ESC @ (some printers reset it)
        + normal + b"\x1ba\x01"        # normal size, font A, centred
        # "Жеке куәлік және төлқұжат" in KZ-1048: ә=0xBC, і=0xB3, ө=0xB4, қ=0x9D, ұ=0xA2
        + b"\xc6\xe5\xea\xe5 \xea\xf3\xbc\xeb\xb3\xea \xe6\xbc\xed\xe5 \xf2\xb4\xeb\x9d\xa2\xe6\xe0\xf2\n"
        + b"\x1d!\x33\x1bE\x01\x1bM\x00\x1ba\x01"   # GS ! 0x33: 4x width and height, bold
        + b"A-001\n"
        + normal + b"\x1ba\x00"
        + b"\x1bd\x06\x1dV\x01")       # feed 6 lines, partial cut
    assert out == expected
    assert b"?" not in out


def test_text_mode_full_default_layout_golden(config_factory, issued_data):
    config = config_factory({"k": {"type": "fake", "mode": "text"}},
                            ticket={"qr_url": "https://q.example.kz"})
    out = ticket_bytes(TicketJob.from_event(issued_data(printer="k", category="pensioner")), config, "k")
    assert out == _golden("text_default.bin", out)
    assert "ЖЕҢІЛДІК".encode("kz1048") in out and "Алдыңызда: 3 адам".encode("kz1048") in out


def test_text_mode_refuses_unprintable_characters_instead_of_question_marks():
    with pytest.raises(ValueError, match="KZ-1048 cannot print '中'"):
        textmode.encode("Сервис 中")
    assert textmode.unprintable("Әлеуметтік төлемдер № 5 — «ok»") == []
    assert textmode.unprintable("tab\there") == ["\t"]


def test_raster_golden_bytes(config_factory, issued_data):
    config = config_factory({"k": {"type": "fake", "mode": "raster", "paper_mm": 58}})
    out = ticket_bytes(TicketJob.from_event(issued_data(printer="k")), config, "k")
    assert out.startswith(b"\x1b@")
    assert out.endswith(b"\x1bd\x06\x1dV\x00")
    assert b"\x1dv0\x03" in out     # the ticket number: half-size image printed doubled
    assert out == _golden("raster_58mm.bin", out)


@pytest.mark.parametrize("paper", [58, 80])
@pytest.mark.parametrize("category,booked", [("normal", False), ("pensioner", False), ("normal", True)])
def test_printed_raster_decodes_to_the_preview(config_factory, issued_data, raster_decoder, paper,
                                               category, booked):
    """What the printer puts on paper (decoded from the bytes) is the preview, dot for dot."""
    config = config_factory({"k": {"type": "fake", "paper_mm": paper}},
                            ticket={"qr_url": "https://q.example.kz"})
    job = TicketJob.from_event(issued_data(printer="k", category=category, booked=booked))
    out = ticket_bytes(job, config, "k")
    pc = config.printers["k"]
    paper_img = raster_decoder(out, pc.dots)
    preview = ticket_preview(job, config, "k")
    margin = 16
    inner = preview.crop((margin, margin, preview.width - margin, preview.height - margin))
    assert paper_img.size == inner.size
    assert ImageChops.difference(paper_img.convert("L"), inner.convert("L")).getbbox() is None
    assert paper_img.convert("L").getextrema()[0] == 0   # there is ink


def test_raster_ticket_goes_out_in_under_a_second_at_115200_baud(config_factory, issued_data):
    config = config_factory({"k": {"type": "fake"}},
                            ticket={"qr_url": "https://q.example.kz"})
    job = TicketJob.from_event(issued_data(printer="k", category="pensioner"))
    size = len(ticket_bytes(job, config, "k"))
    assert size * 10 / 115200 < 1.0, size


def test_raster_missing_font_is_a_clear_error(config_factory, issued_data, tmp_path):
    config = config_factory({"k": {"type": "fake", "font": str(tmp_path / "nope.ttf")}})
    with pytest.raises(fonts.FontMissing, match="fonts-dejavu-core"):
        ticket_bytes(TicketJob.from_event(issued_data(printer="k")), config, "k")


def test_layout_lines_markers_and_languages(config_factory, issued_data):
    config = config_factory({"k": {"type": "fake", "languages": ["kk", "ru", "en"]}},
                            ticket={"qr_url": "https://q.example.kz"})
    blocks = build_blocks(TicketJob.from_event(issued_data(booked=True, printer="k")), config, "k")
    texts = [b.text for b in blocks if b.kind == "text"]
    assert texts[:3] == ["Астана қ. №1 ХҚКО", "ЦОН №1 г. Астана", "PSC No. 1 Astana"]
    assert "A-001" in texts
    assert texts.count("БРОНЬ") == 1 and "BOOKED" in texts     # same text in kk and ru: once
    assert "23.11.2026  09:00" in texts
    assert "Ahead of you: 3" in texts and "Ожидание: ~24 мин" in texts
    qr = [b for b in blocks if b.kind == "qr"]
    # The visitor's page on central, by the ticket's token (never by its number).
    assert qr and qr[0].text == f"https://q.example.kz/t/{TOKEN}"
    # A ticket issued before tokens existed (no page to lead to) prints no QR.
    old = TicketJob.from_event({k: v for k, v in issued_data(printer="k").items() if k != "token"})
    assert not [b for b in build_blocks(old, config, "k") if b.kind == "qr"]
    # A normal visitor: the {marker} line is left out.
    normal = build_blocks(TicketJob.from_event(issued_data(printer="k")), config, "k")
    assert not {"БРОНЬ", "ЛЬГОТА", "ЖЕҢІЛДІК"} & {b.text for b in normal}


def test_the_qr_on_paper_carries_the_ticket_token(config_factory, issued_data):
    """Risk: the QR leads to a page by the ticket's number (guessable) or to no page at all.
    With the printer's own QR command (GS ( k) the content is in the ESC/POS bytes as sent."""
    config = config_factory({"k": {"type": "fake", "mode": "text", "qr": "native"}},
                            ticket={"qr_url": "https://q.example.kz/"})
    out = ticket_bytes(TicketJob.from_event(issued_data(printer="k")), config, "k")
    url = f"https://q.example.kz/t/{TOKEN}".encode()
    # GS ( k, function 180: store the data; pL pH count the 3 bytes before the content.
    assert b"\x1d(k" + (len(url) + 3).to_bytes(2, "little") + b"1P0" + url in out
    assert out.count(b"https://") == 1
    other = ticket_bytes(TicketJob.from_event(issued_data(printer="k", token="x" * 22)),
                         config, "k")
    assert b"https://q.example.kz/t/" + b"x" * 22 in other and url not in other


def test_the_raster_qr_is_the_code_of_the_token_url(config_factory, issued_data):
    """The QR drawn as an image (any printer): the GS v 0 image sent is the code of
    `<qr_url>/t/<token>` (qr.py's codes are checked module for module against qrcode's)."""
    from edge.drivers.printing.qr import qr_ink
    config = config_factory({"k": {"type": "fake", "paper_mm": 58}},
                            ticket={"qr_url": "https://q.example.kz", "qr_size": 4})
    out = ticket_bytes(TicketJob.from_event(issued_data(printer="k")), config, "k")
    # qr_size 4: drawn at 2 dots a module and doubled by the printer (raster._qr).
    want = raster.ink_command(raster._pad8(qr_ink(f"https://q.example.kz/t/{TOKEN}", 2)),
                              scale=2)
    assert want in out
    by_number = raster.ink_command(raster._pad8(qr_ink("https://q.example.kz/t/A-001", 2)),
                                   scale=2)
    assert by_number not in out


def test_tickets_with_different_tokens_share_one_mask_evaluation() -> None:
    """Risk: rating the QR mask on each ticket's own random token (~8 ms of CPU a ticket,
    a quarter of the printing rate lost); the codes must still be each ticket's own."""
    import secrets

    from edge.drivers.printing import qr
    urls = [f"https://q.example.kz/t/{secrets.token_urlsafe(16)}" for _ in range(20)]
    qr.qr_ink(urls[0], 1)   # the first look at this shape may rate it
    before = qr._rated_mask.cache_info()
    inks = [qr.qr_ink(u, 1).tobytes() for u in urls[1:]]
    after = qr._rated_mask.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 19
    assert len(set(inks)) == 19
