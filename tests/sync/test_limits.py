"""The broker-limits state machine (edge/sync/limits.py): table tests, no broker needed.

What each table proves against a real Mosquitto is in test_oversize.py and test_acl.py;
here every rule is walked through its edge cases in microseconds.
"""

from __future__ import annotations

from typing import Any

import pytest

from edge.sync.limits import (PACKET_TOO_LARGE, PROTOCOL_ERROR, PUBLISH_OVERHEAD, BrokerLimits,
                              Loss, Seen, Sent)

EVT = "qms/v1/site/edge-1/evt"
STATE = "qms/v1/site/edge-1/state"
CONFIGURED = 16_000
RESET = 128   # what paho reports for a connection merely lost (reset, EOF)


def limits() -> BrokerLimits:
    return BrokerLimits(CONFIGURED, EVT, "edge-1")


def loss(code: int | None = PROTOCOL_ERROR, *, by_broker: bool = False, first: int = 1,
         last: int = 50, size: int = 10_000, since: float | None = 0.2,
         connected: bool = True, max_packet: int | None = None,
         inflight: tuple[Sent, ...] | None = None) -> Loss:
    return Loss(f"disconnected: code {code}", code=code, by_broker=by_broker,
                connected=connected, since_sent=since, max_packet=max_packet,
                inflight=(Sent(first, last, size),) if inflight is None else inflight)


# Each row: a run of lost connections, what each one is taken for ("raise": a refusal that
# raises sync.denied, "quiet": a refusal while it is raised, None: a connection merely
# lost), and the batch byte limit after them.
LOSSES: list[tuple[str, list[Loss], list[str | None], int]] = [
    ("DISCONNECT 0x95 from the broker right after a batch: believed at once",
     [loss(PACKET_TOO_LARGE, by_broker=True)], ["raise"], 5_000),
    ("0x95 that paho made up itself, not the broker's DISCONNECT: not proof",
     [loss(PACKET_TOO_LARGE)], [None], CONFIGURED),
    ("a batch over the Maximum Packet Size the broker announced, then any loss: at once "
     "(the broker's DISCONNECT can be lost in its TCP reset)",
     [loss(RESET, max_packet=4_000, size=6_000, first=7, last=7)], ["raise"], 3_000),
    ("a loss after a batch within the announced size: a flaky link",
     [loss(RESET, max_packet=20_000, size=10_000)] * 3, [None] * 3, CONFIGURED),
    ("a protocol error once after a batch: not yet",
     [loss()], [None], CONFIGURED),
    ("a protocol error twice after the same batch: refused",
     [loss(), loss()], [None, "raise"], 5_000),
    ("and again after the halved batch: halved again, no second alarm",
     [loss(), loss(), loss(size=5_000, last=25)], [None, "raise", "quiet"], 2_500),
    ("protocol errors after different first seqs: no proof",
     [loss(first=1), loss(first=51), loss(first=1)], [None, None, None], CONFIGURED),
    ("a protocol error long after the batch went out: not the batch's fault",
     [loss(since=9.0), loss(since=9.0)], [None, None], CONFIGURED),
    ("a plain reset between two protocol errors starts the count again",
     [loss(), loss(RESET), loss()], [None, None, None], CONFIGURED),
    ("resets right after large batches, 4 in a row: never a refusal",
     [loss(RESET, size=250_000)] * 4, [None] * 4, CONFIGURED),
    ("nothing in flight: never the batch's fault",
     [loss(PACKET_TOO_LARGE, by_broker=True, inflight=())], [None], CONFIGURED),
    ("lost before the CONNACK: never the batch's fault",
     [loss(PACKET_TOO_LARGE, by_broker=True, connected=False)], [None], CONFIGURED),
    ("nothing sent yet on it: never the batch's fault",
     [loss(PACKET_TOO_LARGE, by_broker=True, since=None)], [None], CONFIGURED),
    ("the largest batch in flight is the one halved from",
     [loss(PACKET_TOO_LARGE, by_broker=True,
           inflight=(Sent(1, 10, 2_000), Sent(11, 60, 12_000), Sent(61, 70, 3_000)))],
     ["raise"], 6_000),
    ("down to one event per batch, never zero",
     [loss(PACKET_TOO_LARGE, by_broker=True, size=1, first=3, last=3)], ["raise"], 1),
]


@pytest.mark.parametrize("what, losses, taken_for, limit", LOSSES, ids=[r[0] for r in LOSSES])
def test_what_a_lost_connection_is_taken_for(what: str, losses: list[Loss],
                                             taken_for: list[str | None], limit: int) -> None:
    machine = limits()
    got = []
    for one in losses:
        refusal = machine.lost(one)
        got.append(None if refusal is None else "raise" if refusal.raise_alarm else "quiet")
    assert got == taken_for
    assert machine.limit == limit
    assert bool(machine.denied) == ("raise" in taken_for)


def test_a_refusal_message_names_the_batch_the_cause_and_the_fix() -> None:
    refusal = limits().lost(loss(PACKET_TOO_LARGE, by_broker=True, first=7, last=9, size=9_000))
    assert refusal is not None
    assert "event batch of 9000 bytes (seq 7..9)" in refusal.message
    assert "the broker said so (disconnected: code 149)" in refusal.message
    assert "message_size_limit" in refusal.message and "max_packet_size" in refusal.message
    assert "sync.batch_max_bytes (16000)" in refusal.message
    assert refusal.message.endswith("trying batches of at most 4500 bytes")
    announced = limits().lost(loss(RESET, max_packet=4_000, size=6_000, first=7, last=7))
    assert announced is not None
    wire = 6_000 + PUBLISH_OVERHEAD + len(EVT)
    assert f"packet too large: {wire} bytes on the wire, over the Maximum Packet Size of " \
           f"4000 bytes the broker announced" in announced.message


def seen(*accepted: str, acked: int = 0, subscribed: bool = True,
         central_acked: bool = False) -> Seen:
    return Seen(subscribed=subscribed, published=bool(accepted), accepted=frozenset(accepted),
                central_acked=central_acked, acked_seq=acked)


def size_refusal(first: int, last: int, size: int) -> Loss:
    return loss(PACKET_TOO_LARGE, by_broker=True, first=first, last=last, size=size)


# Each row: inputs in order ("lost", Loss), ("refused", denied, refused topics) or
# ("seen", Seen), and what each answers: "raise" / "quiet" for a refusal, "clear" / None
# for what a connection saw.
ALARMS: list[tuple[str, list[tuple[Any, ...]], list[str | None]]] = [
    ("while the limit is learned a short batch that gets through clears nothing; the "
     "acked refused events do",
     [("lost", size_refusal(1, 8, 10_000)), ("seen", seen(EVT, STATE, acked=5)),
      ("lost", size_refusal(6, 7, 4_600)), ("seen", seen(EVT, acked=7)),
      ("seen", seen(EVT, acked=8))],
     ["raise", None, "quiet", None, "clear"]),
    ("a PUBACK on evt is not central's ack of the refused events",
     [("lost", size_refusal(1, 8, 10_000)), ("seen", seen(EVT, STATE, central_acked=True))],
     ["raise", None]),
    ("an event too large on its own: raised once and kept",
     [("lost", size_refusal(7, 7, 9_000)), ("seen", seen(EVT, acked=6)),
      ("lost", size_refusal(7, 7, 9_000)), ("lost", size_refusal(7, 7, 9_000)),
      ("seen", seen(EVT, acked=6))],
     ["raise", None, "quiet", "quiet", None]),
    ("refused evt: the birth and health getting through is no cure",
     [("refused", [f"publish to {EVT}: Not authorized"], {EVT}), ("seen", seen(STATE)),
      ("refused", [f"publish to {EVT}: Not authorized"], {EVT}), ("seen", seen(STATE, EVT))],
     ["raise", None, "quiet", "clear"]),
    ("refused evt: central's ack on a connection counts as getting through",
     [("refused", [f"publish to {EVT}: Not authorized"], {EVT}),
      ("seen", seen(STATE, central_acked=True))],
     ["raise", "clear"]),
    ("refused subscriptions: not cured without them all granted",
     [("refused", ["subscribe to x: Not authorized"], set()),
      ("seen", seen(STATE, subscribed=False)), ("seen", seen(STATE))],
     ["raise", None, "clear"]),
    ("another refusal while raised updates the alarm (raised again with its new message)",
     [("refused", ["subscribe to x: Not authorized"], set()),
      ("refused", [f"publish to {EVT}: Quota exceeded"], {EVT})],
     ["raise", "raise"]),
    ("a size refusal and an ACL refusal: cleared only when both are cured",
     [("lost", size_refusal(1, 8, 10_000)),
      ("refused", [f"publish to {STATE}: Not authorized"], {STATE}),
      ("seen", seen(STATE, acked=5)), ("seen", seen(EVT, acked=8)),
      ("seen", seen(STATE, acked=8))],
     ["raise", "raise", None, None, "clear"]),
    ("nothing refused: nothing to clear",
     [("seen", seen(EVT, STATE, acked=100))], [None]),
]


@pytest.mark.parametrize("what, steps, answers", ALARMS, ids=[r[0] for r in ALARMS])
def test_the_sync_denied_alarm_over_a_run_of_connections(
        what: str, steps: list[tuple[Any, ...]], answers: list[str | None]) -> None:
    machine = limits()
    got: list[str | None] = []
    for kind, *args in steps:
        if kind == "lost":
            refusal = machine.lost(args[0])
            got.append(None if refusal is None else "raise" if refusal.raise_alarm else "quiet")
        elif kind == "refused":
            got.append("raise" if machine.refused(args[0], args[1]).raise_alarm else "quiet")
        else:
            got.append("clear" if machine.cured(args[0]) else None)
    assert got == answers
    said = [a for a in answers if a is not None]
    assert bool(machine.denied) == bool(said and said[-1] != "clear"), "raised at the end"


RESTORED: list[tuple[str, str, list[Seen], list[bool]]] = [
    ("a size refusal of an earlier run: cleared once its events are acked",
     "the broker refused an event batch of 9000 bytes (seq 3..12): the broker said so",
     [seen(EVT, STATE, acked=11), seen(EVT, acked=12)], [False, True]),
    ("a refused topic of an earlier run: cleared once a publish to it is accepted",
     f"the broker refused to publish to {EVT}: Not authorized; check the broker's ACL",
     [seen(STATE), seen(EVT)], [False, True]),
    ("a message without details: any accepted publish",
     "refused by the broker", [seen(subscribed=False), seen(STATE)], [False, True]),
]


@pytest.mark.parametrize("what, message, seens, cleared", RESTORED, ids=[r[0] for r in RESTORED])
def test_an_alarm_raised_by_an_earlier_run(what: str, message: str, seens: list[Seen],
                                           cleared: list[bool]) -> None:
    machine = limits()
    machine.restore(message)
    assert [machine.cured(s) for s in seens] == cleared
    assert machine.denied == ""


FITS = [
    # (learned limit, Maximum Packet Size from CONNACK, bytes for a batch)
    (CONFIGURED, None, CONFIGURED),
    (CONFIGURED, 1_000_000, CONFIGURED),
    (CONFIGURED, 4_000, 4_000 - PUBLISH_OVERHEAD - len(EVT)),
    (2_000, 4_000, 2_000),
    (CONFIGURED, 5, 1),   # absurdly small: one event per batch
]


@pytest.mark.parametrize("limit, max_packet, fit", FITS)
def test_batches_fit_the_announced_packet_size(limit: int, max_packet: int | None,
                                               fit: int) -> None:
    machine = BrokerLimits(CONFIGURED, EVT, "edge-1", limit=limit)
    assert machine.fit(max_packet) == fit
