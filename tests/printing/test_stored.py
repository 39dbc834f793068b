"""Fixed ticket parts kept in the printer (download graphics), the fast QR code, the render cache.

Golden bytes are spelled out for the ESC/POS commands; whole tickets go through the
python-escpos tail (cut) and are decoded back to paper and compared with the preview.
"""

from __future__ import annotations

import datetime as dt
import time
import types
from typing import Any

import pytest
from PIL import ImageChops

from edge.drivers.printing import qr
from edge.drivers.printing.content import TicketJob
from edge.drivers.printing.fake import FakeTransport
from edge.drivers.printing.render import render, ticket_preview
from edge.drivers.printing.service import _render
from edge.drivers.printing.simulator import PrinterModel
from edge.drivers.printing.stored import (DELETE_ALL, KEY_LIST, GraphicsMemory, StoredImage,
                                          parse_key_list)
from edge.drivers.printing.worker import PrinterWorker
from edge.errors import PrinterError
from tests.printing.conftest import TOKEN

# 2026-11-23 09:00:00 in Asia/Almaty (UTC+5): when the test tickets were issued.
NINE_AM_MS = int(dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.timezone.utc).timestamp() * 1000)
SMALL = {"lines": [{"text": "{center}", "bold": True}, {"kind": "rule"}, {"text": "{service}"},
                   {"text": "{ticket}", "size": "huge", "bold": True},
                   {"text": {"kk": "Алдыңызда: {ahead} адам", "ru": "Перед вами: {ahead} чел."},
                    "size": "small"},
                   {"kind": "qr"}, {"kind": "rule"}, {"text": "1414", "size": "small"}],
         "qr_url": "https://q.example.kz"}


def test_download_graphics_commands_golden_bytes():
    image = StoredImage("x", 16, 2, b"\xff\x00\x0f\xf0")
    assert image.define(b"K0") == (
        b"\x1d(L" + b"\x0f\x00"              # GS ( L, 15 parameter bytes follow
        + b"\x30\x53"                         # m = 48, fn = 83: define download graphics (raster)
        + b"\x30" + b"K0"                     # a = 48 (monochrome), key "K0"
        + b"\x01" + b"\x10\x00\x02\x00"       # one colour, 16 x 2 dots
        + b"\x31" + b"\xff\x00\x0f\xf0")      # colour 1, rows of 1 = printed dots
    assert StoredImage.print(b"K0") == b"\x1d(L\x06\x00\x30\x55K0\x01\x01"     # fn 85, 1x1
    assert KEY_LIST == b"\x1d(L\x04\x00\x30\x50KC"                             # fn 80
    assert DELETE_ALL == b"\x1d(L\x05\x00\x30\x51CLR"                          # fn 81
    big = StoredImage("y", 576, 1000, bytes(72 * 1000))       # over 64 KB: GS 8 L, 4-byte size
    assert big.define(b"K1")[:7] == b"\x1d8L" + (11 + 72000).to_bytes(4, "little")


def test_key_list_replies():
    assert parse_key_list(b"\x37\x73\x40\x00") == (set(), False)
    assert parse_key_list(b"\x37\x73\x40K0K1\x00") == ({b"K0", b"K1"}, False)
    assert parse_key_list(b"\x37\x73\x41K0\x00") == ({b"K0"}, True)
    for garbage in (b"", b"\x12", b"\x37\x72\x40\x00", b"\x37\x73\x40K\x00", b"\x37\x73\x40K0"):
        assert parse_key_list(garbage) is None


@pytest.mark.parametrize("version", [1, 2, 4, 6, 7, 10, 14, 27])
def test_qr_matrix_is_qrcode_s_for_the_same_version_and_mask(version):
    import qrcode
    from qrcode.util import QRData
    for mask in range(8):
        for content in (b"https://q.example.kz/t/ast-01/A-042", b"A", bytes(range(200, 256))):
            if qr.version_for(len(content)) > version:
                continue
            code = qrcode.QRCode(version=version, error_correction=0, mask_pattern=mask)
            code.add_data(QRData(content, mode=4))
            code.make(fit=False)
            assert qr.matrix(content, version=version, mask=mask) == \
                [[bool(m) for m in row] for row in code.modules], (version, mask, content)


def test_qr_mask_is_rated_per_url_shape_and_codes_fit():
    a = qr._best_mask(b"https://q.kz/t/A-001", 2)
    assert a == qr._best_mask(b"https://q.kz/t/A-734", 2)     # digits do not change the pick
    assert qr.version_for(44) == 4 and qr.qr_modules("x" * 44) == 33
    with pytest.raises(ValueError, match="shorten ticket.qr_url"):
        qr.version_for(3000)


def _job(n: int = 1, service: str = "docs", **kw: Any) -> TicketJob:
    return TicketJob(ticket_id=n, ticket=f"A-{n:03d}", service=service, number=n, ahead=n + 2,
                     wait_min=8 * n, printer="k", issued_at="2026-11-23T09:00:00",
                     token=kw.pop("token", TOKEN), **kw)


def _inner(preview: Any) -> Any:
    return preview.crop((16, 16, preview.width - 16, preview.height - 16))


def test_stored_ticket_prints_the_preview_dot_for_dot(config_factory, raster_decoder):
    config = config_factory({"k": {"type": "fake", "paper_mm": 58}}, ticket=SMALL)
    r = render(_job(), config, "k")
    images = [p for p in r.stored if isinstance(p, StoredImage)]
    assert len(images) == 2                  # center+rule+service, and rule+footer
    memory: dict[bytes, Any] = {}
    defs = b"".join(img.define(f"K{i}".encode()) for i, img in enumerate(images))
    keys = {img.id: f"K{i}".encode() for i, img in enumerate(images)}
    sent = b"".join(p if isinstance(p, bytes) else StoredImage.print(keys[p.id]) for p in r.stored)
    raster_decoder(defs, 384, memory)
    paper = raster_decoder(sent, 384, memory)
    preview = _inner(ticket_preview(_job(), config, "k"))
    assert paper.size == preview.size
    assert ImageChops.difference(paper.convert("L"), preview.convert("L")).getbbox() is None
    assert not sent.startswith(b"\x1b@")     # ESC @ would clear the printer's graphics
    assert sent.endswith(b"\x1bd\x06\x1dV\x00")   # python-escpos' feed and full cut
    assert len(sent) < len(r.whole) / 2


def test_a_printer_that_keeps_no_graphics_is_rendered_whole_only(config_factory):
    """Risk: the stored parts drawn for every ticket of a printer that cannot keep them
    (CPU for nothing at a busy kiosk), or another ticket printed when they are left out."""
    config = config_factory({"k": {"type": "fake", "paper_mm": 58}}, ticket=SMALL)
    both = render(_job(), config, "k")
    whole_only = render(_job(), config, "k", stored=False)
    assert both.stored and whole_only.stored is None
    assert whole_only.whole == both.whole
    ctx = types.SimpleNamespace(config=config)
    graphics = GraphicsMemory("k", enabled=True)
    # Not asked yet, or keeping them: the parts are drawn; none, on this connection: whole.
    assert _render(_job(), ctx=ctx, printer="k", graphics=graphics).stored
    graphics.state = "unsupported"
    assert _render(_job(), ctx=ctx, printer="k", graphics=graphics).stored is None
    graphics.reset()   # another connection: asked again
    assert _render(_job(), ctx=ctx, printer="k", graphics=graphics).stored
    off = GraphicsMemory("k", enabled=False)
    assert _render(_job(), ctx=ctx, printer="k", graphics=off).stored is None


def test_stored_ticket_golden_bytes(config_factory, golden):
    config = config_factory({"k": {"type": "fake", "paper_mm": 58}}, ticket=SMALL)
    r = render(_job(), config, "k")
    keys = {p.id: f"K{i}".encode() for i, p in enumerate(x for x in r.stored
                                                          if isinstance(x, StoredImage))}
    sent = b"".join(p if isinstance(p, bytes) else StoredImage.print(keys[p.id]) for p in r.stored)
    assert sent == golden("stored_58mm.bin", sent)


def test_render_cache_follows_the_configuration_it_is_given(config_factory, raster_decoder):
    """Nothing is kept from an earlier configuration: a renamed service prints its new
    name on the next ticket, and its stored image is a new one."""
    services = [{"id": "docs", "prefix": "A", "names": {"kk": "Құжаттар", "ru": "Документы"}}]
    before = config_factory({"k": {"type": "fake"}}, ticket=SMALL, services=services)
    renamed = [{"id": "docs", "prefix": "A", "names": {"kk": "Төлқұжаттар", "ru": "Паспорта"}}]
    after = config_factory({"k": {"type": "fake"}}, ticket=SMALL, services=renamed)
    first = render(_job(1), before, "k")
    second = render(_job(2), after, "k")
    third = render(_job(3), before, "k")
    ids = [[p.id for p in r.stored if isinstance(p, StoredImage)] for r in (first, second, third)]
    assert ids[0][0] != ids[1][0] and ids[0][0] == ids[2][0]    # header: per configuration
    assert ids[0][1] == ids[1][1]                               # footer: unchanged text
    for job, config, r in ((_job(2), after, second), (_job(3), before, third)):
        paper = raster_decoder(r.whole, 512)
        preview = _inner(ticket_preview(job, config, "k"))
        assert ImageChops.difference(paper.convert("L"), preview.convert("L")).getbbox() is None
    assert first.whole != second.whole


# -- the worker with a printer that keeps (or loses) its graphics ----------------------

def _worker(config: Any, ctl: Any, transport: FakeTransport, *, enabled: bool = True,
            live: list[Any] | None = None) -> tuple[PrinterWorker, GraphicsMemory]:
    graphics = GraphicsMemory("k", enabled=enabled)
    holder = live if live is not None else [config]
    worker = PrinterWorker("k", transport, ctl, render=lambda job: render(job, holder[0], "k"),
                           void_after_s=30, retry_interval_s=0.05, poll_interval_s=0.05,
                           wall_ms=lambda: NINE_AM_MS, default=True, graphics=graphics)
    ctl.subscribe(worker.on_applied)
    worker.start()
    return worker, graphics


def _issue(ctl: Any, worker: PrinterWorker, n: int, issued_data: Any) -> None:
    ctl.emit("ticket.issued", issued_data(n, f"A-{n:03d}", printer="k"))
    ctl.wait_for(lambda c: worker.printed >= n)


def _idle(ctl: Any, graphics: GraphicsMemory) -> None:
    ctl.wait_for(lambda c: graphics.ready and not graphics.owed)


@pytest.fixture
def printer_k(config_factory, fake_controller):
    started: list[PrinterWorker] = []

    def make(**kw: Any) -> tuple[PrinterWorker, GraphicsMemory, FakeTransport]:
        config = kw.pop("config", None) or config_factory({"k": {"type": "fake"}}, ticket=SMALL)
        transport = FakeTransport("k", write_timeout_s=0.5)
        if "model" in kw:
            transport.model = kw.pop("model")
        worker, graphics = _worker(config, fake_controller, transport, **kw)
        started.append(worker)
        return worker, graphics, transport

    yield make
    for w in started:
        w.stop(2)


def test_first_ticket_goes_whole_then_the_fixed_parts_are_kept(printer_k, fake_controller,
                                                               issued_data, raster_decoder):
    worker, graphics, printer = printer_k()
    _issue(fake_controller, worker, 1, issued_data)
    assert graphics.fallbacks == 1 and printer.model.printed_keys == []
    _idle(fake_controller, graphics)
    assert set(printer.model.graphics) == {b"K0", b"K1"}
    _issue(fake_controller, worker, 2, issued_data)
    assert printer.model.printed_keys == [b"K0", b"K1"] and printer.model.missing_prints == 0
    _issue(fake_controller, worker, 3, issued_data)      # (the definitions went before 2)
    assert len(printer.tickets[-1]) < len(printer.tickets[0]) / 2
    memory: dict[bytes, Any] = {}
    pages = [raster_decoder(t, 512, memory) for t in printer.tickets]
    assert pages[-1].size == pages[0].size    # the same layout, one whole, one stored
    ok = [c.ticket_id for c in fake_controller.of("TicketPrinted") if c.ok]
    assert ok == [1, 2, 3]


def test_a_printer_without_download_graphics_gets_whole_tickets(printer_k, fake_controller,
                                                                issued_data):
    worker, graphics, printer = printer_k(model=PrinterModel(graphics=False))
    _issue(fake_controller, worker, 1, issued_data)
    _issue(fake_controller, worker, 2, issued_data)
    assert graphics.state == "unsupported"
    assert all(t.startswith(b"\x1b@") for t in printer.tickets)    # whole, as always
    assert b"\x1d(L\x06\x00\x30\x55" not in b"".join(printer.tickets)


def test_switched_off_and_on_between_tickets_the_next_goes_whole(printer_k, fake_controller,
                                                                 issued_data):
    worker, graphics, printer = printer_k()
    _issue(fake_controller, worker, 1, issued_data)
    _idle(fake_controller, graphics)
    printer.model.power_cycle()                 # RAM graphics gone, nothing else noticed
    _issue(fake_controller, worker, 2, issued_data)
    assert printer.model.missing_prints == 0    # never printed a key that was not there
    assert graphics.fallbacks == 2
    _idle(fake_controller, graphics)            # defined again while idle
    _issue(fake_controller, worker, 3, issued_data)
    assert printer.model.printed_keys[-2:] == [b"K0", b"K1"]


def test_memory_lost_under_a_ticket_means_it_goes_again(printer_k, fake_controller, issued_data):
    worker, graphics, printer = printer_k()
    _issue(fake_controller, worker, 1, issued_data)
    _idle(fake_controller, graphics)
    real_feed = printer.model.feed

    def brownout(data: bytes) -> bytes:     # the printer restarts right after the ticket
        out = real_feed(data)
        if b"\x1dV" in data:
            printer.model.power_cycle()
        return out
    printer.model.feed = brownout  # type: ignore[method-assign]
    fake_controller.emit("ticket.issued", issued_data(2, "A-002", printer="k"))
    fake_controller.wait_for(lambda c: any(not x.ok for x in c.of("TicketPrinted")))
    printer.model.feed = real_feed  # type: ignore[method-assign]
    fake_controller.wait_for(lambda c: worker.printed >= 2, timeout=10)
    failed = [c for c in fake_controller.of("TicketPrinted") if not c.ok]
    assert failed[0].ticket_id == 2 and "memory was cleared" in failed[0].detail
    assert printer.tickets[-1].startswith(b"\x1b@")   # printed again, whole


def test_stored_graphics_off_and_text_mode_send_whole_tickets(config_factory, fake_controller,
                                                              issued_data, printer_k):
    off = config_factory({"k": {"type": "fake", "stored_graphics": "off"}}, ticket=SMALL)
    assert render(_job(), off, "k").stored is None
    text = config_factory({"k": {"type": "fake", "mode": "text"}}, ticket=SMALL)
    assert render(_job(), text, "k").stored is None
    worker, graphics, printer = printer_k(config=off)
    _issue(fake_controller, worker, 1, issued_data)
    _issue(fake_controller, worker, 2, issued_data)
    assert printer.model.printed_keys == [] and graphics.fallbacks == 0


def test_worker_prints_from_the_configuration_of_the_moment(config_factory, fake_controller,
                                                            issued_data, printer_k, raster_decoder):
    services = [{"id": "docs", "prefix": "A", "names": {"kk": "Құжаттар", "ru": "Документы"}}]
    renamed = [{"id": "docs", "prefix": "A", "names": {"kk": "Төлқұжаттар", "ru": "Паспорта"}}]
    before = config_factory({"k": {"type": "fake"}}, ticket=SMALL, services=services)
    after = config_factory({"k": {"type": "fake"}}, ticket=SMALL, services=renamed)
    live = [before]
    worker, graphics, printer = printer_k(config=before, live=live)
    _issue(fake_controller, worker, 1, issued_data)
    _idle(fake_controller, graphics)
    live[0] = after                              # what the controller now runs with
    _issue(fake_controller, worker, 2, issued_data)
    assert graphics.fallbacks == 2               # the new header is not in the printer yet
    _idle(fake_controller, graphics)
    _issue(fake_controller, worker, 3, issued_data)
    memory: dict[bytes, Any] = {}
    pages = [raster_decoder(t, 512, memory) for t in printer.tickets]
    job = TicketJob.from_event(issued_data(3, "A-003", printer="k"))
    preview = _inner(ticket_preview(job, after, "k"))
    assert ImageChops.difference(pages[-1].convert("L"), preview.convert("L")).getbbox() is None


def test_no_answer_before_a_stored_ticket_is_a_printer_error():
    graphics = GraphicsMemory("k", enabled=True)
    printer = FakeTransport("k", write_timeout_s=0.5)
    printer.open()
    graphics.probe(printer)
    assert graphics.ready
    printer.silent = True
    image = StoredImage("a", 8, 1, b"\x01")
    with pytest.raises(PrinterError, match="no answer to the graphics key list"):
        graphics.choose(printer, (b"\x1ba\x01", image), b"\x1b@whole")
    printer.silent = False
    out, used = graphics.choose(printer, (b"\x1ba\x01", image), b"\x1b@whole")
    assert out == b"whole" and used == () and graphics.owed == 1


def test_stored_parts_have_no_images_for_a_layout_without_fixed_blocks(config_factory):
    config = config_factory({"k": {"type": "fake"}},
                            ticket={"lines": [{"text": "{ticket}", "size": "huge"}]})
    r = render(_job(), config, "k")
    assert not [p for p in r.stored if isinstance(p, StoredImage)]


def test_pty_printer_paces_bytes_at_the_baud_rate():
    """The simulated serial line: 1,152 bytes at 115200 baud take 0.1 s at the far end."""
    import os

    from edge.drivers.printing.simulator import PtyPrinter
    p = PtyPrinter(115200)
    try:
        fd = os.open(p.path, os.O_RDWR | os.O_NOCTTY)
        try:
            start = time.perf_counter()
            os.write(fd, b"\x1b@" + b"x" * 1147 + b"\x1dV\x00")
            last = p.wait_cuts(1)
            # The simulated line's clock (computed, not measured): 10 bit times a byte.
            assert last - start >= 1152 * 10 / 115200 and p.received == 1152
            os.write(fd, b"\x10\x04\x04")
            assert os.read(fd, 1) == b"\x12"      # DLE EOT 4: paper fine
        finally:
            os.close(fd)
    finally:
        p.close()



def test_serial_printer_on_a_pty_keeps_the_fixed_parts(config_factory, fake_controller,
                                                       issued_data, raster_decoder):
    """The real serial transport (pyserial on a pty) against the simulated printer: status
    polls, the key list and its handshake, definitions, stored tickets."""
    from edge.drivers.printing.simulator import PtyPrinter
    from edge.drivers.printing.transports.serialport import SerialTransport
    line = PtyPrinter(2_000_000)     # a fast line: the test waits for conditions, not time
    config = config_factory({"k": {"type": "serial", "port": line.path, "baudrate": 115200,
                                   "read_timeout_s": 2.0, "write_timeout_s": 5.0}}, ticket=SMALL)
    transport = SerialTransport("k", config.printers["k"])
    graphics = GraphicsMemory("k", enabled=True)
    worker = PrinterWorker("k", transport, fake_controller,
                           render=lambda job: render(job, config, "k"), void_after_s=30,
                           retry_interval_s=0.05, poll_interval_s=0.2, default=True,
                           wall_ms=lambda: NINE_AM_MS, graphics=graphics)
    fake_controller.subscribe(worker.on_applied)
    worker.start()
    try:
        _issue(fake_controller, worker, 1, issued_data)
        _idle(fake_controller, graphics)
        _issue(fake_controller, worker, 2, issued_data)
        line.wait_cuts(2)
        assert line.model.printed_keys == [b"K0", b"K1"] and line.model.missing_prints == 0
        assert [c.ticket_id for c in fake_controller.of("TicketPrinted") if c.ok] == [1, 2]
    finally:
        worker.stop(2)
        line.close()


def test_print_test_reports_what_the_printer_got(config_factory, tmp_path):
    import io

    from edge.cli.print_test import print_samples
    keeps = config_factory({"k": {"type": "fake"}}, ticket=SMALL)
    out = io.StringIO()
    assert print_samples(keeps, "k", ["docs", "realty"], tmp_path, out) == 0
    text = out.getvalue()
    assert "printer memory: keeps the fixed parts of tickets" in text
    assert "printed A-001 (docs):" in text and "fixed parts from the printer's memory" in text
    whole = config_factory({"k": {"type": "fake", "stored_graphics": "off"}}, ticket=SMALL)
    out = io.StringIO()
    assert print_samples(whole, "k", ["docs"], tmp_path, out) == 0
    assert "whole tickets (stored_graphics = off" in out.getvalue()
    assert "whole ticket" in out.getvalue()
