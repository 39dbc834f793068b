"""`kezek doctor`'s network probes: a login at the broker as the service makes it, the hall's port."""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from edge.config import AppConfig
from edge.system.doctor.check import Check
from edge.system.doctor.holders import tcp_listeners


def check_broker(config: AppConfig, timeout: float = 5.0) -> list[Check]:
    """A login as the service makes it: its own MQTT v5 client, TLS settings, client
    certificate and password (edge/sync/mqtt.py), with a client id of its own
    (`<site>-<device>-doctor`, so the service's session is not disturbed) and a clean
    start without session expiry, so the broker keeps nothing of it."""
    from edge.sync.mqtt import broker_settings, close_client, make_client

    sc = config.sync
    if not sc.enabled:
        return []
    where = f"{sc.host}:{sc.port}"
    label = "broker"
    try:
        settings = broker_settings(sc)
    except OSError as e:
        return [Check(label, False, f"cannot read the MQTT password: {e}",
                      "check sync.password_file, or set it in /etc/kezek/secrets.env")]
    settings = replace(settings, connect_timeout_s=min(timeout, sc.connect_timeout_s))
    try:
        client = make_client(settings, f"{config.center.site}-{config.center.device}-doctor",
                             manual_ack=False)
    except (OSError, ssl.SSLError, ValueError) as e:
        return [Check(label, False, f"cannot load the TLS files: {e}",
                      "check sync.ca_file / cert_file / key_file exist and are readable "
                      "by the service user")]
    answer: dict[str, Any] = {}
    client.on_connect = lambda _c, _u, _f, reason, _p: answer.setdefault("connack", reason)
    client.on_disconnect = lambda _c, _u, _f, reason, _p: answer.setdefault("lost", reason)
    try:
        try:
            client.connect(sc.host, sc.port, keepalive=max(5, int(timeout) + 1), clean_start=True)
        except socket.gaierror as e:
            return [Check(label, False, f"{where}: cannot resolve {sc.host}: {e.strerror}",
                          "check sync.host and the DNS settings (resolvectl status)")]
        except ssl.SSLCertVerificationError as e:
            return [Check(label, False, f"{where}: broker certificate not trusted: "
                                        f"{e.verify_message}",
                          "set sync.ca_file to the CA that signed the broker's certificate; "
                          "check the clock (a wrong date fails every certificate)")]
        except ssl.SSLError as e:
            return [Check(label, False, f"{where}: TLS handshake failed: {e}",
                          "is sync.port a TLS port (8883)? check the client certificate")]
        except OSError as e:
            return [Check(label, False, f"{where}: cannot connect: {e.strerror or e}",
                          "check the network cable, sync.host / sync.port and the firewall; "
                          "the queue keeps working offline meanwhile")]
        deadline = time.monotonic() + timeout
        while "connack" not in answer and "lost" not in answer and time.monotonic() < deadline:
            if client.loop(timeout=0.1) != 0:
                break
        reason = answer.get("connack")
        if reason is None:
            lost = answer.get("lost")
            got = f" (the connection ended: {lost})" if lost is not None else \
                f" in {timeout:g} s"
            return [Check(label, False, f"{where}: no MQTT answer{got}",
                          "is this port an MQTT broker? check sync.port and sync.tls")]
        if reason.is_failure:
            password = settings.password
            refused = f"{where}: broker refused the login: {str(reason).lower()}"
            if sc.username and password is None:
                # The usual cause when doctor runs as `sudo -u kezek`: the service gets the
                # password from secrets.env through systemd, and that file is root's alone.
                return [Check(label, False, f"{refused} (this doctor had no password: "
                                            f"{sc.password_env} is not set here)",
                              "the service reads it from /etc/kezek/secrets.env, which only root "
                              "can read; to test the login as the service does, run: sudo sh -c "
                              "'set -a; . /etc/kezek/secrets.env; exec setpriv --reuid=kezek "
                              "--regid=kezek --init-groups /opt/kezek/venv/bin/kezek doctor "
                              "--config /etc/kezek/kezek.toml'")]
            return [Check(label, False, refused,
                          "check sync.username and the password in /etc/kezek/secrets.env "
                          "(or the client certificate)")]
        return [Check(label, True, f"{where}: {'TLS, ' if sc.tls else 'no TLS, '}MQTT 5, "
                                   f"login accepted")]
    finally:
        close_client(client)


def check_hall(config: AppConfig, proc: Path = Path("/proc")) -> list[Check]:
    """The hall page's port can be listened on (or the running service already serves it)."""
    cfg = config.hall
    if not cfg.enabled or cfg.port == 0:
        return []
    import errno

    from edge.web.ports import listen_problem, served_by_kezek, try_listen
    where = f"{cfg.bind}:{cfg.port}"
    error = try_listen(cfg.bind, cfg.port)
    if error is None:
        return [Check("hall port", True, f"{where} free")]
    if error.errno == errno.EADDRINUSE and served_by_kezek(cfg.bind, cfg.port):
        return [Check("hall port", True, f"{where}: the hall screen of a running kezek answers")]
    problem, fix = listen_problem(cfg.bind, cfg.port, error)
    holders = tcp_listeners(cfg.port, proc) if error.errno == errno.EADDRINUSE else []
    if holders:
        problem += f" (held by {', '.join(holders)})"
    return [Check("hall port", False, problem, fix)]
