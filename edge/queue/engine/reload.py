"""A reloaded configuration (SIGHUP, central's cfg): decided here, swapped in by apply()."""

from __future__ import annotations

from dataclasses import replace

from edge.errors import CommandError
from edge.queue import commands as c
from edge.queue.engine.draft import Draft, Handler, merge_windows
from edge.queue.engine.state import NewConfig, Reply


def reconfigure(d: Draft, cmd: c.Reconfigure) -> None:
    e = d.e
    services, windows = cmd.services, cmd.windows
    # The IIN secret is read once at start (file / credential / environment): no I/O here.
    policies = replace(cmd.policies, iin_key=e.policies.iin_key)
    new_ids = {s.id for s in services}
    for t in e.state.tickets.values():
        t = d.ticket(t.id) or t
        if not t.state.is_final and t.service not in new_ids:
            raise CommandError("config_conflict", f"service {t.service} still has ticket "
                               f"{t.label}; keep the service until its tickets are done")
    # Nothing changes here: apply() swaps the new config in once the commit succeeded
    # (a failed write must leave the old config running). Windows merge with their
    # state in this draft (a timer may have freed one just now); all are written.
    current = {n: d.window(n) for n in e.state.windows}
    merged = merge_windows(list(windows), current)
    for w in merged.values():
        d.put_window(w)
    d.out.config = NewConfig({s.id: s for s in services}, merged, policies,
                             frozenset(w.number for w in windows))
    d.emit("config.applied", services=sorted(new_ids), windows=sorted(w.number for w in windows))
    d.out.reply = Reply("CONFIG applied")


HANDLERS: dict[type[c.Command], Handler] = {c.Reconfigure: reconfigure}
