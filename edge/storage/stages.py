"""Visit stages: the rows of `visit_stages`, derived from each command's events in its commit.

A stage is a ticket's time in one service: from entering its line (issue, or a transfer
in) to its end there (done, no-show, transferred on, voided). The engine stays pure and
knows nothing of this table: the store hands every outcome to `StageBook.plan()`, writes
the rows it returns in the same SQLite transaction as the tickets and the outbox, and
calls `committed()` only after the COMMIT. So a kill -9 at any point leaves the stages
exactly as consistent as the tickets (docs/manager.md).

The open stages (one per live ticket) are kept in memory, loaded at start: most
commands then write one row and read none.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from edge.queue.engine import Outcome
from edge.queue.model import Ticket

STAGE_COLS = ("id", "day", "ticket_id", "stage", "label", "visit", "service", "category",
              "window", "operator", "issued_ms", "queued_ms", "called_ms", "started_ms",
              "ended_ms", "outcome", "waited_ms", "served_ms", "sla_breached", "rating")
# `day`, `ticket_id` and `stage` are left out of the update: they never change in place
# (a redate is its own UPDATE), and an indexed column in the SET list costs index pages.
_UPSERT = (f"INSERT INTO visit_stages ({', '.join(STAGE_COLS)}) "
           f"VALUES ({', '.join('?' * len(STAGE_COLS))}) ON CONFLICT(id) DO UPDATE SET "
           + ", ".join(f"{c}=excluded.{c}" for c in STAGE_COLS[4:]))
OUTCOMES = ("done", "no_show", "transferred", "voided", "open")
# Events that change an open stage (the paper events do not: no row is rewritten for them).
# `ticket.started` is the name issue 19 uses for `ticket.serving`: both are taken.
_STAGE_EVENTS = frozenset({"ticket.called", "ticket.recalled", "ticket.serving",
                           "ticket.started", "ticket.done", "ticket.no_show", "ticket.voided",
                           "ticket.transferred", "ticket.parked", "ticket.unparked"})
_SLA_PREFIXES = ("sla.wait:", "sla.service:", "sla.visit:")


Stage = dict[str, Any]


@dataclass
class StagePlan:
    """What one outcome changes in `visit_stages`, not yet written."""

    rows: dict[int, Stage] = field(default_factory=dict)        # stage id -> full row
    opened: dict[int, Stage] = field(default_factory=dict)      # ticket id -> its open stage
    closed: set[int] = field(default_factory=set)               # ticket ids whose stage ended
    ratings: list[tuple[int, int]] = field(default_factory=list)  # (score, ticket id)
    redates: list[tuple[str, int, str]] = field(default_factory=list)  # (day, ticket, previous)
    next_id: int = 0

    @property
    def is_empty(self) -> bool:
        return not (self.rows or self.ratings or self.redates)


class StageBook:
    """The open stages of live tickets, and the plan of each command's stage rows."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.open: dict[int, Stage] = {}
        for row in conn.execute(f"SELECT {', '.join(STAGE_COLS)} FROM visit_stages "
                                "WHERE outcome = 'open' ORDER BY id"):
            stage = dict(zip(STAGE_COLS, row))
            self.open[stage["ticket_id"]] = stage
        self.next_id = (conn.execute("SELECT max(id) FROM visit_stages").fetchone()[0] or 0) + 1

    # -- decide ---------------------------------------------------------------------
    def plan(self, outcome: Outcome) -> StagePlan:
        """The stage rows `outcome`'s events change. Reads the file only for the rare
        events about a closed stage (a no-show who returns)."""
        plan = StagePlan(next_id=self.next_id)
        now = outcome.now_ms
        for ev in outcome.events:
            kind, data = ev.type, ev.data
            if kind.startswith("ticket."):
                self._ticket_event(plan, kind, data, outcome.tickets, now)
            elif kind in ("rating.recorded", "rating.given"):
                if isinstance(data.get("score"), int) and isinstance(data.get("ticket_id"), int):
                    plan.ratings.append((data["score"], data["ticket_id"]))
            elif kind == "alarm.raised" and str(data.get("alarm", "")).startswith(_SLA_PREFIXES):
                stage = self._open_stage(plan, data.get("ticket_id"), outcome.tickets)
                if stage is not None and not stage["sla_breached"]:
                    stage["sla_breached"] = 1
                    plan.rows[stage["id"]] = stage
        return plan

    def _ticket_event(self, plan: StagePlan, kind: str, data: dict[str, Any],
                      tickets: dict[int, Ticket], now: int) -> None:
        tid = data.get("ticket_id")
        if not isinstance(tid, int):
            return
        if kind == "ticket.issued":
            t = tickets.get(tid)
            if t is not None:
                self._new_stage(plan, t, t.service, 1)
            return
        if kind == "ticket.returned":
            self._reopen(plan, tid)
            return
        if kind == "ticket.redated":
            stage = self._open_stage(plan, tid, tickets)
            t = tickets.get(tid)
            if stage is not None and t is not None:
                # Its times were moved onto the real clock with it (docs/events.md).
                stage.update(day=t.day, issued_ms=t.issued_ms, queued_ms=t.queued_ms)
                plan.rows[stage["id"]] = stage
            plan.redates.append((str(data.get("day")), tid, str(data.get("previous"))))
            return
        if kind not in _STAGE_EVENTS:
            return
        stage = self._open_stage(plan, tid, tickets)
        if stage is None:
            return
        before = dict(stage)
        _note_operator(stage, data)
        window = data.get("window")
        if isinstance(window, int):
            stage["window"] = window
        if kind == "ticket.called":
            if stage["called_ms"] is None:
                stage["called_ms"] = now
                stage["waited_ms"] = max(0, now - stage["queued_ms"])
        elif kind in ("ticket.serving", "ticket.started"):
            if stage["started_ms"] is None:
                stage["started_ms"] = now
        elif kind == "ticket.done":
            self._close(plan, stage, "done", now)
            if "service_s" in data:
                stage["served_ms"] = int(data["service_s"]) * 1000
            elif data.get("reason") != "day_closed":
                stage["served_ms"] = _at_window_ms(stage, now)
        elif kind == "ticket.no_show":
            self._close(plan, stage, "no_show", now)
        elif kind == "ticket.voided":
            self._close(plan, stage, "voided", now)
        elif kind == "ticket.transferred":
            self._close(plan, stage, "transferred", now)
            stage["served_ms"] = _at_window_ms(stage, now)
            t = tickets.get(tid)
            to = data.get("to_service")
            if t is not None and isinstance(to, str):
                self._new_stage(plan, t, to, stage["stage"] + 1)
        if stage != before:      # a recall at the same window rewrites nothing
            plan.rows[stage["id"]] = stage

    def _new_stage(self, plan: StagePlan, t: Ticket, service: str, number: int) -> Stage:
        stage: Stage = {
            "id": plan.next_id, "day": t.day, "ticket_id": t.id, "stage": number,
            "label": t.label, "visit": t.visit, "service": service,
            "category": t.category.value, "window": None, "operator": None,
            "issued_ms": t.issued_ms, "queued_ms": t.queued_ms, "called_ms": None,
            "started_ms": None, "ended_ms": None, "outcome": "open", "waited_ms": None,
            "served_ms": None, "sla_breached": 0, "rating": None}
        plan.next_id += 1
        plan.rows[stage["id"]] = stage
        plan.opened[t.id] = stage
        plan.closed.discard(t.id)
        return stage

    def _open_stage(self, plan: StagePlan, tid: Any, tickets: dict[int, Ticket]) -> Stage | None:
        """The ticket's open stage as this plan has it (a copy: nothing changes in memory
        before the commit). A live ticket without one (a bug, or a file written by an older
        kezek mid-day) gets one now from the ticket itself."""
        if not isinstance(tid, int) or tid in plan.closed:
            return None
        if tid in plan.opened:
            return plan.opened[tid]
        known = self.open.get(tid)
        if known is not None:
            stage = dict(known)
            plan.opened[tid] = stage
            return stage
        t = tickets.get(tid)
        if t is None or t.state.is_final:
            return None
        return self._new_stage(plan, t, t.service, self._last_stage_number(tid) + 1)

    def _last_stage_number(self, tid: int) -> int:
        row = self.conn.execute("SELECT max(stage) FROM visit_stages WHERE ticket_id = ?",
                                (tid,)).fetchone()
        return int(row[0] or 0)

    def _reopen(self, plan: StagePlan, tid: int) -> None:
        # A no-show who comes back goes on in the same stage: its outcome is its last
        # final event (docs/events.md), so the day counts the visitor once.
        row = self.conn.execute(
            f"SELECT {', '.join(STAGE_COLS)} FROM visit_stages WHERE ticket_id = ? "
            "ORDER BY stage DESC LIMIT 1", (tid,)).fetchone()
        if row is None:
            return
        stage = dict(zip(STAGE_COLS, row))
        if stage["id"] in plan.rows:
            stage = plan.rows[stage["id"]]
        stage["outcome"] = "open"
        stage["ended_ms"] = None
        plan.rows[stage["id"]] = stage
        plan.opened[tid] = stage
        plan.closed.discard(tid)

    @staticmethod
    def _close(plan: StagePlan, stage: Stage, how: str, now: int) -> None:
        stage["outcome"] = how
        stage["ended_ms"] = now
        plan.opened.pop(stage["ticket_id"], None)
        plan.closed.add(stage["ticket_id"])

    # -- write, inside the caller's transaction ----------------------------------------
    def write(self, plan: StagePlan) -> None:
        conn = self.conn
        for day, tid, previous in plan.redates:
            conn.execute("UPDATE visit_stages SET day = ? WHERE ticket_id = ? AND day = ?",
                         (day, tid, previous))
        if plan.rows:
            conn.executemany(_UPSERT, [tuple(r[c] for c in STAGE_COLS)
                                       for r in plan.rows.values()])
        for score, tid in plan.ratings:
            # The visit just ended at a window: its ticket's last stage.
            conn.execute("UPDATE visit_stages SET rating = ? WHERE id = (SELECT id FROM "
                         "visit_stages WHERE ticket_id = ? ORDER BY stage DESC LIMIT 1)",
                         (score, tid))

    def committed(self, plan: StagePlan) -> None:
        """The plan is in the file: make it what memory holds."""
        for tid in plan.closed:
            self.open.pop(tid, None)
        for tid, stage in plan.opened.items():
            if stage["outcome"] == "open":
                self.open[tid] = stage
        self.next_id = plan.next_id


def _note_operator(stage: Stage, data: dict[str, Any]) -> None:
    # The panel names the operator on each event; a keypad press with nobody signed in
    # names none (null): that keeps the one named before in this stage.
    op = data.get("operator")
    if isinstance(op, str) and op:
        stage["operator"] = op


def _at_window_ms(stage: Stage, now: int) -> int | None:
    began = stage["started_ms"] if stage["started_ms"] is not None else stage["called_ms"]
    return None if began is None else max(0, now - began)
