"""Staff authentication of the Situational Center: every staff page and API refuses a
visitor without a session, wrong passwords lock the account, a POST without its CSRF
token is refused, accounts are kept as scrypt hashes by `kezek central staff`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from edge.central import staff
from edge.central.store import EventStore
from edge.central.web.config import load_web_config
from tests.central.web.helpers import NAME, PASSWORD, call, sign_in, start_web

STAFF_PATHS = ["/", "/center/ast-01", "/overdue", "/reports", "/accounts", "/password"]
STAFF_APIS = ["/api/me", "/api/events", "/api/overdue/events", "/api/center/ast-01/events",
              "/api/report.json", "/api/report.csv", "/api/center/ast-01/report.csv",
              "/api/names", "/api/accounts"]


@pytest.fixture
def web(store: EventStore, tmp_path: Path) -> Iterator[Any]:
    w = start_web(store, tmp_path)
    yield w
    w.stop()


def test_staff_pages_refuse_a_visitor_without_a_session(web: Any) -> None:
    """Risk: a screen or its data (a country's figures) is readable without signing in."""
    for path in STAFF_PATHS:
        status, headers, _ = call(web, "GET", path)
        assert (status, headers.get("location")) == (303, "/login"), path
    for path in STAFF_APIS:
        status, _, body = call(web, "GET", path)
        assert status == 401 and b"sign in" in body, path
    for path in STAFF_APIS:
        status, _, _ = call(web, "GET", path, cookie="kezek_central=forged-token")
        assert status == 401, path
    assert call(web, "GET", "/login")[0] == 200
    status, cookie = sign_in(web)
    assert status == 200 and cookie
    status, _, body = call(web, "GET", "/api/me", cookie=cookie)
    assert status == 200 and b'"aigerim"' in body and b"secret" not in body
    for path in STAFF_PATHS:
        assert call(web, "GET", path, cookie=cookie)[0] == 200, path


def test_the_session_cookie_is_httponly_and_samesite(web: Any) -> None:
    status, headers, _ = call(web, "POST", "/login",
                              {"name": NAME, "password": PASSWORD, "lang": "kk"})
    assert status == 200
    cookie = headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie


def test_wrong_passwords_lock_the_account(web: Any) -> None:
    """Risk: a password is guessed by trying many."""
    for _ in range(4):
        assert sign_in(web, "wrong password!")[0] == 401
    status, _ = sign_in(web, "wrong password!")
    assert status == 429
    status, cookie = sign_in(web)        # even the right one, while locked
    assert status == 429 and cookie is None
    status, headers, body = call(web, "POST", "/login",
                                 {"name": NAME, "password": PASSWORD, "lang": "kk"})
    assert status == 429 and int(headers["retry-after"]) > 0 and b"locked" in body


def test_a_post_without_its_csrf_token_is_refused(web: Any) -> None:
    """Risk: another site's page makes a signed-in browser change something."""
    _, cookie = sign_in(web)
    assert cookie
    for path, body in (("/api/logout", {}), ("/api/lang", {"lang": "ru"})):
        status, _, text = call(web, "POST", path, body, cookie=cookie)
        assert status == 403 and b"CSRF" in text, path
        status, _, _ = call(web, "POST", path, body, cookie=cookie,
                            headers={"X-CSRF-Token": "guessed"})
        assert status == 403, path
    # The sign-in takes JSON only: a plain form from another site cannot post it.
    status, _, _ = call(web, "POST", "/login", b"name=aigerim&password=x",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415
    _, _, me = call(web, "GET", "/api/me", cookie=cookie)
    csrf = json.loads(me)["csrf"]
    status, _, _ = call(web, "POST", "/api/logout", {}, cookie=cookie,
                        headers={"X-CSRF-Token": csrf})
    assert status == 200
    assert call(web, "GET", "/api/me", cookie=cookie)[0] == 401


def test_staff_accounts_are_scrypt_hashes_and_roles(store: EventStore) -> None:
    assert staff.add(store, "berik", "viewer", "a long passphrase")
    assert not staff.add(store, "berik", "admin", "another passphrase")
    with store._read() as tx:
        secret = tx.rows("SELECT secret FROM staff WHERE name='berik'")[0][0]
    assert secret.startswith("scrypt$") and "passphrase" not in secret
    assert staff.verify(store, "berik", "another passphrase") == "admin"
    assert staff.verify(store, "berik", "a long passphrase") is None
    assert staff.verify(store, "nobody", "a long passphrase") is None
    assert [a["name"] for a in staff.accounts(store)] == ["berik"]
    for name, role, pw, says in (("Bad Name", "viewer", "x" * 12, "account name"),
                                 ("ok", "root", "x" * 12, "role 'root'"),
                                 ("ok", "viewer", "short", "at least 10")):
        with pytest.raises(staff.StaffError, match=says):
            staff.add(store, name, role, pw)
    # The last admin stays: neither removed nor made a viewer, until another admin exists.
    with pytest.raises(staff.StaffError, match="last admin"):
        staff.remove(store, "berik")
    with pytest.raises(staff.StaffError, match="last admin"):
        staff.set_role(store, "berik", "viewer")
    with pytest.raises(staff.StaffError, match="last admin"):
        staff.add(store, "berik", "viewer", "a third passphrase")
    staff.add(store, "dana", "admin", "dana's long passphrase")
    staff.set_role(store, "berik", "viewer")
    assert staff.roles(store) == {"berik": "viewer", "dana": "admin"}
    assert staff.remove(store, "berik") and not staff.remove(store, "berik")


def test_kezek_central_staff_reads_the_password_from_stdin(tmp_path: Path) -> None:
    db = str(tmp_path / "central.db")

    def kezek(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "edge.cli", "central", "staff", *args,
                               "--db", db], input=stdin, capture_output=True, text=True,
                              timeout=60)
    r = kezek("add", "dana", "--role", "admin", stdin="a good long password\n")
    assert r.returncode == 0, r.stderr
    assert "a good long password" not in r.stdout + r.stderr
    assert kezek("list").stdout.split() == ["dana", "admin"]
    r = kezek("add", "dana", stdin="short\n")
    assert r.returncode == 2 and "at least 10" in r.stderr
    # The last admin stays (the team would have nobody to manage accounts from the web).
    r = kezek("remove", "dana")
    assert r.returncode == 2 and "last admin" in r.stderr
    assert kezek("role", "dana", "viewer").returncode == 2
    assert kezek("add", "erlan", stdin="erlan's long password\n").returncode == 0
    r = kezek("role", "erlan", "admin")
    assert r.returncode == 0 and "now admin" in r.stdout, r.stderr
    assert kezek("role", "nobody", "admin").returncode == 1
    assert kezek("remove", "dana").returncode == 0
    assert kezek("remove", "dana").returncode == 1
    assert kezek("list").stdout.split() == ["erlan", "admin"]


def test_the_web_config_is_strict_and_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "web.toml"
    path.write_text('[standards.auto]\nvisit_sla_min = "120"\n')
    with pytest.raises(ValueError, match=r"standards\.auto\.visit_sla_min"):
        load_web_config(path)
    path.write_text('[web]\nport = 8480\ncolour = "red"\n')
    with pytest.raises(ValueError, match=r"web\.colour"):
        load_web_config(path)
    path.write_text('[standards.auto]\nvisit_sla_min = 120\n[sites.ast-01]\nregion = "Астана"\n')
    cfg = load_web_config(path)
    assert cfg.standards["auto"].visit_sla_min == 120 and cfg.sites["ast-01"].region == "Астана"


def test_a_migration_merged_from_a_parallel_branch_is_applied(tmp_path: Path) -> None:
    """Risk: staff accounts (4) landed on a database before the ticket page's migration 3
    was merged, and a database already at 4 never gets 3."""
    import sqlite3

    from edge.central.migrate import migrate
    from edge.central.sqlite_store import MIGRATIONS
    from edge.central.store import open_store
    path = tmp_path / "central.db"
    open_store(path).close()
    conn = sqlite3.connect(path)   # as a central of the staff branch left it: 4 but no 3
    conn.execute("DROP TABLE ticket_pages")
    conn.execute("DELETE FROM schema_version WHERE version = 3")
    conn.commit()
    conn.close()
    store = open_store(path)
    try:
        assert migrate(store, MIGRATIONS) == MIGRATIONS[-1].version
        with store._read() as tx:
            assert tx.rows("SELECT COUNT(*) FROM ticket_pages")[0][0] == 0
            assert 3 in {r[0] for r in tx.rows("SELECT version FROM schema_version")}
    finally:
        store.close()


def test_reports_download_as_csv_and_a_bad_day_is_named(web: Any, store: EventStore) -> None:
    _, cookie = sign_in(web)
    status, headers, body = call(web, "GET", "/api/report.csv?day=2026-12-02", cookie=cookie)
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert body.decode("utf-8-sig").splitlines()[0].startswith("site,issued,served")
    status, headers, body = call(web, "GET", "/api/center/ast-01/report.csv?day=2026-12-02",
                                 cookie=cookie)
    assert status == 200 and b"attachment" in headers["content-disposition"].encode()
    status, _, body = call(web, "GET", "/api/report.json?day=yesterday", cookie=cookie)
    assert status == 400 and b"YYYY-MM-DD" in body
