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
from tests.sync.conftest import free_port


def _get(url: str) -> int:
    try:
        return int(urllib.request.urlopen(url, timeout=2).status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except OSError:
        return 0


def test_kezek_central_run_serves_the_screens_when_asked(broker: Any, tmp_path: Path) -> None:
    web_port = free_port()
    config = tmp_path / "web.toml"
    config.write_text(f'[web]\nsessions = "{tmp_path / "s.db"}"\n'
                      '[standards.auto]\nvisit_sla_min = 120\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "central", "run", "--no-tls", "--host", "127.0.0.1",
         "--port", str(broker.port), "--db", str(tmp_path / "central.db"), "--summary-every",
         "0", "--web-port", str(web_port), "--web-config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})
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
