"""Central's per-ticket projection for the visitor's page, filled as events are stored.

One row per ticket (site, device stream, ticket_id), keyed for the page by the ticket's
token (`ticket.issued` carries it; edge/queue/tokens.py). The ledger adds these writes to
the transaction that stores the events (ledger.py `_store`), so the page never shows a
state central has not committed. Events may come out of order (a batch that came early):
every write is an upsert that takes the state of the newest event (by seq) and fills in
what older ones alone know (the token, the time of issue). Tickets without a token (an
older edge) are kept too: they count in the line ahead of a visitor.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from edge.central.reads import STAGE_AFTER
from edge.queue.tokens import is_token

if TYPE_CHECKING:
    from edge.central.tx import Tx, Write
    from edge.sync.protocol import EventEnvelope

# The days a ticket's row is kept after its day (the page answers only for today's).
KEEP_DAYS = 2

# Both back-ends take the same SQL (`window` is a reserved word in PostgreSQL).
MIGRATION_STEPS = (
    """CREATE TABLE IF NOT EXISTS ticket_pages (
    site TEXT NOT NULL, device TEXT NOT NULL, ticket_id BIGINT NOT NULL, token TEXT,
    label TEXT, service TEXT, category TEXT, day TEXT, state TEXT, window_no INTEGER,
    issued_ts BIGINT, queued_ts BIGINT, called_ts BIGINT, ended_ts BIGINT,
    ahead0 INTEGER, wait0 INTEGER, last_seq BIGINT NOT NULL, stage_seq BIGINT NOT NULL,
    score INTEGER, rated_ms BIGINT, notified_ms BIGINT,
    PRIMARY KEY (site, device, ticket_id))""",
    # Not unique: a token sent twice (a broken edge) must never stop that edge's intake;
    # the page answers "unknown" for a token two tickets claim.
    "CREATE INDEX IF NOT EXISTS ticket_pages_token ON ticket_pages (token)",
    "CREATE INDEX IF NOT EXISTS ticket_pages_line ON ticket_pages (site, device, service, state)",
    "CREATE INDEX IF NOT EXISTS ticket_pages_day ON ticket_pages (day)",
)
MIGRATION_NAME = "ticket_pages: the visitor's ticket page, one row per ticket by its token"

_COLUMNS = ("site", "device", "ticket_id", "token", "label", "service", "category", "day",
            "state", "window_no", "issued_ts", "queued_ts", "called_ts", "ended_ts", "ahead0",
            "wait0", "last_seq", "stage_seq")
# Set once, at issue: the first value known stays.
_ONCE = ("token", "category", "issued_ts", "ahead0", "wait0", "label")
# Each follows the newest event that sets it (by seq: `last_seq` for the day, which the
# issue and ticket.redated set, `stage_seq` for what the stage events set); an older one
# only fills in what is still unknown.
_STAGE = ("service", "state", "window_no", "queued_ts", "called_ts", "ended_ts")


def _newest(column: str, seq: str) -> str:
    return (f"{column} = CASE WHEN excluded.{seq} > ticket_pages.{seq} THEN "
            f"coalesce(excluded.{column}, ticket_pages.{column}) "
            f"ELSE coalesce(ticket_pages.{column}, excluded.{column}) END")


def _greatest(seq: str) -> str:
    return (f"{seq} = CASE WHEN excluded.{seq} > ticket_pages.{seq} THEN excluded.{seq} "
            f"ELSE ticket_pages.{seq} END")


UPSERT = (
    f"INSERT INTO ticket_pages ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    "ON CONFLICT (site, device, ticket_id) DO UPDATE SET "
    + ", ".join([f"{c} = coalesce(ticket_pages.{c}, excluded.{c})" for c in _ONCE]
                + [_newest("day", "last_seq")] + [_newest(c, "stage_seq") for c in _STAGE]
                + [_greatest("last_seq"), _greatest("stage_seq")]))
# Events that put the ticket (back) in a waiting line: its place counts from then.
_QUEUED = ("ticket.issued", "ticket.transferred", "ticket.unparked", "ticket.returned")
_ENDED = ("ticket.done", "ticket.no_show", "ticket.voided")


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _str(v: Any, limit: int = 64) -> str | None:
    return v[:limit] if isinstance(v, str) and v else None


def row_of(site: str, device: str, ev: "EventEnvelope") -> tuple[Any, ...] | None:
    """The upsert's values for one stored event, or None when it is not a ticket's."""
    t = ev.type
    if not t.startswith("ticket.") or (t not in STAGE_AFTER and t != "ticket.redated"):
        return None
    d = ev.data
    tid = _int(d.get("ticket_id"))
    if tid is None:
        return None
    issued = t == "ticket.issued"
    token = d.get("token") if issued else None
    service = _str(d.get("to_service") if t == "ticket.transferred" else d.get("service"))
    day = _str(d.get("day"), 10) if t in ("ticket.issued", "ticket.redated") else None
    stage = STAGE_AFTER.get(t)
    if stage is None:   # a recall or a new day: the ticket's stage stays as it is
        service = None
    window = _int(d.get("window")) if stage in ("called", "serving", "done") else None
    return (site, device, tid, token if isinstance(token, str) and is_token(token) else None,
            _str(d.get("ticket"), 16), service, _str(d.get("category"), 16) if issued else None,
            day, stage, window, ev.ts if issued else None, ev.ts if t in _QUEUED else None,
            ev.ts if t == "ticket.called" else None, ev.ts if t in _ENDED else None,
            _int(d.get("ahead")) if issued else None, _int(d.get("wait_min")) if issued else None,
            ev.seq, ev.seq if stage is not None else 0)


def projection_write(site: str, device: str,
                     events: "list[EventEnvelope]") -> "Write | None":
    """The one write (many rows, in seq order) that brings the projection up to `events`."""
    rows = [r for r in (row_of(site, device, ev) for ev in events) if r is not None]
    return (UPSERT, rows, True) if rows else None


def trim(tx: "Tx", today: date) -> int:
    """Forget the rows of days over KEEP_DAYS ago (their pages answer "expired" anyway)."""
    return tx.run("DELETE FROM ticket_pages WHERE day < ?",
                  ((today - timedelta(days=KEEP_DAYS)).isoformat(),))
