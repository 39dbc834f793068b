"""The hall server over plain HTTP: read-only, safe headers, SSE full state, limits."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import socket
import threading
import time
import zoneinfo

import pytest

from edge.errors import ConfigError
from edge.queue.commands import CallNext, IssueTicket


def request(hall, method: str, path: str, body: bytes | None = None):
    host, port = hall.address
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request(method, path, body=body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


class Stream:
    """A raw SSE client: reads events as (event, id, data) from one connection."""

    def __init__(self, hall) -> None:
        host, port = hall.address
        self.conn = http.client.HTTPConnection(host, port, timeout=5)
        self.conn.request("GET", "/events")
        self.resp = self.conn.getresponse()
        self.retry: int | None = None

    def next_event(self, kind: str = "state") -> tuple[str | None, dict]:
        fields: dict[str, str] = {}
        while True:
            line = self.resp.fp.readline().decode("utf-8")
            if line == "":
                raise EOFError("stream closed")
            line = line.rstrip("\n")
            if line == "":
                if fields.get("event") == kind:
                    return fields.get("id"), json.loads(fields["data"])
                fields = {}
                continue
            name, _, value = line.partition(": ")
            if name == "retry":
                self.retry = int(value)
            fields[name] = value

    def close(self) -> None:
        self.resp.close()  # the response holds the socket open too
        self.conn.close()


def test_page_and_assets_are_local_and_carry_safe_headers(make_hall):
    """Risk: the TV loads scripts from the internet (dead offline) or the page is framed."""
    hall = make_hall()
    resp, page = request(hall, "GET", "/")
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/html; charset=utf-8"
    csp = resp.getheader("Content-Security-Policy")
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert resp.getheader("X-Content-Type-Options") == "nosniff"
    assert resp.getheader("X-Frame-Options") == "DENY"
    assert resp.getheader("Server") == "kezek-hall"
    html = page.decode("utf-8")
    assert "http://" not in html and "https://" not in html  # no CDN, no remote fonts
    for asset in ("/hall.js", "/hall.css"):
        resp, body = request(hall, "GET", asset)
        assert resp.status == 200 and body
        assert b"http://" not in body and b"https://" not in body
    resp, _ = request(hall, "GET", "/../../etc/passwd")
    assert resp.status == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_page_is_read_only(harness, make_hall, method):
    """Risk: someone on the LAN changes the queue through the hall screen."""
    harness.call(IssueTicket("docs"))
    before = harness.controller.snapshot
    hall = make_hall()
    for path in ("/", "/events", "/state.json"):
        resp, _ = request(hall, method, path, body=b'{"cmd":"call","window":1}')
        assert resp.status == 405
        assert resp.getheader("Allow") == "GET, HEAD"
    assert harness.controller.snapshot == before


def test_state_has_no_personal_data_and_uses_configured_names(harness, make_hall):
    """Risk: the public screen leaks more than tickets, windows and counts."""
    harness.call(IssueTicket("docs"))
    harness.call(CallNext(1))
    hall = make_hall()
    _, body = request(hall, "GET", "/state.json")
    state = json.loads(body)
    assert set(state) == {"v", "day", "languages", "center", "labels", "rows", "keepalive_ms",
                          "calls", "windows", "show_waiting", "services", "waiting_total"}
    label_1 = next(w.label for w in harness.config.windows if w.number == 1)
    assert {"number": 1, "label": label_1, "paused": False,
            "ticket": "A-001"} in state["windows"]
    assert all(set(w) == {"number", "label", "paused", "ticket"} for w in state["windows"])
    assert state["center"] == {"kk": harness.config.center.name.kk,
                               "ru": harness.config.center.name.ru}
    docs = next(s for s in state["services"] if s["id"] == "docs")
    assert docs["names"] == {"kk": harness.config.service("docs").names.kk,
                             "ru": harness.config.service("docs").names.ru}
    assert set(state["calls"][0]) == {"ticket", "window", "service", "recall", "fresh", "newest"}
    # Calls made before the page started are listed but not flashed as new.
    assert state["calls"][0]["ticket"] == "A-001" and state["calls"][0]["fresh"] is False


def test_every_connection_starts_with_the_full_state(harness, make_hall):
    """Risk: a TV that reconnects shows an empty or partial board until the next call."""
    hall = make_hall()
    first = Stream(hall)
    assert first.resp.getheader("Content-Type") == "text/event-stream; charset=utf-8"
    _, state = first.next_event()
    assert state["calls"] == []
    assert first.retry == 500  # the browser's reconnect delay comes from the config
    harness.call(IssueTicket("docs"))
    harness.call(CallNext(1))
    while True:  # the ticket and the call may come as one or two updates
        _, state = first.next_event()
        if state["calls"]:
            break
    assert state["calls"][0]["ticket"] == "A-001" and state["calls"][0]["fresh"]
    first.close()
    second = Stream(hall)  # a reconnect: everything at once, before any new change
    _, again = second.next_event()
    assert again["calls"] == state["calls"]
    assert again["services"] == state["services"]
    second.close()


def test_quiet_stream_sends_pings_and_server_stop_ends_it(harness, make_hall):
    """Risk: a dead TV connection is never noticed, or stop() hangs on open streams."""
    hall = make_hall(keepalive_s=1.0)
    stream = Stream(hall)
    stream.next_event("state")
    # A new screen gets the time at once, then with every ping: the controller's clock
    # and the center's UTC offset, for the page's clock.
    for _ in range(2):
        _, ping = stream.next_event("ping")
        assert ping["now_ms"] == harness.clock.wall_ms
        offset = dt.datetime.fromtimestamp(
            harness.clock.wall_ms / 1000,
            zoneinfo.ZoneInfo(harness.config.center.timezone)).utcoffset()
        assert ping["utc_offset_min"] == offset.total_seconds() // 60
    done = threading.Event()

    def read_to_end() -> None:
        try:
            while True:
                stream.next_event("never")
        except (EOFError, OSError):
            done.set()

    t = threading.Thread(target=read_to_end, name="test-sse-reader", daemon=True)
    t.start()
    hall.stop(2.0)
    assert done.wait(5), "the stream was not closed by stop()"
    stream.close()


def test_screens_beyond_the_limit_are_refused_and_retry(make_hall):
    """Risk: many browsers (or a scanner) exhaust the Pi's threads."""
    hall = make_hall(max_clients=2)
    streams = [Stream(hall) for _ in range(2)]
    for s in streams:
        s.next_event()
    resp, body = request(hall, "GET", "/events")
    assert resp.status == 503 and resp.getheader("Retry-After") == "1"
    streams[0].close()
    # Once a screen leaves, its slot is free again (noticed at the next ping's write).
    for _ in range(100):
        extra = Stream(hall)
        if extra.resp.status == 200:
            break
        extra.resp.read()
        extra.close()
        time.sleep(0.1)
    assert extra.resp.status == 200
    extra.close()
    streams[1].close()


def test_port_in_use_is_an_alarm_and_the_hall_comes_up_once_it_is_free(harness):
    """Risk: another program holding the hall's port stopped the whole service (kezek run
    exited 78, which the unit does not restart): the center issued no tickets for a TV.
    Now the queue goes on, the alarm names the key and the fix, and the hall serves as
    soon as the port is free."""
    from edge.backoff import Backoff
    from edge.config.hall import HallConfig
    from edge.hall.server import HallServer

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    server = HallServer(HallConfig(enabled=True, bind="127.0.0.1", port=port),
                        harness.controller, harness.config.center.name.as_dict(),
                        harness.clock, harness.config.center.timezone)
    server.web.backoff = Backoff(0.05, 0.2)
    try:
        server.start()
        alarm = wait_for(lambda: harness.engine.state.alarms.get("device:hall"), "the hall's alarm")
        text = json.dumps(alarm, ensure_ascii=False)
        assert f"hall.port: cannot listen on 127.0.0.1:{port}" in text
        assert "choose a free port in hall.port" in text
        assert harness.call(IssueTicket("docs")).reply.ticket is not None  # the queue goes on
        assert not server.health()["ok"] and "hall.port" in server.health()["problem"]
        blocker.close()
        assert server.wait_serving(30), server.health()
        wait_for(lambda: "device:hall" not in harness.engine.state.alarms, "the alarm to clear")
        resp, _ = request(server, "GET", "/healthz")
        assert resp.status == 200
    finally:
        blocker.close()
        server.stop(2.0)


def wait_for(check, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def test_privileged_port_is_refused_by_the_config_and_at_start() -> None:
    """Risk: hall.port = 80 passes check-config, then the service (no capabilities) fails
    to start with advice about hall.bind, which cannot fix it."""
    import os
    import shutil
    import subprocess
    import sys

    from pydantic import ValidationError

    from edge.config.hall import HallConfig

    with pytest.raises(ValidationError) as err:
        HallConfig(enabled=True, port=80)
    assert "use a port of 1024 or more" in str(err.value)
    assert HallConfig(port=1024).port == 1024 and HallConfig(port=0).port == 0

    # At start, a port the kernel keeps for root (a sysctl can raise the limit) gives the
    # same advice in the alarm. Run as the service does: without CAP_NET_BIND_SERVICE.
    script = ("import threading, types\n"
              "from edge.config.hall import HallConfig\n"
              "from edge.hall.server import HallServer\n"
              "told = threading.Event()\n"
              "def submit(cmd):\n"
              "    print(cmd.detail, flush=True); told.set()\n"
              "ctl = types.SimpleNamespace(submit=submit, subscribe=lambda f: None,\n"
              "    snapshot=types.SimpleNamespace(recent_calls=()))\n"
              "cfg = HallConfig.model_construct(**{**HallConfig().model_dump(), "
              "'enabled': True, 'bind': '127.0.0.1', 'port': 81})\n"
              "h = HallServer(cfg, ctl, {'kk': 'a', 'ru': 'b'}, None, 'Asia/Almaty')\n"
              "h._publish = lambda now: None\n"
              "h.start(); assert told.wait(60); h.stop(2)\n")
    argv = [sys.executable, "-c", script]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot drop CAP_NET_BIND_SERVICE")
        argv = ["setpriv", "--inh-caps=-net_bind_service",
                "--bounding-set=-net_bind_service", *argv]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, run.stderr
    assert "hall.port: cannot listen on 127.0.0.1:81: Permission denied" in run.stdout
    assert "use a port of 1024 or more in hall.port" in run.stdout
    assert "hall.bind" not in run.stdout


def test_page_loads_close_their_connection_so_idle_browsers_hold_no_slots(make_hall):
    """Risk: TVs switched on together keep idle keep-alive connections, every slot is taken
    and the next TV's script load is refused: that screen stays blank."""
    hall = make_hall(max_clients=1)           # 1 + 8 connection slots
    host, port = hall.address
    idle = []
    try:
        for _ in range(20):                   # more than all the slots, none closed by us
            conn = http.client.HTTPConnection(host, port, timeout=5)
            conn.request("GET", "/hall.js")
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read()
            assert resp.getheader("Connection") == "close"
            idle.append(conn)
        resp, _ = request(hall, "GET", "/hall.css")
        assert resp.status == 200
    finally:
        for conn in idle:
            conn.close()


def _client_from(address: str, hall) -> socket.socket:
    """A TCP connection to the hall from another loopback address (another machine)."""
    s = socket.socket()
    s.settimeout(5)
    s.bind((address, 0))
    s.connect(hall.address)
    return s


def _get(address: str, hall, path: str) -> bytes:
    with _client_from(address, hall) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: hall\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def test_one_slow_client_cannot_take_the_tvs_slots(make_hall):
    """Risk: a client that opens connections and sends its request a byte at a time
    (slowloris; or a broken TV) held every connection slot: the 20 s timeout is per read,
    so it never fired, and every other TV got its connection closed at once -- no page,
    no stream reconnect -- for as long as that client went on."""
    hall = make_hall(max_clients=1)                # 1 + 8 connection slots
    slow = []
    try:
        for _ in range(20):                        # more than every slot
            try:
                s = _client_from("127.0.0.1", hall)
                s.sendall(b"GET / HTTP/1.1\r\n")
                slow.append(s)
            except OSError:
                pass
        time.sleep(0.3)
        for s in slow:                             # still "sending": a header byte
            try:
                s.sendall(b"X")
            except OSError:
                pass
        # Another machine (a TV) still loads its page and opens its stream.
        page = _get("127.0.0.2", hall, "/hall.js")
        assert page.startswith(b"HTTP/1.1 200"), page[:80]
        tv = _client_from("127.0.0.2", hall)
        tv.sendall(b"GET /events HTTP/1.1\r\nHost: hall\r\n\r\n")
        assert tv.recv(4096).startswith(b"HTTP/1.1 200")
        tv.close()
        # The slow client's connections are cut once their head is overdue, not 20 s later
        # and not never.
        deadline = time.monotonic() + 10
        open_ones = list(slow)
        while open_ones and time.monotonic() < deadline:
            for s in list(open_ones):
                try:
                    s.settimeout(0.05)
                    if s.recv(1) == b"":
                        open_ones.remove(s)
                except socket.timeout:
                    pass
                except OSError:
                    open_ones.remove(s)
        assert not open_ones, f"{len(open_ones)} slow connections still open"
        assert hall.health()["slow_requests_cut"] >= 1
    finally:
        for s in slow:
            s.close()
