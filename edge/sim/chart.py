"""The day chart (PNG): queue length and waits through the day, drawn with Pillow.

Pillow is already a dependency (raster tickets); matplotlib would add tens of MB and
seconds of import on a Pi for two line plots. Labels use DejaVu Sans when installed
(fonts-dejavu-core, also needed for tickets) and Pillow's built-in font otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.sim.simulator import DayRun
from edge.sim.stats import percentile

W, H = 1000, 640
LEFT, RIGHT = 70, 20
PANELS = ((60, 300), (350, 590))   # (top, bottom) of the queue panel and the wait panel
COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
          (140, 86, 75), (227, 119, 194), (127, 127, 127)]
GRID = (225, 225, 225)
INK = (40, 40, 40)
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _font(size: int) -> Any:
    from PIL import ImageFont
    try:
        return ImageFont.truetype(str(FONT), size)
    except OSError:
        return ImageFont.load_default()


def draw_chart(run: DayRun, report: dict[str, Any], path: Path) -> Path:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (W, H), "white")
    g = ImageDraw.Draw(img)
    small, normal = _font(12), _font(15)
    t0 = (run.open_s // 3600) * 3600
    t1 = max(run.end_s, run.close_s)
    t1 = ((t1 + 3599) // 3600) * 3600
    services = [s.id for s in run.scenario.services]
    color = {sid: COLORS[i % len(COLORS)] for i, sid in enumerate(services)}

    def x_of(t: float) -> float:
        return LEFT + (t - t0) / (t1 - t0) * (W - LEFT - RIGHT)

    s = report["summary"]
    g.text((LEFT, 12), f"{report['scenario']} — {report['weekday']} {report['date']}, "
                       f"{report['windows_open']} windows, seed {report['seed']}", fill=INK, font=normal)
    never = s["wait_min"]["still_waiting"]
    g.text((LEFT, 34), f"wait p90 {'>=' if never else ''}{s['wait_min']['p90']} min, SLA breaches "
                       f"{s['sla_breaches']} ({s['sla_breach_pct']}%), last visitor done "
                       f"{s['last_visitor_done']}" + (f"; {never} never called (not on the chart)"
                                                     if never else ""),
           fill=INK, font=small)

    def panel(top: int, bottom: int, ymax: float, title: str) -> Any:
        for h in range(t0, t1 + 1, 3600):
            x = x_of(h)
            g.line([(x, top), (x, bottom)], fill=GRID)
            g.text((x - 14, bottom + 4), f"{h // 3600:02d}:00", fill=INK, font=small)
        steps = 5
        for i in range(steps + 1):
            y = bottom - i * (bottom - top) / steps
            g.line([(LEFT, y), (W - RIGHT, y)], fill=GRID)
            g.text((8, y - 7), f"{ymax * i / steps:.0f}", fill=INK, font=small)
        g.rectangle([LEFT, top, W - RIGHT, bottom], outline=INK)
        g.text((LEFT + 6, top + 4), title, fill=INK, font=small)
        for edge in (run.open_s, run.close_s):
            g.line([(x_of(edge), top), (x_of(edge), bottom)], fill=(160, 160, 160), width=2)
        return lambda v: bottom - min(v, ymax) / ymax * (bottom - top)

    # Queue length per service.
    top, bottom = PANELS[0]
    qmax = _nice(max([1] + [n for _, w in run.samples for n in w.values()]))
    y_of = panel(top, bottom, qmax, "people waiting, by service")
    for sid in services:
        pts = [(x_of(t), y_of(w.get(sid, 0))) for t, w in run.samples]
        if len(pts) > 1:
            g.line(pts, fill=color[sid], width=2)

    # Waits: each visitor at the moment they were called, and p90 per half hour.
    top, bottom = PANELS[1]
    waits = [(v.called_s, v.wait_s / 60, v.service) for v in run.visitors
             if v.called_s is not None and v.wait_s is not None]
    sla = max(report["services"][i]["sla_wait_min"] for i in range(len(services)))
    wmax = _nice(max([sla * 1.2] + [w for _, w, _ in waits]))
    y_of = panel(top, bottom, wmax, "wait until called, minutes (dots: visitors; lines: p90 per 30 min)")
    for t, w, sid in waits:
        x, y = x_of(t), y_of(w)
        g.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=tuple(c + (255 - c) // 2 for c in color[sid]))
    for sid in services:
        bins: dict[int, list[float]] = {}
        for t, w, s_id in waits:
            if s_id == sid:
                bins.setdefault(t // 1800, []).append(w)
        pts = [(x_of(b * 1800 + 900), y_of(percentile(ws, 90))) for b, ws in sorted(bins.items())]
        if len(pts) > 1:
            g.line(pts, fill=color[sid], width=2)
    for svc in report["services"]:
        y = y_of(svc["sla_wait_min"])
        for x in range(LEFT, W - RIGHT, 12):
            g.line([(x, y), (x + 6, y)], fill=color[svc["service"]], width=1)

    # Legend.
    x = LEFT
    for sid in services:
        g.rectangle([x, H - 22, x + 14, H - 10], fill=color[sid])
        g.text((x + 20, H - 24), sid, fill=INK, font=small)
        x += 40 + int(g.textlength(sid, font=small))
    g.text((x + 10, H - 24), "dashed: SLA wait; grey verticals: open and close", fill=INK, font=small)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, optimize=True)
    return path


def _nice(v: float) -> float:
    for step in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if v <= step:
            return float(step)
    return float(v)
