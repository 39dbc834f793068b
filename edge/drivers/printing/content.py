"""What goes on a ticket: the layout from the config filled in with one ticket's data."""

from __future__ import annotations

import datetime as dt
import functools
import string
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from edge.config import AppConfig
from edge.config.printing import TicketLine

Size = Literal["small", "normal", "large", "huge"]


@dataclass(frozen=True)
class TicketJob:
    """One ticket to print, from a ticket.issued / ticket.reprint event or a PrintJobs reply."""

    ticket_id: int
    ticket: str
    service: str
    category: str = "normal"
    booked: bool = False
    number: int = 0
    ahead: int | None = None
    wait_min: int | None = None
    printer: str | None = None
    issued_at: str | None = None      # local ISO "YYYY-MM-DDTHH:MM:SS" in the center's zone
    reprint: bool = False
    token: str | None = field(default=None, repr=False)   # the visitor page's (the QR)

    @classmethod
    def from_event(cls, data: dict[str, Any], *, reprint: bool = False) -> "TicketJob":
        """Build from event data; raises ValueError naming a missing key."""
        for key in ("ticket_id", "ticket", "service"):
            if data.get(key) is None:
                raise ValueError(f"print job without {key!r}: {sorted(data)}")
        return cls(ticket_id=int(data["ticket_id"]), ticket=str(data["ticket"]),
                   service=str(data["service"]), category=str(data.get("category") or "normal"),
                   booked=bool(data.get("booked", False)), number=int(data.get("number") or 0),
                   ahead=_int_or_none(data.get("ahead")), wait_min=_int_or_none(data.get("wait_min")),
                   printer=data.get("printer"), issued_at=data.get("issued_at"), reprint=reprint,
                   token=_str_or_none(data.get("token")))


def _int_or_none(v: Any) -> int | None:
    return None if v is None else int(v)


def _str_or_none(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


@dataclass(frozen=True)
class Block:
    """One printed element, already filled in: a text line, a QR code, a rule or a feed.

    `fixed`: the same on every ticket of its service and category (no per-ticket
    placeholder): drawn once and cached, and kept in the printer's memory where it can.
    """

    kind: Literal["text", "qr", "rule", "feed"]
    text: str = ""
    size: Size = "normal"
    bold: bool = False
    align: Literal["left", "center", "right"] = "center"
    lines: int = 1
    fixed: bool = True


# What changes from one ticket to the next; {date} only daily, but a day's first ticket
# must not wait for printer memory to be rewritten, so it counts as changing too.
PER_TICKET = frozenset({"ticket", "number", "ahead", "wait_min", "time", "date"})


@functools.lru_cache(maxsize=512)
def per_ticket(template: str) -> bool:
    """Whether a line template uses a placeholder that changes per ticket."""
    return any(f in PER_TICKET for _, f, _, _ in string.Formatter().parse(template) if f)


def printer_languages(config: AppConfig, printer: str | None) -> list[str]:
    if printer is not None and printer in config.printers:
        langs = config.printers[printer].languages
        if langs:
            return list(langs)
    return list(config.center.languages)


def _values(job: TicketJob, config: AppConfig, lang: str) -> dict[str, str]:
    try:
        service = config.service(job.service)
        service_name = service.names.as_dict().get(lang, "")
    except KeyError:
        service_name = job.service  # a service removed from the config since: print its id
    center = config.center.name.as_dict().get(lang, "")
    markers = config.ticket.markers
    marker = ""
    if job.booked:
        marker = _in_language(markers.booked, lang)
    elif job.category != "normal":
        marker = _in_language(markers.benefit, lang)
    date = time = ""
    if job.issued_at:
        date, time = _when(job.issued_at, config.ticket.date_format, config.ticket.time_format)
    return {"center": center, "service": service_name, "ticket": job.ticket, "marker": marker,
            "date": date, "time": time,
            "ahead": "—" if job.ahead is None else str(job.ahead),
            "wait_min": "—" if job.wait_min is None else str(job.wait_min),
            "site": config.center.site, "number": str(job.number)}


# The same second for each language of a ticket, and for the tickets of a busy second.
@functools.lru_cache(maxsize=64)
def _when(issued_at: str, date_format: str, time_format: str) -> tuple[str, str]:
    when = dt.datetime.fromisoformat(issued_at)
    return when.strftime(date_format), when.strftime(time_format)


# A ticket's token as print-test, the preview and the QR size check use it: as long as a
# real one (edge/queue/tokens.py), so the sample's QR is as large as a real ticket's.
SAMPLE_TOKEN = "SAMPLEtoken_0123456789"


def qr_url_content(url: str, token: str, *, site: str, ticket: str, number: int,
                   service: str) -> str:
    """The QR's text: `<qr_url>/t/<token>` (central's visitor page), or the template with
    its {token} (and other placeholders) filled in."""
    if not _is_template(url):
        return f"{url.rstrip('/')}/t/{token}"
    return url.format(token=token, site=site, ticket=ticket, number=number, service=service)


@functools.lru_cache(maxsize=8)
def _is_template(url: str) -> bool:
    return any(f is not None for _, f, _, _ in string.Formatter().parse(url))


def qr_content(job: TicketJob, config: AppConfig) -> str | None:
    """The QR of this ticket; None without qr_url, or for a ticket with no token (issued
    before tokens existed): its page would not exist, so no QR is printed."""
    url = config.ticket.qr_url
    if not url or not job.token:
        return None
    return qr_url_content(url, job.token, site=config.center.site, ticket=job.ticket,
                          number=job.number, service=job.service)


def _in_language(texts: Mapping[Any, str], lang: str) -> str:
    """The text for `lang` of a table keyed by language ('' when it has none)."""
    return texts.get(lang, "")


def _template(line: TicketLine, lang: str) -> str | None:
    if isinstance(line.text, dict):
        return _in_language(line.text, lang) if lang in line.text else None
    return line.text


def _fill(template: str, values: dict[str, str]) -> str | None:
    out = template.format(**values).strip()
    # A line whose placeholders were all empty ({marker} for a normal visitor) is left out.
    return out or None


def build_blocks(job: TicketJob, config: AppConfig, printer: str | None) -> list[Block]:
    """The ticket's blocks, top to bottom, for the printer's languages."""
    langs = printer_languages(config, printer)
    per_lang = {lang: _values(job, config, lang) for lang in langs}
    blocks: list[Block] = []
    for line in config.ticket.lines:
        if line.kind == "qr":
            content = qr_content(job, config)
            if content:
                blocks.append(Block("qr", content, align=line.align, fixed=False))
            continue
        if line.kind in ("rule", "feed"):
            blocks.append(Block(line.kind, lines=line.lines))
            continue
        targets = langs if line.repeats else langs[:1]
        seen: list[str] = []
        for lang in targets:
            template = _template(line, lang)
            if template is None:
                continue   # no text in this language: the line is left out for it
            text = _fill(template, per_lang[lang])
            # Same text in two languages (a name, "БРОНЬ") is printed once.
            if text is None or text in seen:
                continue
            seen.append(text)
            blocks.append(Block("text", text, line.size, line.bold, line.align,
                                fixed=not per_ticket(template)))
    return blocks


def all_texts(config: AppConfig, printer: str) -> list[tuple[str, str]]:
    """Every text the printer may have to print, with where it comes from (for checks)."""
    langs = printer_languages(config, printer)
    out: list[tuple[str, str]] = []
    for lang in langs:
        name = config.center.name.as_dict().get(lang)
        if name:
            out.append((f"center.name.{lang}", name))
        for i, s in enumerate(config.services):
            n = s.names.as_dict().get(lang)
            if n:
                out.append((f"services.{i}.names.{lang}", n))
        for kind in ("benefit", "booked"):
            m = getattr(config.ticket.markers, kind).get(lang)
            if m:
                out.append((f"ticket.markers.{kind}.{lang}", m))
    for i, line in enumerate(config.ticket.lines):
        if isinstance(line.text, dict):
            for lang, t in line.text.items():
                if lang in langs:
                    out.append((f"ticket.lines.{i}.text.{lang}", t))
        elif line.text:
            out.append((f"ticket.lines.{i}.text", line.text))
    # Dates are formatted from the configured formats: check a sample of them too.
    sample = dt.datetime(2024, 12, 31, 23, 59, 59)
    out.append(("ticket.date_format", sample.strftime(config.ticket.date_format)))
    out.append(("ticket.time_format", sample.strftime(config.ticket.time_format)))
    return out


def sample_job(config: AppConfig, service_id: str, *, printer: str | None = None,
               category: str = "normal", booked: bool = False,
               now: dt.datetime | None = None) -> TicketJob:
    """A realistic ticket for print-test and ticket-preview."""
    svc = config.service(service_id)
    number = svc.range[0]
    when = now or dt.datetime.now(dt.timezone.utc).astimezone(_zone(config))
    return TicketJob(ticket_id=0, ticket=f"{svc.prefix}-{number:0{max(3, len(str(svc.range[1])))}d}",
                     service=svc.id, category=category, booked=booked, number=number, ahead=4,
                     wait_min=int(round(4 * svc.avg_minutes)), printer=printer,
                     issued_at=when.replace(tzinfo=None).isoformat(timespec="seconds"),
                     token=SAMPLE_TOKEN)


def _zone(config: AppConfig) -> dt.tzinfo:
    import zoneinfo
    return zoneinfo.ZoneInfo(config.center.timezone)
