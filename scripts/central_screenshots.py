"""The README's pictures of the Situational Center, taken in headless Chromium.

    PYTHONPATH=. .venv/bin/python scripts/central_screenshots.py [--out docs/img]

A throwaway SQLite store gets a day of a dozen centers (bench/situational.py's day, plus
a silent center, alarms and an overdue driving-licence visit), the screens run over it
at a fixed time, and Chromium signs in and saves docs/img/central-country.png and
docs/img/central-center.png.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CENTERS = [("ast-01", "Астана, ЦОН №1", "Астана"), ("ast-02", "Астана, ЦОН №2", "Астана"),
           ("ast-spec", "Астана, спецЦОН", "Астана"), ("alm-01", "Алматы, ЦОН Алмалы", "Алматы"),
           ("alm-02", "Алматы, ЦОН Бостандык", "Алматы"), ("alm-spec", "Алматы, спецЦОН", "Алматы"),
           ("shy-01", "Шымкент, ЦОН №1", "Шымкент"), ("kar-01", "Караганда, ЦОН №1", "Карагандинская"),
           ("akt-01", "Актобе, ЦОН №1", "Актюбинская"), ("pav-01", "Павлодар, ЦОН №1", "Павлодарская"),
           ("atr-01", "Атырау, ЦОН №1", "Атырауская"), ("kos-01", "Костанай, ЦОН №1", "Костанайская")]

# The services by name, as the screens show them ([services.<id>] of the web config).
NAMES = {"docs": {"kk": "Жеке куәлік", "ru": "Удостоверение личности", "en": "ID card"},
         "realty": {"kk": "Жылжымайтын мүлік", "ru": "Недвижимость", "en": "Real estate"},
         "auto": {"kk": "Жүргізуші куәлігі", "ru": "Водительское удостоверение",
                  "en": "Driving licence"},
         "benefits": {"kk": "Жәрдемақылар", "ru": "Пособия", "en": "Benefits"},
         "exam": {"kk": "Емтихан", "ru": "Экзамен", "en": "Exam"}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = p.parse_args()
    from bench.situational import SERVICES, _ms, batch, day_of_events
    from edge.central import staff
    from edge.central.store import open_store
    from edge.central.web.config import CentralWebConfig
    from edge.central.web.service import CentralWeb
    from tests.browser import start_chromium
    tmp = Path(tempfile.mkdtemp(prefix="kezek-shots-"))
    store = open_store(tmp / "central.db")
    rng = random.Random(5)
    now = _ms(16.0)
    for i, (site, _, _) in enumerate(CENTERS):
        events = [e for e in day_of_events(site, rng.randint(300, 700), rng) if e["ts"] < now]
        if site == "ast-spec":
            c = {"ticket_id": 9001, "ticket": "C-041", "visit": "v-c41"}
            events += [
                {"type": "ticket.issued", "ts": _ms(13.0), "data": {**c, "service": "auto"}},
                {"type": "ticket.called", "ts": _ms(13.25), "data": {
                    **c, "service": "auto", "window": 4, "calls": 1, "wait_s": 900,
                    "operator": "op-4"}},
                {"type": "ticket.serving", "ts": _ms(13.3), "data": {**c, "service": "auto",
                                                                      "window": 4}},
                {"type": "ticket.transferred", "ts": _ms(13.5), "data": {
                    **c, "service": "auto", "to_service": "exam", "window": 4}},
                {"type": "ticket.called", "ts": _ms(15.0), "data": {
                    **c, "service": "exam", "window": 9, "calls": 1, "wait_s": 5400}},
                {"type": "ticket.serving", "ts": _ms(15.05), "data": {**c, "service": "exam",
                                                                       "window": 9}}]
            events.sort(key=lambda e: e["ts"])
        store.store_batches([batch(site, j + 1, events[j:j + 500])
                             for j in range(0, len(events), 500)])
        silent = site == "akt-01"
        store.put_state(site, "edge-1", not silent, 1)
        alarms = {"shy-01": ["printer.kiosk"], "kar-01": ["storage.low", "clock.unsynced"]}
        if not silent:
            windows = [{"number": n, "label": f"{n}", "state": "open" if n % 5 else "closed",
                        "ticket": f"A-{rng.randint(1, 400):03d}" if n % 5 else None,
                        "service": rng.choice(SERVICES) if n % 5 else None} for n in range(1, 11)]
            store.put_health(site, "edge-1", {"v": 1, "summary": {
                "waiting": rng.randint(3, 40), "serving": 8, "alarms": alarms.get(site, [])},
                "queue": {"windows": windows, "services": [
                    {"id": s, "waiting": rng.randint(0, 15),
                     "names": {"kk": s, "ru": s, "en": s}} for s in SERVICES]}})
    with store._tx() as tx:   # health came at "now" of the picture, the silent one long ago
        tx.run("UPDATE health SET received_ms = ?", (now - 20_000,))
        tx.run("UPDATE devices SET last_seen_ms = ?", (now - 20_000,))
        tx.run("UPDATE devices SET last_seen_ms = ? WHERE site = 'akt-01'", (now - 3_000_000,))
    cfg = CentralWebConfig.model_validate({
        "web": {"port": 0, "sessions": str(tmp / "s.db")},
        "standards": {"auto": {"visit_sla_min": 120, "max_service_min": 30},
                      "exam": {"max_wait_min": 45, "max_service_min": 60},
                      **{s: {"visit_sla_min": 90, "max_wait_min": 45} for s in SERVICES
                         if s != "auto"}},
        "sites": {s: {"name": n, "region": r} for s, n, r in CENTERS},
        "services": NAMES})
    web = CentralWeb(store, cfg, clock_ms=lambda: now)
    web.start()
    web.wait_serving(10)
    staff.add(store, "aigerim", "viewer", "a picture password")
    b = start_chromium(tmp / "chromium")
    try:
        b.goto(web.url + "login")
        b.wait_for("document.body.dataset.ready === '1'")
        b.eval("document.getElementById('name').value = 'aigerim';"
               "document.getElementById('password').value = 'a picture password';"
               "document.querySelector('[data-lang=ru]').click();"
               "document.getElementById('submit').click()")
        b.wait_for("document.querySelectorAll('#country tbody tr').length === 12")
        time.sleep(0.5)   # a picture, not a test: let the fonts settle
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "central-country.png").write_bytes(b.screenshot())
        # The center's screen is long: a taller page shows its charts and visits too.
        b.send("Emulation.setDeviceMetricsOverride", width=1920, height=2200,
               deviceScaleFactor=1, mobile=False)
        b.goto(web.url + "center/ast-spec")
        b.wait_for("document.getElementById('per-operator') !== null")
        time.sleep(0.5)
        (args.out / "central-center.png").write_bytes(b.screenshot())
    finally:
        b.close()
        web.stop()
        store.close()
    print(f"wrote {args.out}/central-country.png and central-center.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
