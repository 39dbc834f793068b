"""What comes in on the link: acks, central's state, our own state topic, and the downlink's.

cfg, bookings and commands go on to downlink.py. Everything here runs on the network thread.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pydantic import ValidationError

from edge.sync.connection import Conn
from edge.sync.identity import IdentityWatch
from edge.sync.protocol import CENTRAL_STATE_TOPIC, Ack, CentralState, PayloadError, explain, parse

if TYPE_CHECKING:
    from edge.sync.link import SyncLink

logger = logging.getLogger(__name__)


def handle_inbox(link: "SyncLink", conn: Conn) -> None:
    """Handle what paho queued, in order, and acknowledge each message after it."""
    assert link.downlink is not None
    while conn.inbox:
        topic, payload, mid, qos = conn.inbox.popleft()
        try:
            _dispatch(link, conn, topic, payload)
        except Exception:
            logger.exception("sync: handling a message on %s failed", topic)
            link.bad_messages += 1
        finally:
            # Manual ack: PUBACK only once the message was handled (a command's id
            # is persisted by then), so a crash before it means the broker resends.
            if qos > 0:
                conn.client.ack(mid, qos)
    link.downlink.poll()


def _dispatch(link: "SyncLink", conn: Conn, topic: str, payload: bytes) -> None:
    assert link.pump is not None and link.downlink is not None
    t = link.topics
    if topic == t.ack:
        try:
            ack = parse(Ack, payload, 4096)
        except (PayloadError, ValueError) as e:
            link.bad_messages += 1
            link.downlink.refuse_ack(e)   # counted, logged once per kind
            return
        if link.pump.on_ack(ack.acked_seq, link.mono(), ack.resend_from, ack.db):
            conn.central_acked = True
    elif topic == CENTRAL_STATE_TOPIC:
        try:
            state = parse(CentralState, payload, 4096) if payload else None
        except (PayloadError, ValueError) as e:
            link.bad_messages += 1
            logger.warning("sync: bad central state ignored: %s", _why(e))
            return
        online = bool(state and state.online)
        if online != conn.central_online:
            logger.info("sync: central is %s", "online" if online else "offline")
            if online:
                link.pump.start_session(conn.session, link.mono())
        conn.central_online = online
    elif topic == t.state:
        _own_state(link, conn, payload)
    elif topic in (t.cfg, t.bookings, t.cmd):
        link.downlink.handle(topic.rsplit("/", 1)[1], payload)


def _own_state(link: "SyncLink", conn: Conn, payload: bytes) -> None:
    """Our own state topic: our birth, a late will of an older session, or a birth of
    another database (edge/sync/identity.py)."""
    action, seen = link.identity.state_message(payload, db_id=link.db_id,
                                               session=conn.session, answered_here=conn.foreign)
    if action == IdentityWatch.CONFLICT:
        conn.lost, conn.ended_by_us = True, True
        conn.lost_reason = "session taken over by another client with the same identity"
    elif action == IdentityWatch.BIRTH:
        conn.foreign = seen or conn.foreign
        link.birth(conn)


def _why(e: Exception) -> str:
    return explain(e) if isinstance(e, ValidationError) else str(e)[:200]
