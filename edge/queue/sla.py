"""Service-level alarms: which tickets breach their service's max wait, max service time or visit SLA.

`breaches()` is pure: from the live tickets and the rules it returns the alarms that
should be raised now and the next moment one more could start. The engine raises what
is new and clears what is no longer true (the ticket was called, finished, left).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from edge.queue.model import Ticket, TicketState
from edge.queue.policies import ServiceRules

MIN_MS = 60_000
PREFIX = "sla."


def breaches(now: int, tickets: Iterable[Ticket], rules: Mapping[str, ServiceRules]
             ) -> tuple[dict[str, dict[str, Any]], int | None]:
    """(alarm id -> alarm info, next deadline ms or None) for the given live tickets."""
    out: dict[str, dict[str, Any]] = {}
    next_due: int | None = None

    def check(alarm: str, deadline: int, info: dict[str, Any]) -> None:
        nonlocal next_due
        if now >= deadline:
            out[alarm] = info
        elif next_due is None or deadline < next_due:
            next_due = deadline

    for t in tickets:
        if t.state.is_final:
            continue
        r = rules.get(t.service)
        base = {"ticket_id": t.id, "ticket": t.label, "service": t.service, "visit": t.visit}
        if r is not None and r.max_wait_min and t.state is TicketState.WAITING:
            check(f"{PREFIX}wait:{t.id}", t.queued_ms + r.max_wait_min * MIN_MS,
                  {**base, "kind": "max_wait", "limit_min": r.max_wait_min,
                   "message": f"{t.label} has waited over {r.max_wait_min} min for {t.service}"})
        if r is not None and r.max_service_min and t.state.at_window:
            start = t.serving_ms or t.called_ms or now
            check(f"{PREFIX}service:{t.id}", start + r.max_service_min * MIN_MS,
                  {**base, "kind": "max_service", "limit_min": r.max_service_min,
                   "window": t.window,
                   "message": f"{t.label} has been at window {t.window} over "
                              f"{r.max_service_min} min ({t.service})"})
        vr = rules.get(t.origin_service or t.service)
        if vr is not None and vr.visit_sla_min:
            check(f"{PREFIX}visit:{t.visit}", t.issued_ms + vr.visit_sla_min * MIN_MS,
                  {**base, "kind": "visit_sla", "limit_min": vr.visit_sla_min,
                   "message": f"visit {t.label} has lasted over {vr.visit_sla_min} min "
                              f"(started with {t.origin_service or t.service})"})
    return out, next_due
