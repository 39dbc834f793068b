"""The panel's server over HTTP on a real controller: sign-in, lockout, CSRF, the window a
session may act at, two operators pressing at once, the operator in every event."""

from __future__ import annotations

import threading

from edge.queue import commands as c

from .conftest import Client


def test_sign_in_choose_window_and_call(make_center) -> None:
    center = make_center()
    center.harness.call(c.IssueTicket("docs"))
    pc = Client(center.url)
    pc.sign_in("aigerim", window=1)
    status, body = pc.act("call_next")
    assert status == 200 and body["ticket"] == "A-001", body
    called = center.events("ticket.called")[-1]
    assert called["operator"] == "aigerim" and called["window"] == 1
    assert center.events("operator.signed_in") == [
        {"operator": "aigerim", "window": 1, "reason": "sign_in"}]


def test_wrong_pin_locks(make_center) -> None:
    center = make_center()
    pc = Client(center.url)
    codes = [pc.request("/api/sign-in", {"operator": "aigerim", "pin": "0000"})[1]["code"]
             for _ in range(3)]
    assert codes == ["bad_pin", "bad_pin", "locked"]
    # Locked: the right PIN too, until the lock ends.
    status, body = pc.request("/api/sign-in", {"operator": "aigerim", "pin": "1111"})
    assert status == 429 and body["code"] == "locked"


def test_post_without_csrf_is_refused_and_changes_nothing(make_center) -> None:
    center = make_center()
    center.harness.call(c.IssueTicket("docs"))
    pc = Client(center.url)
    pc.sign_in("aigerim", window=1)
    status, body = pc.request("/api/action", {"action": "call_next"}, csrf=False)
    assert status == 403 and body["code"] == "csrf"
    assert center.events("ticket.called") == []


def test_window_3_session_cannot_act_on_window_4(make_center) -> None:
    center = make_center()
    center.harness.call(c.IssueTicket("docs"))
    pc = Client(center.url)
    pc.sign_in("aigerim", window=3)
    status, body = pc.act("call_next", window=4)
    assert status == 403 and body["code"] == "wrong_window"
    assert center.events("ticket.called") == []
    # Nor can it take a window another operator holds.
    other = Client(center.url)
    other.sign_in("bolat")
    status, body = other.request("/api/window", {"window": 3})
    assert status == 409 and body["code"] == "window_taken", body


def test_an_operator_takes_only_windows_of_their_services(make_center) -> None:
    center = make_center()
    pc = Client(center.url)
    pc.sign_in("dana")
    status, body = pc.request("/api/window", {"window": 1})
    assert status == 403 and body["code"] == "service_not_allowed"


def test_refusals_come_in_the_operators_language(make_center) -> None:
    center = make_center()
    pc = Client(center.url)
    pc.request("/api/sign-in", {"operator": "aigerim", "pin": "1111", "lang": "ru"})
    status, body = pc.request("/api/sign-in", {"operator": "aigerim", "pin": "1111",
                                               "lang": "ru"})
    pc.csrf = body["csrf"]
    pc.request("/api/window", {"window": 1})
    status, body = pc.act("call_next")
    assert status == 409 and body["code"] == "queue_empty"
    assert body["text"] == "В очереди никого нет."


def test_two_operators_pressing_at_once_never_get_one_ticket(make_center) -> None:
    center = make_center()
    for _ in range(20):
        center.harness.call(c.IssueTicket("docs"))
    a, b = Client(center.url), Client(center.url)
    a.sign_in("aigerim", window=1)
    b.sign_in("bolat", window=2)
    got: dict[str, list[str]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def press(name: str, pc: Client) -> None:
        start.wait()
        for _ in range(8):
            status, body = pc.act("call_next")
            assert status == 200, body
            got[name].append(body["ticket"])

    threads = [threading.Thread(target=press, args=(n, p)) for n, p in (("a", a), ("b", b))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert len(got["a"]) == len(got["b"]) == 8
    assert not set(got["a"]) & set(got["b"])
    by_op = {e["ticket"]: e["operator"] for e in center.events("ticket.called")}
    assert all(by_op[t] == "aigerim" for t in got["a"])
    assert all(by_op[t] == "bolat" for t in got["b"])


def test_events_carry_the_operator(make_center) -> None:
    center = make_center()
    center.harness.call(c.IssueTicket("docs"))
    center.harness.call(c.IssueTicket("docs"))
    pc = Client(center.url)
    pc.sign_in("aigerim", window=1)
    for action, fields in (("call_next", {}), ("start", {}),
                           ("transfer", {"service": "realty", "note": "ИИН 900101300123 дубль"}),
                           ("call_next", {}), ("no_show", {}), ("pause", {"reason": "break"})):
        status, body = pc.act(action, **fields)
        assert status == 200, (action, body)
    # The keypad at the same window names the operator signed in there.
    center.harness.call(c.ResumeWindow(1))
    center.harness.call(c.CallNext(1))
    center.harness.call(c.Finish(1))
    for type_ in ("ticket.called", "ticket.serving", "ticket.transferred", "ticket.no_show",
                  "window.paused", "ticket.done"):
        assert [e["operator"] for e in center.events(type_)] != [], type_
        assert all(e["operator"] == "aigerim" for e in center.events(type_)), type_
    transferred = center.events("ticket.transferred")[0]
    assert "900101300123" not in transferred["note"] and "дубль" in transferred["note"]
    assert center.events("window.paused")[0]["reason"] == "break"
    pc.request("/api/sign-out", {})
    assert center.events("operator.signed_out")[-1] == {
        "operator": "aigerim", "window": 1, "reason": "sign_out"}
    center.harness.call(c.ResumeWindow(1))
    center.harness.call(c.IssueTicket("docs"))
    center.harness.call(c.CallNext(1))
    assert center.events("ticket.called")[-1]["operator"] is None


def test_manager_is_sent_to_the_manager_page(make_center) -> None:
    center = make_center()
    pc = Client(center.url)
    body = pc.sign_in("boss")
    assert body["next"] == "/manager" and body["role"] == "manager"


def test_the_managers_day_is_served_beside_the_panel_behind_its_sign_in(make_center) -> None:
    """Risk: the manager's page mounted without the panel's sessions (anyone reads the
    day, or a manager cannot act), or its figures not from this center's database."""
    center = make_center()
    center.harness.call(c.IssueTicket("docs"))
    operator = Client(center.url)
    operator.sign_in("aigerim", window=1)
    assert operator.act("call_next")[0] == 200
    assert operator.act("done")[0] == 200
    assert operator.request("/manager/day.json")[0] == 403
    assert Client(center.url).request("/manager/day.json")[0] == 403   # nobody signed in
    boss = Client(center.url)
    boss.sign_in("boss")
    status, day = boss.request("/manager/day.json")
    assert status == 200, day
    assert "aigerim" in str(day) and day["csrf"] == boss.csrf
    # Acting needs the session's CSRF token, and goes through the controller.
    assert boss.request("/manager/window/2/close", {}, csrf=False)[0] == 403
    status, body = boss.request("/manager/window/2/close", {})
    assert status == 200, body
    assert center.events("window.closed")[-1]["window"] == 2
