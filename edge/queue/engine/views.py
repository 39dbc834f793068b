"""The snapshot readers on other threads see: services, windows, calls, alarms."""

from __future__ import annotations

import heapq

from edge.queue.engine.draft import EngineData
from edge.queue.engine.issuing import avg_minutes
from edge.queue.snapshot import QueueSnapshot, ServiceView, UnprintedView, WindowView

UNPRINTED_SHOWN = 20


def snapshot(e: EngineData) -> QueueSnapshot:
    """The committed state for readers on other threads. Built after every command,
    so views whose inputs did not change are reused instead of rebuilt."""
    st = e.state
    waiting: dict[str, int] = dict.fromkeys(e.services, 0)
    for (sid, _), n in e._tier_counts.items():
        if sid in waiting:
            waiting[sid] += n
    services = []
    for s in e.services.values():
        n, avg = waiting[s.id], round(avg_minutes(e, s.id), 1)
        cached = e._service_views.get(s.id)
        # A reconfigure makes new Service objects: identity says the config is the same.
        if cached is None or cached[0] is not s or cached[1] != n or cached[2] != avg:
            cached = (s, n, avg, ServiceView(s.id, dict(s.names), s.prefix, n, avg))
            e._service_views[s.id] = cached
        services.append(cached[3])
    windows = []
    serving = 0
    for number in sorted(st.windows):
        w = st.windows[number]
        if w.ticket_id is None and number not in e.windows_in_config:
            # Removed by a reload and its last visitor gone: kept in the state for a
            # late rating or `close`, but no longer a window the hall should show.
            continue
        t = st.tickets.get(w.ticket_id) if w.ticket_id is not None else None
        if t is not None:
            serving += 1
        cached_w = e._window_views.get(number)
        # Tickets and windows are immutable: the same two objects make the same view.
        if cached_w is None or cached_w[0] is not w or cached_w[1] is not t:
            cached_w = (w, t, WindowView(w.number, w.label, w.state.value,
                                         t.label if t else None, t.state.value if t else None,
                                         t.service if t else None, dict(w.weights), w.benefit,
                                         w.operator))
            e._window_views[number] = cached_w
        windows.append(cached_w[2])
    # Tickets waiting for their paper (docs/queue.md, "No ghost tickets"): the oldest
    # few; normally none or the one printing now (a printer known to be down refuses).
    unprinted = tuple(UnprintedView(t.label, t.service, t.printer, t.print_state.value,
                                    t.issued_ms)
                      for t in (st.tickets[i] for i in heapq.nsmallest(UNPRINTED_SHOWN,
                                                                       e._unprinted))
                      ) if e._unprinted else ()
    return QueueSnapshot(day=st.day, unprinted=unprinted, unprinted_total=len(e._unprinted), services=tuple(services), windows=tuple(windows),
                         recent_calls=tuple(e._recent), alarms=dict(st.alarms),
                         devices=dict(st.devices), waiting_total=sum(waiting.values()),
                         serving_total=serving, now_ms=st.time.eff_ms if st.time else 0)
