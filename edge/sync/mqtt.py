"""Making paho-mqtt 2.x clients (MQTT v5, TLS, credentials) for the link and the central."""

from __future__ import annotations

import logging
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from edge.config.sync import SyncConfig

logger = logging.getLogger(__name__)

ClientFactory = Callable[[str], Any]


@dataclass(frozen=True)
class BrokerSettings:
    host: str
    port: int
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30
    connect_timeout_s: float = 10.0


def broker_settings(sync: "SyncConfig") -> BrokerSettings:
    """The broker, TLS files and login of a [sync] section, as the link and `kezek doctor`
    use them; the password is read now (password_file, systemd credential, environment:
    OSError when its file cannot be read)."""
    return BrokerSettings(host=sync.host, port=sync.port, tls=sync.tls, ca_file=sync.ca_file,
                          cert_file=sync.cert_file, key_file=sync.key_file,
                          username=sync.username,
                          password=sync.read_password() if sync.username else None,
                          keepalive_s=sync.keepalive_s, connect_timeout_s=sync.connect_timeout_s)


def make_client(settings: BrokerSettings, client_id: str, *, manual_ack: bool = True) -> Any:
    """A fresh MQTT v5 client with TLS and credentials set; not connected yet."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5, manual_ack=manual_ack)
    if settings.tls:
        client.tls_set_context(tls_context(settings))
    if settings.username:
        client.username_pw_set(settings.username, settings.password)
    client.connect_timeout = settings.connect_timeout_s
    client.on_socket_open = no_delay
    return client


class _SSLSocket(ssl.SSLSocket):
    """Closed when its handshake fails: paho leaves it open then (a ResourceWarning when it
    is collected, one per failed attempt: an untrusted broker, a plain port)."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


class _SSLContext(ssl.SSLContext):
    sslsocket_class = _SSLSocket


def tls_context(settings: BrokerSettings) -> ssl.SSLContext:
    """TLS 1.2+ verifying the broker's certificate and host name against ca_file (the
    system's CAs without it), with the client certificate if configured. OSError or
    ssl.SSLError when a file cannot be read."""
    context = _SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if settings.ca_file:
        context.load_verify_locations(cafile=str(settings.ca_file))
    else:
        context.load_default_certs()
    if settings.cert_file:
        context.load_cert_chain(str(settings.cert_file),
                                str(settings.key_file) if settings.key_file else None)
    return context


def no_delay(client: Any, userdata: Any, sock: Any) -> None:
    """Turn off Nagle's algorithm on the connection, as the MQTT clients of other
    languages do by default. MQTT is request/ack: with Nagle on, the tail of a batch
    waits for the broker's delayed TCP ACK, up to 40 ms per batch on Linux."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError) as e:  # not a TCP socket (a test double, a unix socket)
        logger.debug("TCP_NODELAY not set: %s", e)


def connect_properties(session_expiry_s: int) -> Any:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = session_expiry_s
    return props


def publish_properties(expiry_s: int | None = None) -> Any:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.PUBLISH)
    if expiry_s is not None:
        props.MessageExpiryInterval = expiry_s
    return props


def close_client(client: Any) -> None:
    """Drop a client for good: disconnect if possible and close its sockets."""
    try:
        client.disconnect()
    except Exception:  # a dead client may fail in any way; it is being thrown away
        logger.debug("disconnect of a dropped client failed", exc_info=True)
    try:
        client._reset_sockets()  # paho has no public "close"; __del__ does the same later
    except Exception:
        logger.debug("closing sockets of a dropped client failed", exc_info=True)
