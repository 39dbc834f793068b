"""Staff roles over HTTP: only an admin manages accounts and lockouts (a viewer's forged
POST gets 403 whatever the page shows, a visitor 401); what an admin changes takes effect
at once (a new password or a removal ends the account's sessions, a role change made
elsewhere reaches open sessions); no hash ever leaves the store."""

from __future__ import annotations

import http.client
import json
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from edge.central import staff
from edge.central.store import EventStore
from tests.central.web.helpers import NAME, call, sign_in, start_web
from tests.conftest import wait_until

BOSS, BOSS_PW = "boss", "the boss's passphrase"
ADMIN_POSTS = [("/api/accounts", {"name": "mallory", "role": "admin",
                                  "password": "mallory's passphrase"}),
               (f"/api/accounts/{BOSS}/role", {"role": "viewer"}),
               (f"/api/accounts/{BOSS}/password", {"password": "mallory's passphrase"}),
               (f"/api/accounts/{BOSS}/remove", {}),
               ("/api/lockouts/clear", {"key": "addr:127.0.0.1"})]


@pytest.fixture
def web(store: EventStore, tmp_path: Path) -> Iterator[Any]:
    w = start_web(store, tmp_path)          # with NAME, a viewer
    staff.add(store, BOSS, "admin", BOSS_PW)
    yield w
    w.stop()


def session(web: Any, name: str = NAME, password: str | None = None) -> tuple[str, str]:
    """A signed-in cookie and its CSRF token."""
    status, cookie = sign_in(web, password or (BOSS_PW if name == BOSS else
                                               "correct horse battery"), name)
    assert status == 200 and cookie, status
    _, _, me = call(web, "GET", "/api/me", cookie=cookie)
    return cookie, json.loads(me)["csrf"]


def post(web: Any, path: str, body: Any, who: tuple[str, str]) -> tuple[int, dict[str, Any]]:
    status, _, text = call(web, "POST", path, body, cookie=who[0],
                           headers={"X-CSRF-Token": who[1]})
    return status, json.loads(text or b"{}")


def test_a_viewer_and_a_visitor_are_refused_the_admins_apis(web: Any,
                                                            store: EventStore) -> None:
    """Risk: a viewer (a wall screen's account) makes themselves admin, or adds one, by
    sending the request the admin's page would send."""
    viewer = session(web)
    status, _, body = call(web, "GET", "/api/accounts", cookie=viewer[0])
    assert status == 403 and b"only an admin" in body and b"viewer" in body
    for path, body in ADMIN_POSTS:
        status, answer = post(web, path, body, viewer)     # with its valid CSRF token
        assert status == 403 and answer["code"] == "admin_only", (path, answer)
        status, _, _ = call(web, "POST", path, body)       # a visitor
        assert status == 401, path
    assert call(web, "GET", "/api/accounts")[0] == 401
    assert staff.roles(store) == {NAME: "viewer", BOSS: "admin"}
    assert staff.verify(store, BOSS, BOSS_PW) == "admin"
    # An admin's POST without the CSRF token is refused too.
    boss = session(web, BOSS)
    status, answer = post(web, "/api/accounts", ADMIN_POSTS[0][1], (boss[0], "guessed"))
    assert status == 403 and answer["code"] == "csrf"
    assert "mallory" not in staff.roles(store)


def test_an_admin_manages_accounts_and_each_change_takes_effect(web: Any,
                                                                store: EventStore) -> None:
    boss = session(web, BOSS)
    status, _, body = call(web, "GET", "/api/accounts", cookie=boss[0])
    listed = json.loads(body)
    assert status == 200 and b"scrypt" not in body and b"secret" not in body
    assert [(a["name"], a["role"], a["you"]) for a in listed["accounts"]] == \
        [(NAME, "viewer", False), (BOSS, "admin", True)]
    assert listed["roles"] == ["viewer", "admin"] and listed["lockouts"] == []

    new = {"name": "Dana.K", "role": "viewer", "password": "dana's passphrase"}
    assert post(web, "/api/accounts", new, boss)[0] == 201
    assert staff.verify(store, "dana.k", "dana's passphrase") == "viewer"
    for body, code, says in ((new, "exists", "exists already"),
                             ({**new, "name": "d k"}, "name", "account name"),
                             ({**new, "name": "erlan", "password": "short"}, "password",
                              "at least 10"),
                             ({**new, "name": "erlan", "role": "root"}, "role", "role 'root'"),
                             ({"name": "erlan"}, "body", "JSON")):
        status, answer = post(web, "/api/accounts", body, boss)
        assert answer["code"] == code and says in answer["error"] and status in (400, 409), \
            answer

    # Nobody demotes or removes themselves by accident; another admin can.
    for path, body in ((f"/api/accounts/{BOSS}/role", {"role": "viewer"}),
                       (f"/api/accounts/{BOSS}/remove", {})):
        status, answer = post(web, path, body, boss)
        assert (status, answer["code"]) == (409, "self"), answer
    assert staff.roles(store)[BOSS] == "admin"
    assert post(web, "/api/accounts/nobody/role", {"role": "admin"}, boss)[0] == 404

    # A role given here counts at the account's next request: the viewer becomes admin.
    viewer = session(web)
    assert call(web, "GET", "/api/accounts", cookie=viewer[0])[0] == 403
    assert post(web, f"/api/accounts/{NAME}/role", {"role": "admin"}, boss)[0] == 200
    wait_until(lambda: call(web, "GET", "/api/accounts", cookie=viewer[0])[0] == 200, 10,
               "the new admin's open session allowed")

    # A new password ends the account's sessions; the new one signs in.
    dana = session(web, "dana.k", "dana's passphrase")
    assert post(web, "/api/accounts/dana.k/password", {"password": "a new passphrase"},
                boss)[0] == 200
    assert call(web, "GET", "/api/me", cookie=dana[0])[0] == 401
    assert sign_in(web, "dana's passphrase", "dana.k")[0] == 401
    dana = session(web, "dana.k", "a new passphrase")
    # A removal ends them too.
    assert post(web, "/api/accounts/dana.k/remove", {}, boss)[0] == 200
    assert call(web, "GET", "/api/me", cookie=dana[0])[0] == 401
    assert post(web, "/api/accounts/dana.k/remove", {}, boss)[0] == 404
    assert staff.roles(store) == {NAME: "admin", BOSS: "admin"}
    # An admin's own new password signs them out too (the page goes to the sign-in).
    status, answer = post(web, f"/api/accounts/{BOSS}/password",
                          {"password": "boss's new passphrase"}, boss)
    assert status == 200 and answer["signed_out"] is True
    assert call(web, "GET", "/api/me", cookie=boss[0])[0] == 401
    assert sign_in(web, "boss's new passphrase", BOSS)[0] == 200


def test_a_change_made_elsewhere_reaches_open_sessions(web: Any, store: EventStore) -> None:
    """Risk: an admin demoted or removed with `kezek central staff` (or by another web
    process) keeps their powers for as long as their session lives."""
    boss = session(web, BOSS)
    viewer = session(web)
    staff.add(store, "dana", "admin", "dana's passphrase")
    staff.set_role(store, BOSS, "viewer")
    wait_until(lambda: call(web, "GET", "/api/accounts", cookie=boss[0])[0] == 403, 10,
               "the demoted admin refused")
    assert call(web, "GET", "/api/me", cookie=boss[0])[0] == 200     # still a viewer
    staff.remove(store, NAME)
    wait_until(lambda: call(web, "GET", "/api/me", cookie=viewer[0])[0] == 401, 10,
               "the removed account signed out")


def test_a_removed_accounts_live_stream_ends(web: Any, store: EventStore) -> None:
    """Risk: a wall screen of an account that was removed goes on streaming the country."""
    viewer = session(web)
    host, port = web.web.address
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", "/api/events", headers={"Cookie": viewer[0]})
    r = conn.getresponse()
    assert r.status == 200 and r.read1(65536).startswith(b"retry")
    staff.remove(store, NAME)
    ended = threading.Event()

    def read_to_the_end() -> None:
        while r.read1(65536):
            pass
        ended.set()
    threading.Thread(target=read_to_the_end, daemon=True).start()
    waiting = 0

    def country_changes() -> bool:     # the stream checks its account between chunks
        nonlocal waiting
        waiting += 1
        store.put_state("ast-01", "edge-1", True, waiting)
        store.put_health("ast-01", "edge-1", {"v": 1, "summary": {"waiting": waiting}})
        return ended.wait(0.5)
    wait_until(country_changes, 40, "the removed account's stream ended")
    conn.close()


def test_everyone_sets_their_own_password_knowing_the_current_one(web: Any,
                                                                   store: EventStore) -> None:
    """Risk: a session left open on a shared desk lets anyone take over the account."""
    viewer = session(web)
    new = "a viewer's own passphrase"
    assert call(web, "POST", "/api/password", {"current": "x", "password": new})[0] == 401
    status, answer = post(web, "/api/password", {"current": "guess one", "password": new},
                          viewer)
    assert (status, answer["code"]) == (403, "wrong_current")
    status, answer = post(web, "/api/password", {"current": "correct horse battery",
                                                 "password": "short"}, viewer)
    assert (status, answer["code"]) == (400, "password")
    status, answer = post(web, "/api/password", {"current": "correct horse battery",
                                                 "password": new}, viewer)
    assert status == 200 and answer["signed_out"] is True
    assert call(web, "GET", "/api/me", cookie=viewer[0])[0] == 401
    assert staff.verify(store, NAME, new) == "viewer"
    viewer = session(web, NAME, new)
    for _ in range(4):   # guessing the current one through a session locks like signing in
        assert post(web, "/api/password", {"current": "guess", "password": new},
                    viewer)[0] == 403
    assert post(web, "/api/password", {"current": new, "password": new}, viewer)[0] == 429


def test_the_admin_sees_and_lifts_sign_in_lockouts(web: Any) -> None:
    """Risk: a colleague who mistyped five times waits out the lock with nobody able to
    help, or an admin cannot tell that someone is guessing passwords."""
    boss = session(web, BOSS)
    for _ in range(5):
        sign_in(web, "not the password", "ghost")
    assert sign_in(web, BOSS_PW, BOSS)[0] == 429          # the address is locked too
    _, _, body = call(web, "GET", "/api/accounts", cookie=boss[0])
    locks = {x["key"]: x for x in json.loads(body)["lockouts"]}
    assert set(locks) == {"name:ghost", "addr:127.0.0.1"}
    assert locks["name:ghost"]["kind"] == "name" and locks["name:ghost"]["who"] == "ghost"
    assert 0 < locks["addr:127.0.0.1"]["retry_s"] <= 301
    assert post(web, "/api/lockouts/clear", {"key": "addr:127.0.0.1"}, boss)[0] == 200
    assert post(web, "/api/lockouts/clear", {"key": "addr:127.0.0.1"}, boss)[0] == 404
    assert sign_in(web, BOSS_PW, BOSS)[0] == 200
    _, _, body = call(web, "GET", "/api/accounts", cookie=boss[0])
    assert [x["key"] for x in json.loads(body)["lockouts"]] == ["name:ghost"]


def test_two_admins_demoting_each_other_at_once_leave_one(store: EventStore) -> None:
    """Risk: on PostgreSQL two transactions each count two admins and each demote one,
    leaving none."""
    for attempt in range(5):
        a, b = f"a{attempt}", f"b{attempt}"
        staff.add(store, a, "admin", "a long passphrase")
        staff.add(store, b, "admin", "a long passphrase")
        for other in [n for n, r in staff.roles(store).items() if r == "admin" and n not in (a, b)]:
            staff.set_role(store, other, "viewer")
        start = threading.Barrier(2)
        refused: list[str] = []

        def demote(name: str) -> None:
            start.wait()
            try:
                staff.set_role(store, name, "viewer")
            except staff.StaffError as e:
                refused.append(e.code)
        threads = [threading.Thread(target=demote, args=(n,)) for n in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        admins = [n for n, r in staff.roles(store).items() if r == "admin"]
        assert len(admins) == 1 and refused == ["last_admin"], (admins, refused)
