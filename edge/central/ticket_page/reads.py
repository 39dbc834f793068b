"""What the visitor's page shows of one ticket, and its rating, from central's projection.

Only today's ticket of that token, and of it only: its number, service, state, the window
it is called to, how many wait ahead and the estimated wait, the times of its steps, and
whether it may be rated. Nothing about the visitor (there is nothing: no IIN reaches
central) and nothing about any other ticket but their count ahead. A token no ticket has,
a ticket of an earlier day and a token two tickets claim all answer None alike.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.central.ledger import LedgerStore
    from edge.central.tx import Tx

_ROW = ("site", "device", "ticket_id", "label", "service", "category", "day", "state",
        "window_no", "issued_ts", "queued_ts", "called_ts", "ended_ts", "ahead0", "wait0",
        "score")
# Waiting tickets of the same line called before this one, as far as central can tell:
# those that joined the line earlier, and (for a normal visitor) any benefit visitor
# waiting, who goes first (docs/queue.md). An estimate: the edge's own order also knows
# booked slots and windows' weights.
AHEAD_SQL = ("SELECT count(*) FROM ticket_pages WHERE site=? AND device=? AND service=? "
          "AND state='waiting' AND day=? AND ticket_id<>? AND (queued_ts < ? OR "
          "(queued_ts = ? AND ticket_id < ?) OR (? = 1 AND category IS NOT NULL AND "
          "category <> 'normal'))")
SCORES = range(1, 6)


def _find(tx: "Tx", token: str, today: date) -> dict[str, Any] | None:
    rows = tx.rows(f"SELECT {', '.join(_ROW)} FROM ticket_pages WHERE token=? LIMIT 2",
                   (token,))
    if len(rows) != 1:
        return None
    row = dict(zip(_ROW, rows[0]))
    # Today's tickets only: an old paper (or a photo of one) opens nothing.
    if row["day"] != today.isoformat() or row["state"] is None:
        return None
    return row


def ticket_state(store: "LedgerStore", token: str, today: date) -> dict[str, Any] | None:
    """The page's view of the ticket with `token`, or None ("unknown or expired")."""
    found = ticket_and_site(store, token, today)
    return found[0] if found else None


def ticket_and_site(store: "LedgerStore", token: str,
                    today: date) -> tuple[dict[str, Any], str] | None:
    """The page's view and the ticket's site (for the service's names and for waking the
    page when that site's events come; the site is not shown)."""
    with store._read() as tx:
        row = _find(tx, token, today)
        if row is None:
            return None
        ahead: int | None = None
        per_visitor: float | None = None
        if row["state"] == "waiting" and row["queued_ts"] is not None:
            normal = 1 if (row["category"] or "normal") == "normal" else 0
            ahead = int(tx.rows(AHEAD_SQL, (row["site"], row["device"], row["service"],
                                         row["day"], row["ticket_id"], row["queued_ts"],
                                         row["queued_ts"], row["ticket_id"], normal))[0][0])
            per_visitor = _per_visitor(store, tx, row, today)
    zone = store.day_of.zone

    def hhmm(ms: int | None) -> str | None:
        return None if ms is None else datetime.fromtimestamp(ms / 1000, zone).strftime("%H:%M")

    state = row["state"]
    at_window = state in ("called", "serving")
    wait = None
    if ahead is not None:
        wait = 0 if ahead == 0 else (math.ceil(ahead * per_visitor)
                                     if per_visitor is not None else None)
    return {"known": True, "ticket": row["label"], "service": row["service"],
            "state": state, "window": row["window_no"] if at_window else None,
            "ahead": ahead, "wait_min": wait, "issued": hhmm(row["issued_ts"]),
            "called": hhmm(row["called_ts"]) if at_window or state == "done" else None,
            "ended": hhmm(row["ended_ts"]) if state in ("done", "no_show", "voided") else None,
            "rated": row["score"], "can_rate": state == "done" and row["score"] is None}, \
        str(row["site"])


def _per_visitor(store: "LedgerStore", tx: "Tx", row: dict[str, Any],
                 today: date) -> float | None:
    """Minutes each visitor ahead adds to the wait: the edge's own estimate at issue
    (its windows and service times), else today's average service time of the service."""
    ahead0, wait0 = row["ahead0"], row["wait0"]
    if ahead0 and wait0 is not None and ahead0 > 0:
        return float(wait0) / ahead0
    done = tx.rows("SELECT n, total FROM daily WHERE site=? AND day=? AND type='ticket.done' "
                   "AND service=?", (row["site"], store._day(today), row["service"]))
    if done and done[0][0]:
        return float(done[0][1]) / float(done[0][0]) / 60.0
    return None


def rate(store: "LedgerStore", token: str, score: int, today: date, now_ms: int) -> str:
    """Record the visitor's rating of a finished visit, once: "ok", "already" (rated
    before), "not_now" (the visit has not ended as served) or "unknown"."""
    if score not in SCORES:
        raise ValueError(f"score must be 1 to 5, not {score!r}")
    with store._tx() as tx:
        row = _find(tx, token, today)
        if row is None:
            return "unknown"
        if row["score"] is not None:
            return "already"
        if row["state"] != "done":
            return "not_now"
        changed = tx.run("UPDATE ticket_pages SET score=?, rated_ms=? WHERE site=? AND "
                         "device=? AND ticket_id=? AND score IS NULL",
                         (score, now_ms, row["site"], row["device"], row["ticket_id"]))
        if changed != 1:
            return "already"    # a second tap that came at the same moment
        # In the day roll-up beside the operators' keypad ratings (rating.recorded), as
        # its own type: the Situational Center's averages may take both.
        tx.run("INSERT INTO daily(site, day, type, service, n, total) VALUES (?,?,?,?,?,?) "
               "ON CONFLICT(site, day, type, service) DO UPDATE SET n = daily.n + 1, "
               "total = daily.total + excluded.total",
               (row["site"], store._day(today), "rating.page", row["service"] or "", 1, score))
    return "ok"
