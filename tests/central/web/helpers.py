"""What the Situational Center's tests share: a running screens server over a store, a
staff account, plain HTTP calls and a Chromium signed in by clicks."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

from edge.central import staff
from edge.central.web.config import CentralWebConfig
from edge.central.web.service import CentralWeb
from tests.browser import Chromium, start_chromium

NAME, PASSWORD = "aigerim", "correct horse battery"


def start_web(store: Any, tmp_path: Path, cfg: dict[str, Any] | None = None,
              **kwargs: Any) -> CentralWeb:
    doc = {"web": {"port": 0, "refresh_s": 0.3, "sessions": str(tmp_path / "sessions.db")},
           **(cfg or {})}
    web = CentralWeb(store, CentralWebConfig.model_validate(doc), **kwargs)
    web.start()
    assert web.wait_serving(10), web.health()
    staff.add(store, NAME, "viewer", PASSWORD)
    return web


def call(web: CentralWeb, method: str, path: str, body: Any = None, *,
         headers: dict[str, str] | None = None, cookie: str | None = None
         ) -> tuple[int, dict[str, str], bytes]:
    host, port = web.web.address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    h = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    if cookie:
        h["Cookie"] = cookie
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    conn.close()
    return out


def sign_in(web: CentralWeb, password: str = PASSWORD, name: str = NAME
            ) -> tuple[int, str | None]:
    status, headers, _ = call(web, "POST", "/login",
                              {"name": name, "password": password, "lang": "en"})
    cookie = headers.get("set-cookie")
    return status, cookie.split(";")[0] if cookie else None


def browser_signed_in(web: CentralWeb, tmp_path: Path, name: str = NAME,
                      password: str = PASSWORD, b: Chromium | None = None) -> Chromium:
    """Chromium (`b`, else a new one) on /login, signed in by typing and clicking, on the
    country screen."""
    b = b or start_chromium(tmp_path / "chromium")
    b.goto(web.url + "login")
    b.wait_for("location.pathname === '/login' && document.body.dataset.ready === '1'")
    b.eval(f"document.getElementById('name').value = {json.dumps(name)};"
           f"document.getElementById('password').value = {json.dumps(password)};"
           "document.querySelector('[data-lang=en]').click();"
           "document.getElementById('submit').click()")
    b.wait_for("location.pathname === '/' && document.getElementById('country') !== null")
    return b
