"""The operators' panel (issue 19): click to committed reply, to the hall screen's update,
to the panel's own live view, and the service's peak RSS with the panel on and off.

The real service (`kezek run` with config/demo.toml made runnable, bench/common.py) in a
child process, with [panel] on a free port and one operator whose PIN is hashed at the
cost `kezek operator-hash` uses. The bench is the browsers: the operator's PC signs in
over HTTP as edge/panel/static/panel.js does (cookie, CSRF token, same origin), takes
window 1 and keeps the panel's live stream open; the hall TV keeps the hall's stream open.

A click is the POST /api/action the button sends. Timed from just before the request:
- reply: the HTTP answer, sent once the command is committed (fsync) and applied;
- hall: the hall stream's `state` event that lists the called number at window 1;
- panel: the panel stream's `state` event that shows it as the window's visitor.
Each call-next is followed by a done (its reply timed too); tickets are issued and
printed beforehand on the console, so nothing else runs during the clicks.

Peak RSS (VmHWM, read once it stops growing) after the same queue work with the panel
off: the same config with `panel.enabled = false`, the calls made on the console.
"""

from __future__ import annotations

import http.client
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from bench.browser_like import EventStream, PanelClient
from bench.common import free_port, runnable_demo_config
from bench.startup import device_env, kezek_command, settled_peak_rss_kb
from edge.sim.stats import summary_ms
from edge.web.secrets import hash_secret

OPERATOR, PIN = "bench", "4821"
WINDOW = 1          # serves docs first
SERVICE = "docs"
WARMUP = 5          # first clicks: lazy imports and first-request set-up, not timed
HOST = "127.0.0.1"


def _config(dir_: Path, panel: bool, secret: str) -> tuple[Path, dict[str, int], list[str]]:
    """The runnable demo config with the panel on or off and one operator; its ports."""
    ports: dict[str, int] = {}

    def edit(data: dict[str, Any]) -> None:
        ports["hall"] = int(data["hall"]["port"])
        ports["panel"] = free_port()
        # Clicks come faster than a person's: the PC's request rate is raised to the most
        # the config allows, so that the rate limit never answers a click (429).
        data["panel"] = {"enabled": panel, "bind": HOST, "port": ports["panel"],
                         "rate_per_s": 100.0, "burst": 200}
        data["operators"] = [{"id": OPERATOR, "name": "Bench Operator", "secret": secret}]

    dir_.mkdir(parents=True, exist_ok=True)
    path, changes = runnable_demo_config(dir_, edit)
    changes = changes + [f"panel.enabled = {str(panel).lower()} on a free port, rate_per_s = "
                         "100, burst = 200; one operator (PIN hashed at the default cost)"]
    return path, ports, changes


class Service:
    """`kezek run` in a child process, driven through its console (stdin/stdout)."""

    def __init__(self, dir_: Path, config: Path, env: dict[str, str]) -> None:
        self.stderr = (dir_ / "stderr.log").open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            kezek_command() + ["run", "--config", str(config), "--state-dir",
                               str(dir_ / "state"), "--log-level", "WARNING"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True,
            env=env)
        self.errors_path = dir_ / "stderr.log"

    def say(self, lines: list[str]) -> list[str]:
        """Send console lines ending with `status`; the answers through its END."""
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        stdin.write("\n".join(lines + ["status"]) + "\n")
        stdin.flush()
        return _through_end(stdout, self)

    def until_printed(self, timeout: float = 120.0) -> None:
        """Until no ticket waits for its paper (an unprinted ticket is out of the line)."""
        deadline = time.monotonic() + timeout
        while any("NOT PRINTED" in line for line in self.say([])):
            if time.monotonic() > deadline:
                raise RuntimeError("the demo printer did not print the tickets in time")
            time.sleep(0.1)

    def memory_kb(self) -> dict[str, int]:
        status = Path(f"/proc/{self.proc.pid}/status").read_text().splitlines()
        return {k: int(line.split()[1]) for line in status for k in ("VmRSS", "VmHWM")
                if line.startswith(k + ":")}

    def stop(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(20)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.stderr.close()

    def failure(self) -> str:
        return self.errors_path.read_text(encoding="utf-8", errors="replace")[-800:]


def _through_end(out: IO[str], service: Service) -> list[str]:
    lines: list[str] = []
    while True:
        line = out.readline()
        if not line:
            raise RuntimeError(f"kezek run ended: {service.failure()}")
        lines.append(line.rstrip("\n"))
        if line.strip() == "END":
            return lines


def _wait_http(port: int, timeout: float = 30.0) -> None:
    """Until the web server on `port` answers /healthz (it starts on its own thread)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing answers on port {port}")
        time.sleep(0.05)


def _mb(kb: int) -> float:
    return round(kb / 1024, 1)


def _clicks(pc: PanelClient, hall: EventStream, panel: EventStream, clicks: int
            ) -> dict[str, list[int]]:
    """`clicks` call-next + done pairs at the window; the samples in ns."""
    out: dict[str, list[int]] = {"reply": [], "hall": [], "panel": [], "done_reply": []}
    for i in range(clicks + WARMUP):
        h0, p0 = hall.mark(), panel.mark()
        t0 = time.perf_counter_ns()
        status, body = pc.request("/api/action", {"action": "call_next"})
        t1 = time.perf_counter_ns()
        if status != 200 or not body.get("ticket"):
            raise RuntimeError(f"call_next refused ({status}): {body}")
        label = body["ticket"]
        th = hall.wait_for(h0, lambda s: any(c.get("ticket") == label and c.get("window") == WINDOW
                                             for c in s.get("calls", [])))
        tp = panel.wait_for(p0, lambda s: (s.get("current") or {}).get("ticket") == label)
        p1 = panel.mark()
        t2 = time.perf_counter_ns()
        status, body = pc.request("/api/action", {"action": "done"})
        t3 = time.perf_counter_ns()
        if status != 200:
            raise RuntimeError(f"done refused ({status}): {body}")
        # The panel shows the window empty again before the next click starts.
        panel.wait_for(p1, lambda s: s.get("current") is None)
        if i >= WARMUP:
            out["reply"].append(t1 - t0)
            out["hall"].append(th - t0)
            out["panel"].append(tp - t0)
            out["done_reply"].append(t3 - t2)
    return out


def _session(dir_: Path, panel_on: bool, clicks: int, secret: str,
             env: dict[str, str]) -> dict[str, Any]:
    """One `kezek run`: tickets, the calls (panel or console), memory at each step."""
    config, ports, changes = _config(dir_, panel_on, secret)
    # A restart of an installed device, as bench/startup.py measures: the first start
    # into this state dir (it builds python-escpos's capability cache) is not measured.
    Service(dir_, config, env).stop()
    service = Service(dir_, config, env)
    streams: list[EventStream] = []
    pc: PanelClient | None = None
    out: dict[str, Any] = {"config_changes": changes}
    try:
        service.say([])
        _wait_http(ports["hall"])
        hall = EventStream(HOST, ports["hall"])
        streams.append(hall)
        out["ready"] = service.memory_kb()
        service.say([f"ticket {SERVICE}"] * (clicks + WARMUP))
        service.until_printed()
        out["tickets_printed"] = service.memory_kb()
        if panel_on:
            _wait_http(ports["panel"])
            pc = PanelClient(HOST, ports["panel"])
            t0 = time.perf_counter_ns()
            pc.sign_in(OPERATOR, PIN, WINDOW)
            out["sign_in_ms"] = round((time.perf_counter_ns() - t0) / 1e6, 1)
            out["signed_in"] = service.memory_kb()
            live = EventStream(HOST, ports["panel"], cookie=pc.cookie_header())
            streams.append(live)
            samples = _clicks(pc, hall, live, clicks)
            out.update({k: summary_ms(v) for k, v in samples.items()})
        else:
            answers = service.say([f"{cmd} {WINDOW}" for _ in range(clicks + WARMUP)
                                   for cmd in ("call", "done")])
            errors = [a for a in answers if a.startswith("ERROR")]
            if errors:
                raise RuntimeError(f"console refused: {errors[:3]}")
        out["after_work"] = service.memory_kb()
        out["peak_rss_mb"] = _mb(settled_peak_rss_kb(service.proc.pid))
        for key in ("ready", "tickets_printed", "signed_in", "after_work"):
            if key in out:
                out[key] = {k: _mb(v) for k, v in out[key].items()}
    finally:
        for s in streams:
            s.close()
        if pc is not None:
            pc.close()
        service.stop()
    return out


def run(work_dir: Path, clicks: int) -> dict[str, Any]:
    """The panel on (timed clicks, RSS), then off (RSS after the same queue work)."""
    secret = hash_secret(PIN)   # the default cost, as `kezek operator-hash` makes it
    env = device_env(Path(tempfile.mkdtemp(prefix="kezek-bench-bytecode-", dir=work_dir)))
    on = _session(work_dir / "panel-on", True, clicks, secret, env)
    off = _session(work_dir / "panel-off", False, clicks, secret, env)
    return {"clicks": clicks, "warmup_clicks": WARMUP, "window": WINDOW,
            "call_next_reply": on["reply"], "call_next_hall": on["hall"],
            "call_next_panel": on["panel"], "done_reply": on["done_reply"],
            "sign_in_ms": on["sign_in_ms"],
            "peak_rss_mb": {"panel_on": on["peak_rss_mb"], "panel_off": off["peak_rss_mb"]},
            "memory_mb": {"panel_on": {k: on[k] for k in ("ready", "tickets_printed",
                                                          "signed_in", "after_work")},
                          "panel_off": {k: off[k] for k in ("ready", "tickets_printed",
                                                            "after_work")}},
            "config_changes": on["config_changes"]}
