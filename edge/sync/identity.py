"""Who this link speaks for: the database id bound to the machine, and another device as us.

Two machines configured with the same identity cannot see each other's file lock: the
broker takes the session from one whenever the other connects (Mosquitto just closes the
older connection, no DISCONNECT 0x8E to see). No clock can tell a live device from an old
birth (a Pi's may be hours off), so the edge goes by what it sees itself: an online birth
from another database on its own state topic is answered with our birth. A stale one (a
device replaced without its will) is then overwritten for good, while a live device puts
a birth of its own back when it takes the connection from us, with a new session number
of its own. So: a connection that answered a foreign birth and was then lost, followed by
a connection that sees a foreign birth *other than the one answered*, is a second device.
The same birth seen again is the broker redelivering a message the lost connection had
not acknowledged yet (its session outlives the connection): not proof of anything.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from edge.sync.machine import Machine, MachineSource
from edge.sync.outbox import Fork, OutboxDb
from edge.sync.protocol import EdgeState, PayloadError, parse

logger = logging.getLogger(__name__)

Emit = Callable[[str, dict[str, Any]], None]
Birth = tuple[str, int, str]   # (db, session, boot) of an online birth


class IdentityWatch:
    """The alarm `sync.identity`: raised once per conflict, cleared after a quiet while."""

    BIRTH, CONFLICT = "birth", "conflict"

    def __init__(self, site: str, device: str, emit: Emit, *, raised: bool = False) -> None:
        self.site, self.device = site, device
        self._emit = emit
        self.raised = raised   # sync.identity raised and not cleared yet
        # The foreign birth the previous connection answered before it was lost (not
        # closed by us): seeing another one on the next connection means a live device.
        self.answered: Birth | None = None

    def state_message(self, payload: bytes, *, db_id: str | None, session: int,
                      answered_here: Birth | None) -> tuple[str | None, Birth | None]:
        """What our own state topic holds, and what to do: (BIRTH, foreign birth or None)
        to publish our birth over it, (CONFLICT, its birth), or (None, None) when it holds
        this connection's birth. `answered_here`: the foreign birth this connection
        answered already, if any."""
        try:
            state = parse(EdgeState, payload, 4096) if payload else None
        except (PayloadError, ValueError):
            state = None   # garbage on our topic: put our birth back
        if state is None or not state.online or not state.db or state.db == db_id:
            if state is not None and state.online and state.session == session:
                return None, None
            # A late will of an older session (or a stranger) overwrote our birth.
            logger.info("sync: our state topic says offline; publishing birth again")
            return self.BIRTH, None
        seen: Birth = (state.db, state.session, state.boot or "")
        if self.answered is not None and seen != self.answered:
            self.conflict(f"another device (database {state.db}, boot {state.boot}) is online "
                          f"as {self.site}/{self.device}")
            return self.CONFLICT, seen
        if seen != answered_here:
            logger.info("sync: our state topic holds an online birth of database %s; "
                        "publishing our birth over it", state.db)
        return self.BIRTH, seen

    def connection_ended(self, *, lost: bool, foreign: Birth | None, birth_acked: bool) -> None:
        """A connection that had its CONNACK ended; `lost`: not closed by us."""
        self.answered = foreign if lost and foreign is not None and birth_acked else None

    def conflict(self, what: str) -> None:
        message = f"{what}; check that no two controllers share center.device"
        logger.error("sync: %s", message)
        if self.raised:
            return  # raised already: one event per conflict, not one per reconnect
        self.raised = True
        self._emit("alarm.raised", {"alarm": "sync.identity", "severity": "critical",
                                    "message": message[:500]})

    def connected_for(self, seconds: float, reconnect_max_s: float) -> None:
        """Another device with our identity would have taken the session back by now (it
        retries every reconnect_max_s): it is gone."""
        if self.raised and seconds > 2 * reconnect_max_s:
            self.raised = False
            logger.info("sync: no other device has used our identity for a while")
            self._emit("alarm.cleared", {"alarm": "sync.identity"})


def open_database_id(db: OutboxDb, machine_source: MachineSource,
                     emit: Emit) -> tuple[str, Fork | None, str]:
    """The database id, bound to this machine; a new one if the card came from another.

    Returns (db id, fork in effect, error text for health or "").
    """
    error = ""
    try:
        machine = machine_source()
    except Exception as e:   # never keep the controller from starting over this
        logger.exception("sync: cannot tell which machine this is")
        machine = Machine()
        error = f"machine id: {type(e).__name__}: {e}"
    if not machine.ids:
        logger.warning("sync: no board serial, machine UUID, hardware MAC or machine-id "
                       "readable: a copy of this card on another board cannot be told "
                       "apart (docs/operations.md)")
    elif not machine.strong:
        logger.warning("sync: only /etc/machine-id identifies this machine, and an image "
                       "copy keeps it: a cloned card is not detected (docs/operations.md)")
    ident = db.database_id(machine)
    if ident.moved is not None:
        logger.warning(
            "sync: this database was made on another machine (now identified by %s): "
            "the SD card was moved or copied. Sending as the new database %s (was %s); "
            "events up to seq %s came with the card", machine.describe(), ident.db,
            ident.moved.prev_db, ident.moved.fork_seq)
    fork = ident.fork
    if fork is not None and not fork.reported:
        # Emitted at every start until it is committed (a power cut right after the
        # new id was written must not leave it untold).
        emit("sync.db_changed", {
            "reason": "other_machine", "db": ident.db, "prev_db": fork.prev_db,
            "fork_seq": fork.fork_seq, "acked_seq": fork.acked_seq,
            "machine": machine.describe(),
            "message": "the SD card was moved to or copied onto another machine: its "
                       "events continue as a new stream at central"})
    return ident.db, fork, error
