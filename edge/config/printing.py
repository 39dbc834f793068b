"""Configuration of ticket printers and the ticket layout (owned by the printing work)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Union

from pydantic import Field, field_validator, model_validator

from edge.config.base import StrictModel
from edge.strict import PathText, WholeChoice

Lang = Literal["kk", "ru", "en"]
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")

# Dots per line of the printable area at 203 dpi: 58 mm paper prints 48 mm, 80 mm paper
# prints 64 mm on Epson-class heads (some 80 mm heads do 72 mm = 576 dots: set width_px).
DEFAULT_WIDTH_PX = {58: 384, 80: 512}


class _PrinterBase(StrictModel):
    mode: Literal["text", "raster"] = Field(
        default="raster",
        description="text: the printer's own font with code page KZ-1048 (ESC t <codepage>); "
                    "raster: text drawn with a TTF font and sent as an image (works on any printer)")
    profile: str = Field(default="default", min_length=1, max_length=64,
                         description="python-escpos printer profile, e.g. 'TM-T20II', 'TM-T88V'")
    paper_mm: Annotated[Literal[58, 80], WholeChoice] = Field(default=80, description="paper roll width in mm: 58 or 80")
    width_px: int | None = Field(default=None, ge=128, le=832,
                                 description="printable width in dots; default 384 (58 mm) or 512 (80 mm)")
    codepage: int = Field(default=53, ge=0, le=255,
                          description="text mode: the printer's code page slot of KZ-1048 (53 on Epson)")
    languages: list[Lang] | None = Field(default=None, min_length=1, max_length=3,
                                         description="languages printed, in order; default center.languages")
    font: PathText = Field(default=DEJAVU / "DejaVuSans.ttf",
                       description="raster mode: TTF font with Kazakh glyphs (Debian: fonts-dejavu-core)")
    font_bold: PathText = Field(default=DEJAVU / "DejaVuSans-Bold.ttf",
                            description="raster mode: bold TTF font with Kazakh glyphs")
    stored_graphics: Literal["auto", "off"] = Field(
        default="auto",
        description="raster mode: keep the parts that are the same on every ticket (names, "
                    "markers, rules, footer) in the printer's RAM as download graphics (ESC/POS "
                    "GS ( L) and send only what changes (~4 KB instead of ~10 KB); auto: used "
                    "once the printer has answered the graphics key list, checked before and "
                    "after every ticket, whole tickets otherwise; needs a back channel "
                    "(status = \"poll\"); off: always send whole tickets")
    qr: Literal["image", "native"] = Field(
        default="image", description="QR code as an image (any printer) or native GS ( k (Epson-class)")
    cut: Literal["full", "partial", "none"] = Field(default="full", description="paper cut after a ticket")
    write_timeout_s: float = Field(default=5.0, ge=0.5, le=60,
                                   description="longest wait for one chunk of bytes to be accepted")
    retry_interval_s: float = Field(default=3.0, ge=0.2, le=300,
                                    description="seconds between reconnect / status attempts while down")
    void_after_s: float = Field(
        default=90.0, ge=5, le=3600,
        description="a ticket still not printed this long after it was issued is voided, not printed late")

    @property
    def dots(self) -> int:
        return self.width_px or DEFAULT_WIDTH_PX[self.paper_mm]

    @model_validator(mode="after")
    def _width_fits_paper(self) -> "_PrinterBase":
        if self.width_px is not None and self.paper_mm == 58 and self.width_px > 432:
            raise ValueError(f"width_px {self.width_px} is wider than 58 mm paper (at most 432 dots); "
                             f"use 384 or remove width_px")
        return self


class _StatusMixin(StrictModel):
    status: Literal["poll", "none"] = Field(
        default="poll",
        description="poll: ask the printer (DLE EOT) before each ticket and every poll_interval_s; "
                    "none: the printer cannot answer, only write errors are seen")
    poll_interval_s: float = Field(default=5.0, ge=0.5, le=300,
                                   description="seconds between status polls while idle")
    read_timeout_s: float = Field(default=0.5, ge=0.05, le=10,
                                  description="longest wait for a status reply; no reply = printer down")


class UsbPrinterConfig(_PrinterBase, _StatusMixin):
    type: Literal["usb"]
    vendor_id: int = Field(ge=0, le=0xFFFF, description="USB vendor id, e.g. 0x04b8 (Epson)")
    product_id: int = Field(ge=0, le=0xFFFF, description="USB product id, e.g. 0x0e15 (TM-T20II)")
    serial_number: str | None = Field(default=None, max_length=64,
                                      description="USB serial number, to tell two same-model printers apart")
    out_ep: int | None = Field(default=None, ge=1, le=0x0F,
                               description="bulk OUT endpoint; default: found from the interface")
    in_ep: int | None = Field(default=None, ge=0x81, le=0x8F,
                              description="bulk IN endpoint; default: found from the interface")


BaudRate = Annotated[Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400],
                     WholeChoice]


class SerialPrinterConfig(_PrinterBase, _StatusMixin):
    type: Literal["serial"]
    port: str = Field(min_length=1, max_length=255,
                      description="serial device; prefer /dev/serial/by-id/... (stable across replug)")
    baudrate: BaudRate = Field(default=9600, description="must match the printer's DIP switches")
    rtscts: bool = Field(default=True, description="RTS/CTS hardware flow control (the printer's busy line)")
    xonxoff: bool = Field(default=False, description="XON/XOFF software flow control")
    parity: Literal["N", "E", "O"] = Field(default="N", description="parity: N, E or O")
    stopbits: Annotated[Literal[1, 2], WholeChoice] = Field(default=1, description="stop bits")
    bytesize: Annotated[Literal[7, 8], WholeChoice] = Field(default=8, description="data bits")

    @model_validator(mode="after")
    def _raster_needs_8_bits(self) -> "SerialPrinterConfig":
        if self.bytesize != 8:
            raise ValueError("bytesize 7 cannot carry ESC/POS images or KZ-1048 text; set bytesize = 8")
        return self


class NetworkPrinterConfig(_PrinterBase, _StatusMixin):
    type: Literal["network"]
    host: str = Field(min_length=1, max_length=255, description="printer IP address or host name")
    port: int = Field(default=9100, ge=1, le=65535, description="raw TCP port (9100 on most printers)")
    connect_timeout_s: float = Field(default=3.0, ge=0.2, le=60, description="TCP connect timeout")


class FilePrinterConfig(_PrinterBase, _StatusMixin):
    type: Literal["file"]
    path: PathText = Field(description="file or device the ESC/POS bytes are appended to (e.g. /dev/usb/lp0); "
                                   "a relative path is inside the state directory")
    # Off by default here: a plain file cannot answer, and some printers behind the
    # kernel's usblp driver are write-only (then every poll would report them down).
    status: Literal["poll", "none"] = Field(
        default="none",
        description="poll: a device node with a back channel (/dev/usb/lp0 of a printer that "
                    "answers DLE EOT) is asked like usb/serial printers; none: only write errors "
                    "are seen")

    @model_validator(mode="after")
    def _poll_needs_a_device(self) -> "FilePrinterConfig":
        if self.status == "poll" and not str(self.path).startswith("/dev/"):
            raise ValueError(f'status = "poll" needs a device node such as /dev/usb/lp0, not '
                             f'{self.path}: a plain file cannot answer; use status = "none"')
        return self


class FakePrinterConfig(_PrinterBase):
    """A printer in memory for tests and `kezek demo`: it keeps what it printed."""

    type: Literal["fake"]
    keep: int = Field(default=50, ge=1, le=10_000, description="how many printed tickets it remembers")


PrinterConfig = Annotated[
    Union[UsbPrinterConfig, SerialPrinterConfig, NetworkPrinterConfig, FilePrinterConfig,
          FakePrinterConfig],
    Field(discriminator="type")]


def _texts(v: str | Mapping[Any, str]) -> list[str]:
    return [v] if isinstance(v, str) else list(v.values())


Texts = Union[str, dict[Lang, Annotated[str, Field(max_length=200)]]]
PLACEHOLDERS = ("center", "service", "ticket", "marker", "date", "time", "ahead", "wait_min",
                "site", "number")


class TicketLine(StrictModel):
    """One line (or block) of the ticket, top to bottom.

    `text` is a template with {placeholders} (center, service, ticket, marker, date, time,
    ahead, wait_min, site, number), either one string or one per language
    ({kk = "...", ru = "..."}). A per-language line is printed once per printed language;
    a line that comes out empty (e.g. {marker} for a normal visitor) is left out.
    """

    kind: Literal["text", "qr", "rule", "feed"] = Field(default="text",
                                                      description="text line, QR code, rule, or blank feed")
    text: Texts = Field(default="", description="template; a dict gives one text per language")
    size: Literal["small", "normal", "large", "huge"] = Field(default="normal", description="text size")
    bold: bool = Field(default=False, description="bold text")
    align: Literal["left", "center", "right"] = Field(default="center", description="alignment")
    per_language: bool | None = Field(
        default=None,
        description="repeat once per language; default: yes when text is a dict or uses "
                    "{center}, {service} or {marker}")
    lines: int = Field(default=1, ge=1, le=10, description="feed: blank lines")

    @field_validator("text")
    @classmethod
    def _known_placeholders(cls, v: Texts) -> Texts:
        import string
        for t in _texts(v):
            try:
                fields = [f for _, f, _, _ in string.Formatter().parse(t) if f is not None]
            except ValueError as e:
                raise ValueError(f"bad template {t!r}: {e}; write a literal brace as '{{{{' or '}}}}'")
            for f in fields:
                if f not in PLACEHOLDERS:
                    raise ValueError(f"unknown placeholder {{{f}}} in {t!r}; known: "
                                     + ", ".join("{" + p + "}" for p in PLACEHOLDERS))
        return v

    @property
    def repeats(self) -> bool:
        if self.per_language is not None:
            return self.per_language
        if isinstance(self.text, dict):
            return True
        return any("{" + p + "}" in self.text for p in ("center", "service", "marker"))


def _default_lines() -> list[TicketLine]:
    return [
        TicketLine(text="{center}", bold=True),
        TicketLine(kind="rule"),
        TicketLine(text="{service}"),
        TicketLine(text="{ticket}", size="huge", bold=True),
        TicketLine(text="{marker}", size="large", bold=True),
        TicketLine(text="{date}  {time}", size="small"),
        TicketLine(text={"kk": "Алдыңызда: {ahead} адам", "ru": "Перед вами: {ahead} чел.",
                         "en": "Ahead of you: {ahead}"}, size="small"),
        TicketLine(text={"kk": "Күту уақыты: ~{wait_min} мин", "ru": "Ожидание: ~{wait_min} мин",
                         "en": "Estimated wait: ~{wait_min} min"}, size="small"),
        TicketLine(kind="qr"),
        TicketLine(kind="rule"),
        TicketLine(text={"kk": "Байланыс орталығы 1414", "ru": "Контакт-центр 1414",
                         "en": "Call center 1414"}, size="small"),
    ]


class Markers(StrictModel):
    benefit: dict[Lang, str] = Field(
        default={"kk": "ЖЕҢІЛДІК", "ru": "ЛЬГОТА", "en": "PRIORITY"},
        description="printed for pensioners, people with disabilities, large families")
    booked: dict[Lang, str] = Field(default={"kk": "БРОНЬ", "ru": "БРОНЬ", "en": "BOOKED"},
                                    description="printed for booked visitors")


class TicketLayoutConfig(StrictModel):
    """The ticket as data: lines top to bottom, markers, QR and date formats."""

    lines: list[TicketLine] = Field(default_factory=_default_lines, min_length=1, max_length=40,
                                    description="the ticket's lines, top to bottom")
    markers: Markers = Markers()
    qr_url: str | None = Field(
        default=None, max_length=300,
        description="central's address for the visitor's page, e.g. 'https://queue.example.kz': "
                    "the QR reads <qr_url>/t/<token>; or a template with {token}; none = no QR")
    date_format: str = Field(default="%d.%m.%Y", max_length=40, description="strftime date format")
    time_format: str = Field(default="%H:%M", max_length=40, description="strftime time format")
    qr_size: int = Field(default=4, ge=2, le=10, description="QR module size in dots")

    @field_validator("qr_url")
    @classmethod
    def _qr_placeholders(cls, v: str | None) -> str | None:
        if v is None:
            return v
        import string
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(v) if f is not None]
        except ValueError as e:
            raise ValueError(f"bad template {v!r}: {e}")
        bad = [f for f in fields if f not in ("site", "ticket", "number", "service", "token")]
        if bad:
            raise ValueError(f"unknown placeholder {{{bad[0]}}}; use {{token}} (and {{site}}, "
                             f"{{ticket}}, {{number}}, {{service}})")
        if fields and "token" not in fields:
            # A URL made of the number alone could be guessed: the page is the visitor's.
            raise ValueError(f"{v!r} has no {{token}}: the QR leads to the visitor's own page, "
                             "which only the ticket's token opens; set qr_url to central's "
                             "address alone (e.g. 'https://queue.example.kz': the QR then "
                             "reads <qr_url>/t/<token>) or put {token} in the template")
        if not v.isascii():
            raise ValueError("the QR URL must be ASCII (percent-encode other characters)")
        return v


__all__ = ["PrinterConfig", "TicketLayoutConfig", "TicketLine", "UsbPrinterConfig",
           "SerialPrinterConfig", "NetworkPrinterConfig", "FilePrinterConfig", "FakePrinterConfig",
           "DEFAULT_WIDTH_PX", "PLACEHOLDERS"]
