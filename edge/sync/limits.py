"""What the broker refuses (ACL denials, event batches too large) as a pure state machine.

No I/O, no clock, no logging: the link feeds it what a connection saw and acts on what it
answers (log, `sync.denied` alarm events, the batch byte limit), so every rule here is
checked by table tests (tests/sync/test_limits.py).

How a broker refuses a message that is too large, and what the edge takes as proof:
- A DISCONNECT with reason 0x95 "packet too large" (Mosquitto's max_packet_size, MQTT 5
  brokers in general): the broker says so; believed at once.
- A connection lost right after a batch over the Maximum Packet Size the broker announced
  in its CONNACK went out: the broker said so in advance; believed at once. (Mosquitto
  sends its DISCONNECT 0x95 and closes; with the rest of the packet unread the close is a
  TCP reset, which can reach the edge before the DISCONNECT is read.)
- Mosquitto 2.0's message_size_limit answers with a PUBACK 0x95, a code MQTT 5 does not
  allow in a PUBACK: paho cannot read it and ends the connection as a "protocol error".
  Believed when it happens OVERSIZE_LOSSES times in a row, each within OVERSIZE_WINDOW_S
  of an event batch going out, with the same first unacked seq.
A connection merely lost (reset, EOF, keepalive timeout) is never taken for a refusal,
however often it follows a large batch: that is a flaky link, and halving the batches for
good (and a critical alarm) would be the wrong answer to it.

The alarm: raised once per refusal, kept while the batch limit is being learned (halved
again on each further refusal, no new event), cleared once central acks the events of the
refused batch, i.e. once batches at the learned limit went through. Clearing on any
accepted batch made it flap: a short batch got through, the next full one was refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SESSION_TAKEN_OVER = 142  # MQTT v5 reason code: another client connected with our id
PROTOCOL_ERROR = 130      # MQTT v5 reason code (also paho's own, for an unreadable packet)
PACKET_TOO_LARGE = 149    # MQTT v5 reason code 0x95
OVERSIZE_LOSSES = 2
OVERSIZE_WINDOW_S = 5.0
# Bytes of an MQTT 5 PUBLISH beyond its payload and topic: fixed header (1 + up to 4 for
# the remaining length), topic length (2), packet id (2), property length (1, none sent).
PUBLISH_OVERHEAD = 10


@dataclass(frozen=True)
class Sent:
    """An event batch in flight: its seqs and payload size."""

    first: int
    last: int
    size: int


@dataclass(frozen=True)
class Loss:
    """What the link knows about a connection that was lost (not closed by the edge)."""

    reason: str                       # as logged, e.g. "disconnected: Protocol error"
    code: int | None = None           # MQTT v5 reason code of the disconnect, if any
    by_broker: bool = False           # the broker sent a DISCONNECT packet
    connected: bool = True            # the connection had its CONNACK
    inflight: tuple[Sent, ...] = ()   # unacked batches, oldest first
    since_sent: float | None = None   # seconds since the newest batch went out
    max_packet: int | None = None     # the broker's Maximum Packet Size (CONNACK)


@dataclass(frozen=True)
class Refusal:
    """The broker refused something: what to log, and whether to raise sync.denied."""

    message: str
    raise_alarm: bool


@dataclass(frozen=True)
class Seen:
    """What one connection got through so far (for clearing the alarm)."""

    subscribed: bool = False                        # every subscription granted
    published: bool = False                         # some publish got a good PUBACK
    accepted: frozenset[str] = frozenset()          # topics of publishes PUBACKed
    central_acked: bool = False                     # central acked our events on it
    acked_seq: int = 0                              # what central acked so far (any time)


@dataclass
class BrokerLimits:
    configured: int             # sync.batch_max_bytes
    evt_topic: str
    device: str
    limit: int = 0              # the batch byte limit learned (0: not set yet)
    denied: str = ""            # the raised sync.denied alarm's message ("" = not raised)
    # Topics whose publishes the broker refused while sync.denied is raised: it clears only
    # once a publish to each is accepted (for evt, central's ack counts too).
    denied_topics: set[str] = field(default_factory=set)
    # The newest seq of a batch refused for its size: the alarm clears once central acks it.
    size_through: int = 0
    # Losses by a protocol error right after a batch went out: (first unacked seq, count).
    oversize: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        if not self.limit:
            self.limit = self.configured

    # -- inputs ---------------------------------------------------------------------
    def restore(self, message: str) -> None:
        """sync.denied as an earlier run left it raised (the engine keeps alarms)."""
        self.denied = message or "refused by the broker"
        self.denied_topics = set(re.findall(r"publish to (\S+):", message))
        through = re.search(r"event batch of \d+ bytes \(seq \d+\.\.(\d+)\)", message)
        self.size_through = int(through.group(1)) if through else 0

    def fit(self, max_packet: int | None) -> int:
        """The byte limit for batches on a connection whose broker announced `max_packet`
        (None: no limit announced): the learned limit, or less to fit the packet."""
        if max_packet is None:
            return self.limit
        return min(self.limit, max(1, max_packet - PUBLISH_OVERHEAD - len(self.evt_topic.encode())))

    def lost(self, loss: Loss) -> Refusal | None:
        """A lost connection: the broker's answer to an event batch it finds too large?

        Returns the refusal (batch limit halved) or None for a connection merely lost.
        """
        recent = loss.connected and bool(loss.inflight) and loss.since_sent is not None \
            and loss.since_sent <= OVERSIZE_WINDOW_S
        if not recent:
            self.oversize = (0, 0)   # a broker restart, a lost link: not the batch's fault
            return None
        big = max(loss.inflight, key=lambda b: b.size)
        if loss.code == PACKET_TOO_LARGE and loss.by_broker:
            self.oversize = (0, 0)
            return self._too_big(big, f"the broker said so ({loss.reason})")
        packet = big.size + PUBLISH_OVERHEAD + len(self.evt_topic.encode())
        if loss.max_packet is not None and packet > loss.max_packet:
            self.oversize = (0, 0)
            return self._too_big(big, f"packet too large: {packet} bytes on the wire, over the "
                                      f"Maximum Packet Size of {loss.max_packet} bytes the "
                                      f"broker announced, and the connection ended right "
                                      f"after it went out ({loss.reason})")
        if loss.code != PROTOCOL_ERROR:
            self.oversize = (0, 0)
            return None
        head = loss.inflight[0]
        first, count = self.oversize
        count = count + 1 if first == head.first else 1
        self.oversize = (head.first, count)
        if count < OVERSIZE_LOSSES:
            return None
        return self._too_big(big, f"the connection ended with a protocol error {count} times "
                                  f"in a row right after it went out ({loss.reason})")

    def refused(self, denied: list[str], refused_pub: set[str]) -> Refusal:
        """The broker refused publishes or subscriptions (SUBACK/PUBACK failure codes)."""
        what = "; ".join(denied[:3]) + (f" (+{len(denied) - 3} more)" if len(denied) > 3 else "")
        fix = (f"check the broker's ACL and that the MQTT username or the client "
               f"certificate's CN equals center.device ({self.device})")
        message = f"the broker refused to {what}; {fix}"
        self.denied_topics |= refused_pub
        changed = message != self.denied
        self.denied = message
        return Refusal(message, raise_alarm=changed)

    def cured(self, seen: Seen) -> bool:
        """Did a connection get through what the broker refused? True once: the alarm clears.

        Every subscription granted, and a publish accepted on each topic that was refused
        (a broker may take our birth and health but refuse evt: that is no cure; for evt,
        central's ack counts too), and central's ack of the events of a batch refused for
        its size. Without anything on record, any accepted publish.
        """
        if not self.denied or not seen.subscribed:
            return False
        if self.size_through and seen.acked_seq < self.size_through:
            return False
        if self.denied_topics:
            if not all(t in seen.accepted or (t == self.evt_topic and seen.central_acked)
                       for t in self.denied_topics):
                return False
        elif not self.size_through and not seen.published:
            return False
        self.denied, self.denied_topics, self.size_through = "", set(), 0
        return True

    # -- rules ----------------------------------------------------------------------
    def _too_big(self, batch: Sent, how: str) -> Refusal:
        # Halve from the refused size; 1 means one event per batch (an event is never split).
        self.limit = max(1, min(self.limit, batch.size) // 2)
        self.size_through = max(self.size_through, batch.last)
        seqs = f" (seq {batch.first}..{batch.last})" if batch.first else ""
        message = (f"the broker refused an event batch of {batch.size} bytes{seqs}: {how}; it "
                   f"takes no messages that large (Mosquitto's message_size_limit or "
                   f"max_packet_size); raise that limit or lower sync.batch_max_bytes "
                   f"({self.configured}); trying batches of at most {self.limit} bytes")
        raise_alarm = not self.denied
        self.denied = message
        return Refusal(message, raise_alarm=raise_alarm)
