"""The admin's accounts screen in a real headless Chromium: an admin adds an account by
typing and clicking (a refused password said in the reader's language), the new account
signs in and, as a viewer, sees no accounts link and gets "admins only" on /accounts,
then sets her own password; removing takes two clicks and one's own account cannot be
removed."""

from __future__ import annotations

import json
from pathlib import Path

from edge.central import staff
from edge.central.store import EventStore
from tests.browser import Chromium
from tests.central.web.helpers import browser_signed_in, start_web

BOSS, BOSS_PW = "boss", "the boss's passphrase"
DANA_PW = "dana's long passphrase"


def fill(b: Chromium, values: dict[str, str], button: str = "acc-submit") -> None:
    js = "".join(f"document.getElementById({json.dumps(k)}).value = {json.dumps(v)};"
                 for k, v in values.items())
    b.eval(js + f"document.getElementById({json.dumps(button)}).click()")


def test_an_admin_adds_an_account_which_then_signs_in(store: EventStore,
                                                      tmp_path: Path) -> None:
    web = start_web(store, tmp_path)
    staff.add(store, BOSS, "admin", BOSS_PW)
    b = None
    try:
        b = browser_signed_in(web, tmp_path, BOSS, BOSS_PW)
        b.wait_for("!document.getElementById('nav-accounts').hidden")
        b.eval("document.getElementById('nav-accounts').click()")
        b.wait_for("location.pathname === '/accounts' && "
                   "document.querySelector('#accounts tr[data-name=boss]') !== null")
        # One's own account: neither removable nor demotable from here.
        assert b.eval("document.querySelector('#accounts tr[data-name=boss] button.rm')"
                      ".disabled") is True
        assert b.eval("document.querySelector('#accounts tr[data-name=boss] select.role')"
                      ".disabled") is True
        fill(b, {"acc-name": "dana", "acc-role": "viewer", "acc-password": "short"})
        b.wait_for("document.getElementById('acc-msg').textContent === "
                   "'The password needs at least 10 characters'")
        b.eval("document.querySelector('[data-lang=ru]').click()")
        b.wait_for("document.querySelector('#accounts th').textContent === 'Имя'")
        fill(b, {"acc-name": "dana", "acc-role": "viewer", "acc-password": DANA_PW})
        b.wait_for("document.querySelector('#accounts tr[data-name=dana]') !== null")
        assert b.eval("document.getElementById('acc-msg').textContent") == "Сохранено"
        assert b.eval("document.querySelector('#accounts tr[data-name=dana] select.role')"
                      ".selectedOptions[0].textContent") == "наблюдатель"
        assert staff.verify(store, "dana", DANA_PW) == "viewer"
        assert "scrypt" not in str(b.eval("document.body.innerHTML"))

        # Dana signs in in the same browser: a viewer, no accounts link, refused there.
        b.eval("document.getElementById('logout').click()")
        b.wait_for("location.pathname === '/login'")
        browser_signed_in(web, tmp_path, "dana", DANA_PW, b=b)
        b.wait_for("document.getElementById('who').textContent.includes('viewer')")
        assert b.eval("document.getElementById('nav-accounts').hidden") is True
        b.goto(web.url + "accounts")
        b.wait_for("document.getElementById('acc-msg') !== null && "
                   "document.getElementById('acc-msg').textContent === "
                   "'Only an admin may open this page'")
        assert b.eval("document.getElementById('accounts')") is None

        # Dana sets her own password (her name in the header leads there), signs in anew.
        b.eval("document.getElementById('who').click()")
        b.wait_for("location.pathname === '/password' && "
                   "document.getElementById('pw-form') !== null")
        own = {"pw-current": DANA_PW, "pw-new": "dana's own passphrase",
               "pw-repeat": "dana's own passphrase!"}
        fill(b, own, "pw-submit")
        b.wait_for("document.getElementById('acc-msg').textContent === "
                   "'The new passwords differ'")
        fill(b, {**own, "pw-current": "not her password", "pw-repeat": own["pw-new"]},
             "pw-submit")
        b.wait_for("document.getElementById('acc-msg').textContent === "
                   "'The current password is wrong'")
        fill(b, {**own, "pw-repeat": own["pw-new"]}, "pw-submit")
        b.wait_for("location.pathname === '/login'")
        assert staff.verify(store, "dana", own["pw-new"]) == "viewer"
        browser_signed_in(web, tmp_path, "dana", own["pw-new"], b=b)

        # Back as the admin: removing Dana takes a second click.
        b.eval("fetch('/api/me').then(r => r.json()).then(m => fetch('/api/logout', "
               "{method: 'POST', headers: {'X-CSRF-Token': m.csrf}}))")
        browser_signed_in(web, tmp_path, BOSS, BOSS_PW, b=b)
        b.goto(web.url + "accounts")
        rm = "document.querySelector('#accounts tr[data-name=dana] button.rm')"
        b.wait_for(f"{rm} !== null")
        b.eval(f"{rm}.click()")
        b.wait_for(f"{rm}.textContent === 'Sure? Remove'")
        assert "dana" in staff.roles(store)
        b.eval(f"{rm}.click()")
        b.wait_for("document.querySelector('#accounts tr[data-name=dana]') === null")
        assert "dana" not in staff.roles(store)
    finally:
        if b is not None:
            b.close()
        web.stop()
