"""Printer config: the type union, unprintable text caught at config check; the CLI commands."""

from __future__ import annotations

import pytest
from PIL import Image

from edge.cli import main
from edge.drivers.printing.check import printing_problems
from edge.errors import ConfigError


def test_printer_types_and_bad_values_name_the_key(config_factory):
    config = config_factory({"a": {"type": "usb", "vendor_id": 0x04B8, "product_id": 0x0E15},
                             "b": {"type": "serial", "port": "/dev/ttyUSB0", "baudrate": 115200},
                             "c": {"type": "network", "host": "10.0.0.5"},
                             "d": {"type": "file", "path": "tickets.bin"}, "e": {"type": "fake"}})
    assert [p.type for p in config.printers.values()] == ["usb", "serial", "network", "file", "fake"]
    assert config.printers["b"].rtscts is True and config.printers["c"].port == 9100
    with pytest.raises(ConfigError, match=r"printers\.x\.baudrate: "):
        config_factory({"x": {"type": "serial", "port": "/dev/ttyS0", "baudrate": 1234}})
    with pytest.raises(ConfigError, match="unknown placeholder"):
        config_factory(ticket={"lines": [{"text": "{nope}"}]})
    with pytest.raises(ConfigError, match="ASCII"):
        config_factory(ticket={"qr_url": "https://ц.kz"})


def test_config_check_finds_text_a_text_mode_printer_cannot_print(config_factory):
    config = config_factory({"t": {"type": "fake", "mode": "text"}, "r": {"type": "fake"}},
                            services=[{"id": "docs", "prefix": "A",
                                       "names": {"kk": "Құжаттар ✓", "ru": "Документы"}}])
    problems = printing_problems(config)
    assert len(problems) == 1
    assert problems[0].startswith("services.0.names.kk: printer 't' (text mode) cannot print '✓'")
    assert 'mode = "raster"' in problems[0]


def test_config_check_missing_font_and_wrong_code_page(config_factory, tmp_path):
    config = config_factory({"r": {"type": "fake", "font": str(tmp_path / "x.ttf")},
                             "t": {"type": "fake", "mode": "text", "profile": "TM-T88V", "codepage": 46}})
    problems = printing_problems(config)
    assert any(p.startswith("printers.r.font: font") and "fonts-dejavu-core" in p for p in problems)
    assert any(p.startswith("printers.t.codepage: slot 46") and "set codepage = 53" in p for p in problems)


def test_config_check_raster_glyphs(config_factory):
    config = config_factory({"r": {"type": "fake"}}, ticket={"lines": [{"text": "{ticket} 中"}]})
    assert any("'中'" in p and "ticket.lines.0.text" in p for p in printing_problems(config))


def test_config_check_finds_a_qr_code_wider_than_the_paper(config_factory, fake_controller, tmp_path):
    import io
    import logging

    from edge.component import AppContext
    from edge.drivers.printing import service

    url = "https://egov-queue.example.kz/ticket/{site}/{ticket}/{token}?lang=kk&utm_source=kiosk"
    config = config_factory({"narrow": {"type": "fake", "paper_mm": 58},
                             "wide": {"type": "fake", "paper_mm": 80}},
                            ticket={"qr_url": url, "qr_size": 10})
    problems = printing_problems(config)
    assert len(problems) == 1, problems
    assert problems[0].startswith("ticket.qr_size: printer 'narrow' (58 mm paper, 384 dots)")
    assert "A-999" in problems[0] and "set ticket.qr_size = 8 or less" in problems[0]
    # Sized with a token as long as a real one (22 characters), not an empty one.
    assert "/SAMPLEtoken_0123456789?" in problems[0]
    # At start the narrow printer is reported down with that problem; the wide one prints.
    fake_controller.config = config
    ctx = AppContext(controller=fake_controller, clock=None, state_dir=tmp_path,
                     db_path=tmp_path / "k.db", stdout=io.StringIO(), logger=logging.getLogger())
    workers = {w.printer: w for w in service.build(ctx)}
    assert workers["narrow"]._blocked and "ticket.qr_size" in workers["narrow"]._blocked
    assert workers["wide"]._blocked is None
    assert printing_problems(config_factory({"narrow": {"type": "fake", "paper_mm": 58}},
                                            ticket={"qr_url": url, "qr_size": 8})) == []


CONFIG = """
[center]
site = "ast-01"
name = { kk = "Астана қ. ХҚКО", ru = "ЦОН г. Астана" }
[[services]]
id = "docs"
prefix = "A"
names = { kk = "Жеке куәлік", ru = "Удостоверение личности" }
[[windows]]
number = 1
services = { docs = 1 }
[printers.kiosk]
type = "file"
path = "tickets.bin"
"""


def test_ticket_preview_and_print_test_commands(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    out = tmp_path / "t.png"
    assert main(["ticket-preview", "--config", str(cfg), "--service", "docs", "--out", str(out)]) == 0
    with Image.open(out) as img:
        assert img.width == 512 + 32 and img.height > 300
    assert main(["print-test", "--config", str(cfg), "--state-dir", str(tmp_path)]) == 0
    printed = (tmp_path / "tickets.bin").read_bytes()
    assert printed.startswith(b"\x1b@") and b"\x1dV" in printed
    assert "printed A-001 (docs)" in capsys.readouterr().out
    assert main(["print-test", "--config", str(cfg), "--printer", "nope"]) == 1
    assert main(["ticket-preview", "--config", str(cfg), "--service", "x", "--out", str(out)]) == 1
