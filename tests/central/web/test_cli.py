"""`kezek central run --web-port` serves the screens beside the store; off without it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import wait_until
from tests.sync.conftest import EdgeRig, free_port, make_config


def _get(url: str) -> int:
    try:
        return int(urllib.request.urlopen(url, timeout=2).status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except OSError:
        return 0


def _central_run(broker: Any, tmp_path: Path, web_port: int, config: Path
                 ) -> "subprocess.Popen[bytes]":
    """`kezek central run` with its screens on `web_port`, as an installed central runs."""
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "central", "run", "--no-tls", "--host", "127.0.0.1",
         "--port", str(broker.port), "--db", str(tmp_path / "central.db"), "--summary-every",
         "0", "--web-port", str(web_port), "--web-config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})


def test_kezek_central_run_serves_the_screens_when_asked(broker: Any, tmp_path: Path) -> None:
    web_port = free_port()
    config = tmp_path / "web.toml"
    config.write_text(f'[web]\nsessions = "{tmp_path / "s.db"}"\n'
                      '[standards.auto]\nvisit_sla_min = 120\n')
    proc = _central_run(broker, tmp_path, web_port, config)
    try:
        wait_until(lambda: _get(f"http://127.0.0.1:{web_port}/healthz") == 200, 30,
                   "the screens' /healthz")
        assert _get(f"http://127.0.0.1:{web_port}/api/me") == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]


def test_a_bad_web_config_stops_run_with_the_key(broker: Any, tmp_path: Path) -> None:
    config = tmp_path / "web.toml"
    config.write_text('[standards.auto]\nvisit_sla_min = "2h"\n')
    r = subprocess.run(
        [sys.executable, "-m", "edge.cli", "central", "run", "--no-tls", "--host", "127.0.0.1",
         "--port", str(broker.port), "--db", str(tmp_path / "central.db"), "--summary-every",
         "0", "--web-config", str(config)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "standards.auto.visit_sla_min" in r.stderr, r.stderr


def test_the_visitors_ticket_page_is_served_beside_the_screens(broker: Any, tmp_path: Path,
                                                               edges: list[EdgeRig]) -> None:
    """Risk: the QR on every ticket points at a page `kezek central run` does not serve, or
    one that does not follow what the same process stores, or shows the service's id."""
    import json

    from edge.queue.commands import IssueTicket
    web_port = free_port()
    config = tmp_path / "web.toml"
    config.write_text(f'[web]\nsessions = "{tmp_path / "s.db"}"\n'
                      '[services.docs]\nkk = "Жеке куәлік"\nru = "Удостоверения"\n')
    proc = _central_run(broker, tmp_path, web_port, config)
    try:
        base = f"http://127.0.0.1:{web_port}"
        wait_until(lambda: _get(f"{base}/healthz") == 200, 30, "the screens' /healthz")
        edge = EdgeRig(make_config(broker.port), tmp_path / "edge")
        edges.append(edge)
        ticket = edge.app.controller.call(IssueTicket("docs")).reply.ticket
        assert ticket is not None and ticket.token
        state = f"{base}/t/{ticket.token}/state.json"
        wait_until(lambda: _get(state) == 200, 60, "central to store the ticket")
        with urllib.request.urlopen(state, timeout=10) as r:
            view = json.loads(r.read())
        assert view["ticket"] == ticket.label and view["service_names"]["kk"] == "Жеке куәлік"
        assert _get(f"{base}/t/{ticket.token}") == 200              # the page itself: public
        assert _get(f"{base}/t/{'x' * 22}/state.json") == 404        # a forged token
        assert _get(f"{base}/api/me") == 401                          # the staff's: not public
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
