"""The manager's page over HTTP on the real controller: who may, the figures, the CSV, windows."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from edge.queue import commands as c

from .conftest import CSRF, ManagerSite


def get(site: ManagerSite, path: str, who: str | None = "boss",
        method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(site.url + path, method=method, headers=headers or {})
    if who:
        req.add_header("Cookie", f"who={who}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def post(site: ManagerSite, path: str, who: str | None = "boss",
         csrf: str | None = CSRF) -> tuple[int, dict[str, Any]]:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    status, _, body = get(site, path, who, "POST", headers)
    return status, json.loads(body)


def a_day(h: Any) -> None:
    for service in ("docs", "docs", "realty"):
        h.call(c.IssueTicket(service))
    h.clock.advance(300)
    h.call(c.CallNext(1))
    h.call(c.StartService(1))
    h.clock.advance(240)
    h.call(c.Finish(1))
    h.call(c.Rate(1, 5))
    h.call(c.CallNext(2))
    h.call(c.NoShow(2))


def test_only_a_manager_gets_anything(site: ManagerSite) -> None:
    """Risk: an operator (or anyone on the LAN) reads the day's figures, downloads the
    CSV or closes a window from the manager's page."""
    for who in (None, "olga", "stranger"):
        for path in ("/manager", "/manager/day.json", "/manager/day.csv", "/manager/events"):
            status, _, body = get(site, path, who)
            assert status == 403, (who, path)
        status, answer = post(site, "/manager/window/1/close", who)
        assert status == 403 and answer["code"] == "forbidden"
    status, _, body = get(site, "/manager", "olga")
    assert "только для руководителя" in body.decode() and "менеджерін" not in body.decode()
    assert site.harness.controller.snapshot.windows[0].state == "open"


def test_the_figures_and_the_csv_come_from_the_database(site: ManagerSite) -> None:
    h = site.harness
    a_day(h)
    status, headers, body = get(site, "/manager/day.json")
    assert status == 200 and headers["cache-control"] == "no-store"
    day = json.loads(body)
    docs = next(s for s in day["services"] if s["key"] == "docs")
    assert (docs["served"], docs["no_shows"], docs["wait_p50_ms"], docs["service_p50_ms"],
            docs["rating_avg"]) == (1, 0, 300_000, 240_000, 5.0)
    realty = next(s for s in day["services"] if s["key"] == "realty")   # window 2 takes B first
    assert (realty["served"], realty["no_shows"], realty["wait_p50_ms"]) == (0, 1, 540_000)
    assert [w["key"] for w in day["windows"]] == [1, 2]
    assert day["csrf"] == CSRF and day["me"] == "boss" and day["day"] == "2026-11-23"
    assert [w["state"] for w in day["windows_now"]][:2] == ["open", "open"]
    status, headers, body = get(site, "/manager/day.csv")
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert 'filename="kezek-' in headers["content-disposition"]
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("day,ticket,stage,visit,service")
    assert len(lines) == 4 and lines[1].split(",")[1] == "A-001"
    h.restart()                                       # figures come from the file
    site.reader.close()
    day = json.loads(get(site, "/manager/day.json")[2])
    assert next(s for s in day["services"] if s["key"] == "docs")["served"] == 1


def test_windows_open_and_close_through_the_controller(site: ManagerSite) -> None:
    """Risk: the page changes a window behind the engine's back, a forged request without
    the token closes a window, or a refusal is lost."""
    h = site.harness
    status, answer = post(site, "/manager/window/2/close", csrf=None)
    assert status == 403 and answer["code"] == "csrf"
    status, answer = post(site, "/manager/window/2/close", csrf="wrong")
    assert status == 403
    assert h.controller.snapshot.windows[1].state == "open"
    status, answer = post(site, "/manager/window/2/close")
    assert status == 200 and answer["ok"], answer
    assert h.controller.snapshot.windows[1].state == "closed"
    assert any(e.type == "window.closed" for e in h.store.outbox())
    h.call(c.IssueTicket("docs"))
    h.call(c.CallNext(1))
    status, answer = post(site, "/manager/window/1/close")
    assert answer["ok"] is False and answer["code"] == "window_busy"
    status, answer = post(site, "/manager/window/99/open")
    assert answer["code"] == "unknown_window"
    status, answer = post(site, "/manager/window/2/explode")
    assert status == 404 and answer["code"] == "bad_request"
