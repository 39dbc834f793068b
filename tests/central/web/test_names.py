"""Service names on the staff's screens in a real headless Chromium: each service by its
`[services.<id>]` name in the reader's language (English optional: then Russian; none:
the id) on one center, the visits over their standard and the reports; switching the
language renames at once; a center's CSV keeps the id and adds the name."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge.central.store import EventStore
from edge.sync.protocol import EventBatch
from tests.central.web.helpers import browser_signed_in, call, sign_in, start_web

DAY = "2026-12-02"
SERVICES = {"auto": {"kk": "Жүргізуші куәлігі", "ru": "Водительское удостоверение",
                     "en": "Driving licence"},
            "exam": {"kk": "Емтихан", "ru": "Экзамен"}}          # no English name
CFG = {"services": SERVICES, "sites": {"ast-01": {"name": "Астана ЦОН №1", "region": "Астана"}},
       "standards": {"auto": {"visit_sla_min": 120}}}


def at(hhmm: str) -> int:
    return int(datetime.fromisoformat(f"{DAY}T{hhmm}:00")
               .replace(tzinfo=ZoneInfo("Asia/Almaty")).timestamp() * 1000)


def load_day(store: EventStore) -> None:
    c = {"ticket_id": 7, "ticket": "C-007", "visit": "v-7", "service": "auto"}
    d = {"ticket_id": 8, "ticket": "A-008", "visit": "v-8", "service": "docs"}
    events = [("09:00", "ticket.issued", c),
              ("09:20", "ticket.called", {**c, "window": 3, "calls": 1, "wait_s": 1200}),
              ("09:21", "ticket.serving", {**c, "window": 3}),
              ("08:10", "ticket.issued", d),
              ("08:30", "ticket.called", {**d, "window": 1, "calls": 1, "wait_s": 1200}),
              ("08:45", "ticket.done", {**d, "window": 1, "service_s": 900})]
    store.store_batch(EventBatch.model_validate({
        "v": 1, "site": "ast-01", "device": "edge-1", "session": 1, "floor": 0,
        "events": [{"v": 1, "id": f"e-{i}", "site": "ast-01", "device": "edge-1", "seq": i,
                    "boot": "b", "type": t, "ts": at(hhmm), "mono_ms": 0,
                    "clock_synced": True, "hist": False, "data": data}
                   for i, (hhmm, t, data) in enumerate(events, 1)]}))
    store.put_state("ast-01", "edge-1", True, 1)
    store.put_health("ast-01", "edge-1", {"v": 1, "summary": {"waiting": 3}, "queue": {
        "windows": [{"number": 5, "label": "5", "state": "open", "ticket": "C-007",
                     "service": "exam"}],
        "services": [{"id": "exam", "waiting": 2, "names": {"en": "Exam (edge)"}},
                     {"id": "docs", "waiting": 1, "names": {"kk": "Құжаттар (edge)",
                                                            "ru": "Документы (edge)"}}]}})


def text(b: Any, selector: str) -> str:
    return str(b.eval(f"(document.querySelector({json.dumps(selector)}) || "
                      "{textContent: ''}).textContent"))


def lang(b: Any, code: str) -> None:
    b.eval(f"document.querySelector('[data-lang={code}]').click()")
    b.wait_for(f"document.documentElement.lang === '{code}'")


def test_services_are_named_in_the_readers_language(store: EventStore, tmp_path: Path) -> None:
    """Risk: staff read "svc_driving" where the visitor's page says "Жүргізуші куәлігі"."""
    load_day(store)
    noon = at("12:00")
    web = start_web(store, tmp_path, CFG, clock_ms=lambda: noon)
    b = None
    try:
        b = browser_signed_in(web, tmp_path)            # in English
        b.goto(web.url + "center/ast-01")
        b.wait_for("document.getElementById('per-service') !== null")
        assert "Driving licence" in text(b, "#per-service")
        assert "docs" in text(b, "#per-service")         # no name configured: the id
        assert "Экзамен" in text(b, "#windows")          # no English name: the Russian
        # The queue: the edge's English before the config's Russian; the edge's Russian
        # when neither has English.
        queue = text(b, "#queue")
        assert "Exam (edge)" in queue and "Экзамен" not in queue and "Документы (edge)" in queue
        assert "Driving licence" in text(b, "#center-overdue")
        lang(b, "kk")
        b.wait_for("document.getElementById('per-service').textContent"
                   ".includes('Жүргізуші куәлігі')")
        assert "Driving licence" not in text(b, "#per-service")
        assert "Емтихан" in text(b, "#windows")
        assert "Емтихан" in text(b, "#queue") and "Құжаттар (edge)" in text(b, "#queue")
        # The visits over their standard: the service and the center by their names.
        b.eval("document.querySelector('nav a[href=\"/overdue\"]').click()")
        b.wait_for("document.querySelector('#overdue article[data-ticket=\"C-007\"]') !== null")
        card = "#overdue article[data-ticket=\"C-007\"]"
        assert "Жүргізуші куәлігі" in text(b, card + " h3")
        assert "Астана ЦОН №1" in text(b, card + " h3 a")
        assert "Жүргізуші куәлігі" in text(b, card + " ol")
        lang(b, "ru")
        b.wait_for(f"document.querySelector({json.dumps(card)}).textContent"
                   ".includes('Водительское удостоверение')")
        # The reports: each center by its name.
        b.goto(web.url + f"reports?day={DAY}")
        b.wait_for("document.getElementById('report') !== null")
        assert "Астана ЦОН №1" in text(b, "#report")
    finally:
        if b is not None:
            b.close()
        web.stop()


def test_a_centers_csv_keeps_the_id_and_adds_the_name(store: EventStore,
                                                      tmp_path: Path) -> None:
    load_day(store)
    web = start_web(store, tmp_path, CFG)
    try:
        _, cookie = sign_in(web)                         # in English
        assert cookie

        def rows() -> list[dict[str, str]]:
            status, _, body = call(web, "GET", f"/api/center/ast-01/report.csv?day={DAY}",
                                   cookie=cookie)
            assert status == 200
            return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
        got = rows()
        assert list(got[0])[:5] == ["site", "day", "by", "key", "name"]
        by_key = {(r["by"], r["key"]): r["name"] for r in got}
        assert by_key[("service", "auto")] == "Driving licence"
        assert by_key[("service", "docs")] == "docs"
        assert by_key[("operator", "unknown")] == "unknown"
        _, _, me = call(web, "GET", "/api/me", cookie=cookie)
        status, _, _ = call(web, "POST", "/api/lang", {"lang": "kk"}, cookie=cookie,
                            headers={"X-CSRF-Token": json.loads(me)["csrf"]})
        assert status == 200
        assert {(r["by"], r["key"]): r["name"] for r in rows()}[("service", "auto")] == \
            "Жүргізуші куәлігі"
    finally:
        web.stop()
