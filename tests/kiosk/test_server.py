"""The kiosk page's HTTP side: only the kiosk may use it, only its own page may change
anything, and a refused request changes nothing."""

from __future__ import annotations

import http.client
import json
import re
from typing import Any

import pytest

from edge.queue import commands as c

from .conftest import IIN, wrong_check_digit


def get(kiosk, path: str, source: str | None = None) -> tuple[int, dict[str, str], bytes]:
    host, port = kiosk.server.address
    conn = http.client.HTTPConnection(host, port, timeout=10,
                                      source_address=(source, 0) if source else None)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def page_token(kiosk) -> str:
    status, _, body = get(kiosk, "/")
    assert status == 200
    m = re.search(rb'name="kezek-token" content="([^"]+)"', body)
    assert m, "the page carries its token"
    return m.group(1).decode()


def post(kiosk, path: str, body: Any, *, token: str | None, origin: str | None = "own",
         content_type: str = "application/json", raw: bytes | None = None
         ) -> tuple[int, dict[str, Any]]:
    host, port = kiosk.server.address
    headers = {"Content-Type": content_type}
    if origin == "own":
        headers["Origin"] = f"http://{host}:{port}"
    elif origin is not None:
        headers["Origin"] = origin
    if token is not None:
        headers["X-CSRF-Token"] = token
    conn = http.client.HTTPConnection(host, port, timeout=10)
    data = raw if raw is not None else json.dumps(body).encode()
    conn.request("POST", path, body=data, headers=headers)
    r = conn.getresponse()
    text = r.read()
    conn.close()
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, {"text": text.decode("utf-8", "replace")}


def nothing_changed(kiosk, before: int) -> None:
    assert kiosk.submitted.commands == [], "a refused request makes no command"
    assert kiosk.tickets() == []
    assert len(kiosk.harness.store.outbox()) == before


def test_the_page_issues_a_ticket_with_its_token(make_kiosk):
    kiosk = make_kiosk()
    status, answer = post(kiosk, "/ticket", {"service": "docs", "category": "normal"},
                          token=page_token(kiosk))
    assert status == 200 and answer["ok"] is True and answer["ticket"] == "A-001"
    assert answer["service"] == {"kk": "Жеке куәлік және төлқұжат",
                                 "ru": "Удостоверение личности и паспорт"}
    assert answer["printing"] is True and answer["ahead"] == 0


@pytest.mark.parametrize("case", ["no origin", "other origin", "no token", "made-up token",
                                  "form post", "text body", "extra field", "not text",
                                  "unknown service", "unknown category"])
def test_a_forged_or_malformed_request_changes_nothing(make_kiosk, case):
    kiosk = make_kiosk()
    before = len(kiosk.harness.store.outbox())
    token = page_token(kiosk)
    good = {"service": "docs", "category": "normal"}
    kwargs: dict[str, Any] = {"token": token}
    body: Any = good
    if case == "no origin":
        kwargs["origin"] = None
    elif case == "other origin":
        kwargs["origin"] = "http://evil.example"
    elif case == "no token":
        kwargs["token"] = None
    elif case == "made-up token":
        kwargs["token"] = "x" * 32
    elif case == "form post":
        kwargs["content_type"] = "application/x-www-form-urlencoded"
        kwargs["raw"] = b"service=docs&category=normal"
    elif case == "text body":
        kwargs["raw"] = b"issue a ticket"
    elif case == "extra field":
        body = {**good, "printer": "other"}
    elif case == "not text":
        body = {"service": ["docs"], "category": "normal"}
    elif case == "unknown service":
        body = {"service": "nope", "category": "normal"}
    elif case == "unknown category":
        body = {"service": "docs", "category": "vip"}
    status, answer = post(kiosk, "/ticket", body, **kwargs)
    assert status in (400, 403, 415) and answer.get("ok") is False, (status, answer)
    nothing_changed(kiosk, before)
    if case == "no token":
        assert answer["code"] == "stale_page", "the page reloads itself and gets one"


def test_a_body_over_the_limit_is_refused(make_kiosk):
    kiosk = make_kiosk()
    before = len(kiosk.harness.store.outbox())
    status, _ = post(kiosk, "/checkin", {"code": "A" * 5000}, token=page_token(kiosk))
    assert status == 413
    nothing_changed(kiosk, before)


def test_an_address_not_allowed_gets_nothing_at_all(make_kiosk):
    kiosk = make_kiosk(bind="0.0.0.0", allow=["127.0.0.1"])
    # The same machine from another loopback address: not the kiosk's.
    status, _, body = get(kiosk, "/", source="127.0.0.2")
    assert status == 403 and b"kiosk.allow" in body and b"kezek-token" not in body
    assert get(kiosk, "/events", source="127.0.0.2")[0] == 403
    assert get(kiosk, "/", source="127.0.0.1")[0] == 200
    assert kiosk.server.health()["refused_addresses"] == 2


def test_a_token_works_only_from_the_address_it_was_given_to(make_kiosk):
    kiosk = make_kiosk(bind="0.0.0.0", allow=["127.0.0.1", "127.0.0.2"])
    status, _, body = get(kiosk, "/", source="127.0.0.2")
    token = re.search(rb'content="([^"]+)"', body.split(b"kezek-token", 1)[1]).group(1).decode()
    status, answer = post(kiosk, "/ticket", {"service": "docs", "category": "normal"},
                          token=token)             # sent from 127.0.0.1
    assert (status, answer["code"]) == (403, "stale_page")
    assert kiosk.submitted.commands == []


def test_requests_over_the_rate_are_refused_without_a_command(make_kiosk):
    kiosk = make_kiosk(rate_per_s=0.01, burst=2)
    token = page_token(kiosk)
    answers = [post(kiosk, "/checkin", {"code": "ZZ-404"}, token=token) for _ in range(4)]
    assert [s for s, _ in answers] == [200, 200, 429, 429]
    assert answers[2][1]["code"] == "slow_down"
    assert "Подождите немного" in answers[2][1]["texts"]["ru"]
    assert len(kiosk.submitted.commands) == 2


def test_an_iin_with_a_wrong_check_digit_never_becomes_a_command(make_kiosk, caplog):
    """Even a request made without the page's own check (a script on the kiosk)."""
    caplog.set_level("DEBUG")
    kiosk = make_kiosk()
    kiosk.book("AB-100", IIN)
    token = page_token(kiosk)
    for bad in (wrong_check_digit(IIN), IIN[:11], IIN + "1", "１２３４５６７８９０１２"):
        status, answer = post(kiosk, "/iin", {"iin": bad}, token=token)
        assert status == 200 and answer["ok"] is False
        assert answer["code"] in ("bad_iin", "iin_short")
        assert "ЖСН" in answer["texts"]["kk"] and "ИИН" in answer["texts"]["ru"]
    assert kiosk.submitted.commands == []
    status, answer = post(kiosk, "/iin", {"iin": IIN}, token=token)
    assert answer["ok"] is True and answer["checked_in"] is True and answer["ticket"] == "A-001"
    assert IIN not in caplog.text and IIN[:11] not in caplog.text
    assert all(IIN not in n.texts["ru"] for n in kiosk.seen)


def test_every_refusal_is_answered_in_both_languages_and_published(make_kiosk):
    kiosk = make_kiosk(edit=lambda d: d.setdefault("policies", {}).setdefault(
        "services", {}).update({"realty": {"mode": "booking_only"}}))
    token = page_token(kiosk)
    status, answer = post(kiosk, "/ticket", {"service": "realty", "category": "normal"},
                          token=token)
    assert answer["ok"] is False and answer["code"] == "booking_only"
    assert "egov.kz" in answer["texts"]["ru"] and "egov.kz" in answer["texts"]["kk"]
    status, answer = post(kiosk, "/checkin", {"code": "NO-SUCH"}, token=token)
    assert answer["code"] == "unknown_booking" and answer["texts"]["ru"] == "Запись не найдена."
    assert [(n.kind, n.code, n.source, n.printer) for n in kiosk.seen] == [
        ("refused", "booking_only", "kiosk", "kiosk"), ("refused", "unknown_booking", "kiosk",
                                                         "kiosk")]


def test_the_live_state_says_which_services_take_walk_ins_and_whether_paper_is_out(make_kiosk):
    kiosk = make_kiosk(edit=lambda d: d.setdefault("policies", {}).setdefault(
        "services", {}).update({"realty": {"mode": "booking_only"}}))
    host, port = kiosk.server.address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/events")
    r = conn.getresponse()
    assert r.status == 200 and r.getheader("Content-Type").startswith("text/event-stream")

    def next_state() -> dict[str, Any]:
        while True:
            line = r.fp.readline()
            if line.startswith(b"data: {") and b'"v":1' in line:
                return json.loads(line[6:])

    state = next_state()
    assert [(s["id"], s["booking_only"]) for s in state["services"]] == [
        ("docs", False), ("realty", True), ("benefits", False)]
    assert state["printer"]["ok"] is True and state["open"] is True
    kiosk.harness.call(c.DeviceStatus("printer:kiosk", False, "out of paper: load a new roll",
                                      blocks_issue=True))
    while (state := next_state())["printer"]["ok"]:
        pass
    assert state["printer"]["code"] == "paper_out"
    assert "закончилась бумага" in state["printer"]["texts"]["ru"]
    conn.close()


def test_page_headers_are_strict(make_kiosk):
    kiosk = make_kiosk()
    status, headers, _ = get(kiosk, "/")
    assert status == 200 and headers["cache-control"] == "no-store"
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    status, headers, _ = get(kiosk, "/kiosk.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")


def test_english_a_service_list_and_categories_from_the_config(make_kiosk):
    kiosk = make_kiosk(languages=["kk", "ru", "en"], services=["benefits", "docs"],
                       categories=["normal", "pensioner"])
    state = json.loads(kiosk.server.live.current()[1])
    assert state["languages"] == ["kk", "ru", "en"]
    assert [s["id"] for s in state["services"]] == ["benefits", "docs"]
    assert state["services"][1]["names"]["en"] == "ID cards and passports"
    assert [c["id"] for c in state["categories"]] == ["normal", "pensioner"]
    assert state["categories"][1]["names"] == {"kk": "Зейнеткер", "ru": "Пенсионер",
                                               "en": "Pensioner"}
    assert state["labels"]["en"]["choose"] == "Choose a service"
    token = page_token(kiosk)
    status, answer = post(kiosk, "/ticket", {"service": "realty", "category": "normal"},
                          token=token)
    assert (status, answer["code"]) == (400, "bad_request"), "not a service of this page"
    status, answer = post(kiosk, "/ticket", {"service": "docs", "category": "disability"},
                          token=token)
    assert (status, answer["code"]) == (400, "bad_request"), "not a category of this page"
    assert kiosk.submitted.commands == []
