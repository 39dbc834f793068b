"""Config check for printers: every text must be printable in each printer's mode (no '?')."""

from __future__ import annotations

from edge.config import AppConfig


def printing_problems(config: AppConfig) -> list[str]:
    """One line per problem, naming the key path and the fix; empty when all can print."""
    from edge.drivers.printing import fonts, textmode
    from edge.drivers.printing.content import all_texts

    problems: list[str] = []
    for name, pc in config.printers.items():
        key = f"printers.{name}"
        if pc.profile != "default":
            problems += _profile_problems(key, pc)
        problems += _qr_problems(config, name, pc)
        if pc.mode == "raster":
            missing = False
            for attr in ("font", "font_bold"):
                try:
                    fonts.load_font(str(getattr(pc, attr)), 24)
                except fonts.FontMissing as e:
                    problems.append(f"{key}.{attr}: {e}")
                    missing = True
            if missing:
                continue
        for where, text in all_texts(config, name):
            if pc.mode == "text":
                bad = textmode.unprintable(text)
                fix = ("KZ-1048 has Kazakh, Russian and Latin letters only; change the text or "
                       f"set {key}.mode = \"raster\"")
            else:
                bad = sorted(set(fonts.missing_glyphs(text, str(pc.font)))
                             | set(fonts.missing_glyphs(text, str(pc.font_bold))))
                fix = f"the font has no glyph for it; change the text or {key}.font"
            if bad:
                shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in bad)
                problems.append(f"{where}: printer {name!r} ({pc.mode} mode) cannot print {shown} "
                                f"in {text!r}; {fix}")
    return problems


def qr_dots(content: str, qr_size: int) -> int:
    """How wide the QR code of `content` prints, in dots, as the ticket renderer draws it."""
    from edge.drivers.printing.raster import qr_image
    scale = 2 if qr_size % 2 == 0 else 1
    return qr_image(content, qr_size // scale).width * scale


def longest_qr_content(config: AppConfig) -> str | None:
    """The longest QR content any ticket can have: each service's highest number, with a
    token as long as a real one (edge/queue/tokens.py)."""
    from edge.drivers.printing.content import SAMPLE_TOKEN, qr_url_content
    url = config.ticket.qr_url
    if not url or not any(line.kind == "qr" for line in config.ticket.lines):
        return None
    contents = []
    for s in config.services:
        last = s.range[1]
        label = f"{s.prefix}-{last:0{max(3, len(str(last)))}d}"   # as Service.label()
        contents.append(qr_url_content(url, SAMPLE_TOKEN, site=config.center.site,
                                       ticket=label, number=last, service=s.id))
    return max(contents, key=len, default=None)


def _qr_problems(config: AppConfig, name: str, pc) -> list[str]:  # noqa: ANN001
    content = longest_qr_content(config)
    if content is None:
        return []
    size = config.ticket.qr_size
    dots = qr_dots(content, size)
    if dots <= pc.dots:
        return []
    fits = [q for q in range(size - 1, 1, -1) if qr_dots(content, q) <= pc.dots]
    fix = (f"set ticket.qr_size = {fits[0]} or less, or shorten ticket.qr_url" if fits
           else "shorten ticket.qr_url")
    return [f"ticket.qr_size: printer {name!r} ({pc.paper_mm} mm paper, {pc.dots} dots) cannot "
            f"print the QR code: at qr_size = {size} the longest ticket's code ({content!r}) is "
            f"{dots} dots wide; {fix}"]


def _profile_problems(key: str, pc) -> list[str]:  # noqa: ANN001 - any printer config
    from escpos.capabilities import get_profile
    try:
        profile = get_profile(pc.profile)
    except KeyError:
        return [f"{key}.profile: python-escpos has no printer profile {pc.profile!r}; use 'default' "
                f"or a name from `python-escpos` capabilities (e.g. 'TM-T20II', 'TM-T88V')"]
    problems = []
    pixels = profile.profile_data.get("media", {}).get("width", {}).get("pixels")
    if isinstance(pixels, int) and pc.dots > pixels:
        problems.append(f"{key}.width_px: {pc.dots} dots is wider than profile {pc.profile!r} prints "
                        f"({pixels}); set width_px = {pixels} or less")
    if pc.mode == "text":
        pages = profile.profile_data.get("codePages", {})
        page = pages.get(str(pc.codepage))
        if pages and page not in (None, "RK1048", "Unknown"):
            slot = {v: k for k, v in pages.items()}.get("RK1048")
            hint = f"set codepage = {slot}" if slot else "set mode = \"raster\""
            problems.append(f"{key}.codepage: slot {pc.codepage} of profile {pc.profile!r} is {page}, "
                            f"not KZ-1048; {hint}")
    return problems
