"""TLS with client certificates, as in production: the broker requires a certificate."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.sync.conftest import (Broker, CentralRig, EdgeRig, assert_exactly_once, free_port,
                                 make_config, wait_for)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_pki(d: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate with CN edge-1."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=kezek-test-ca", cwd=d)
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n", encoding="ascii")
    for name, cn in (("server", "127.0.0.1"), ("edge", "edge-1")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                 f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
        extra = ["-extfile", "san.cnf"] if name == "server" else []
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", *extra, cwd=d)


def test_edge_over_tls_with_client_certificate(broker: Broker, central: CentralRig,
                                               tmp_path: Path, edges: list[EdgeRig]) -> None:
    """Risk: the production path (TLS, client certificate, per-device ACL) never ran."""
    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki)
    # A second listener on the same broker: TLS, certificate required, CN = user name,
    # and each device confined to its own topics as in docs/sync.md.
    tls_port = free_port()
    acl = tmp_path / "acl"
    acl.write_text("pattern readwrite qms/v1/+/%u/#\npattern read qms/v1/central/state\n"
                   "user central\ntopic readwrite qms/v1/#\n", encoding="ascii")
    broker.kill()
    # `user root`: when started as root, Mosquitto would otherwise drop to the mosquitto
    # user, which cannot read pytest's private temporary directory.
    broker.conf.write_text(
        f"per_listener_settings true\nuser root\n"
        f"listener {broker.port} 127.0.0.1\nallow_anonymous true\n"
        f"listener {tls_port} 127.0.0.1\ncafile {pki / 'ca.pem'}\n"
        f"certfile {pki / 'server.pem'}\nkeyfile {pki / 'server.key'}\n"
        f"require_certificate true\nuse_identity_as_username true\nacl_file {acl}\n",
        encoding="ascii")
    broker.start()
    wait_for(lambda: central.central.connected.is_set(), 15, "central to reconnect")
    config = make_config(tls_port, tls=True, ca_file=str(pki / "ca.pem"),
                         cert_file=str(pki / "edge.pem"), key_file=str(pki / "edge.key"))
    edge = EdgeRig(config, tmp_path / "edge")
    edges.append(edge)
    edge.record(100)
    last = edge.last_seq()
    wait_for(lambda: central.contiguous() == last, 20, "events over TLS")
    assert_exactly_once(central, last, edge.ids)
