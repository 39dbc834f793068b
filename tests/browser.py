"""Headless Chromium driven over the DevTools protocol, for every web page's tests
(the hall screen, the kiosk page): clicks in a real browser, not only loads."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_until

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--mute-audio",
    "--hide-scrollbars", "--window-size=1920,1080", "--remote-debugging-port=0",
]


# DevTools' errors for an evaluation the page's navigation cut short.
NAVIGATING = ("Inspected target navigated or closed", "Execution context was destroyed",
              "Cannot find context with specified id")


class Chromium:
    """Headless Chromium driven over the DevTools protocol (one page)."""

    def __init__(self, exe: str, profile: Path) -> None:
        from websockets.sync.client import connect

        # Its log goes to a file: a pipe nobody reads would fill up and stall the browser.
        self.log_path = profile.parent / "chromium.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                      "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=self._log)
        port_file = profile / "DevToolsActivePort"
        try:
            wait_until(lambda: port_file.exists() and port_file.read_text().strip(), 30,
                       "Chromium's DevTools port")
        except AssertionError:
            self.proc.kill()
            self.proc.wait(5)
            self._log.close()
            err = self.log_path.read_text("utf-8", "replace")[-2000:]
            raise AssertionError(f"Chromium did not start: {err}") from None
        port = int(port_file.read_text().split()[0])
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list",
                                                    timeout=10).read())
        page = next(t for t in targets if t["type"] == "page")
        self.ws = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self._id = 0
        # A full-HD TV: the window size flag leaves room for browser chrome; this does not.
        self.send("Emulation.setDeviceMetricsOverride", width=1920, height=1080,
                  deviceScaleFactor=1, mobile=False)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        my_id = self._id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def eval(self, expression: str) -> Any:
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in res:
            raise AssertionError(f"page script failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        # While a page loads `document.body` may be null: that counts as "not yet".
        guarded = f"(() => {{ try {{ return ({expression}); }} catch (e) {{ return false; }} }})()"

        def poll() -> Any:
            try:
                return self.eval(guarded)
            except AssertionError as e:
                # A page that navigates (a sign-in's redirect, a link clicked) between two
                # polls drops the evaluation with a protocol error: not yet, ask again.
                if any(m in str(e) for m in NAVIGATING):
                    return False
                raise
        return wait_until(poll, timeout, expression)

    def screenshot(self) -> bytes:
        import base64
        return base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"])

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:  # noqa: BLE001 - it may already be gone; the kill below settles it
            pass
        self.ws.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()


def start_chromium(tmp_path: Path) -> Chromium:
    """A headless Chromium with a profile in `tmp_path`; fails the test when it is missing."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("Chromium is missing: the web pages are tested in a real browser; "
                    "install it with `apt-get install chromium`")
    tmp_path.mkdir(parents=True, exist_ok=True)
    return Chromium(exe, tmp_path / "chromium-profile")
