"""Config check for printers: every text must be printable in each printer's mode (no '?')."""

from __future__ import annotations

from edge.config import AppConfig


def printing_problems(config: AppConfig) -> list[str]:
    """One line per problem, naming the key path and the fix; empty when all can print."""
    from edge.drivers.printing import raster, textmode
    from edge.drivers.printing.content import all_texts

    problems: list[str] = []
    for name, pc in config.printers.items():
        key = f"printers.{name}"
        if pc.profile != "default":
            problems += _profile_problems(key, pc)
        if pc.mode == "raster":
            missing = False
            for attr in ("font", "font_bold"):
                try:
                    raster.load_font(str(getattr(pc, attr)), 24)
                except raster.FontMissing as e:
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
                bad = sorted(set(raster.missing_glyphs(text, str(pc.font)))
                             | set(raster.missing_glyphs(text, str(pc.font_bold))))
                fix = f"the font has no glyph for it; change the text or {key}.font"
            if bad:
                shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in bad)
                problems.append(f"{where}: printer {name!r} ({pc.mode} mode) cannot print {shown} "
                                f"in {text!r}; {fix}")
    return problems


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
