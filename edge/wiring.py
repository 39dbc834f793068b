"""Builds the running service's components from the config, importing only what it uses.

Each entry names a module with `build(ctx) -> list[Component]`; a module is imported only
when its config section asks for it (start-up time on a Pi is counted). A part the queue
can do without is marked optional: it is guarded (edge/optional.py), so that its failure
to build or start is an alarm and a retry, never the end of the service.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Callable

from edge.component import AppContext, Component
from edge.config import AppConfig
from edge.optional import OptionalPart

OPTIONAL = True
# (module, predicate on the config, optional). Order matters: printers before the console
# and buttons that print; sync last so it sees every component's health. An optional part
# (edge/optional.py) that fails to build or start is an alarm and is retried: it never
# stops ticketing.
BUILDERS: list[tuple[str, Callable[[AppConfig], bool], bool]] = [
    # First: the visitor inputs answer through it, the screens subscribe to it.
    ("edge.kiosk.notices", lambda c: visitor_inputs(c), False),
    ("edge.drivers.printing.service", lambda c: bool(c.printers), False),
    ("edge.drivers.console", lambda c: c.console.enabled, False),
    ("edge.drivers.gpio", lambda c: bool(c.gpio.buttons or c.gpio.leds or c.gpio.buzzers),
     False),
    ("edge.drivers.serial_inputs", lambda c: bool(c.gpio.serial_inputs), False),
    ("edge.drivers.boards.service", lambda c: bool(c.boards.buses), OPTIONAL),
    ("edge.hall.server", lambda c: c.hall.enabled, OPTIONAL),
    ("edge.kiosk.server", lambda c: c.kiosk.enabled, OPTIONAL),
    ("edge.panel.server", lambda c: c.panel.enabled, OPTIONAL),
    ("edge.announce.service", lambda c: c.announce.enabled, OPTIONAL),
    ("edge.queue.inbox", lambda c: bool(c.bookings.inbox), OPTIONAL),
    # Only when `kezek update` left a record.
    ("edge.system.update_status", lambda c: True, OPTIONAL),
    ("edge.system.status", lambda c: bool(c.system.status_socket or c.system.metrics_port),
     OPTIONAL),
    ("edge.sync.link", lambda c: c.sync.enabled, False),
    # Without sync nobody reads the outbox: this keeps it within storage.outbox_cap.
    ("edge.sync.trim", lambda c: not c.sync.enabled, False),
]


def visitor_inputs(c: AppConfig) -> bool:
    """Something a visitor takes a ticket or checks in with: its refusals are shown."""
    return c.kiosk.enabled or any(b.kind == "ticket" for b in c.gpio.buttons) or any(
        i.type in ("scanner", "numpad") for i in c.gpio.serial_inputs)


def build_components(ctx: AppContext) -> list[Component]:
    built: list[Component] = []

    def register(component: Component) -> None:
        ctx.components[component.name] = component

    for module_name, wanted, optional in BUILDERS:
        if not wanted(ctx.config):
            continue
        module = importlib.import_module(module_name)
        if not optional:
            for component in module.build(ctx):
                register(component)
                built.append(component)
            continue
        # Built now, as the others (look-ups by name see it before anything starts); a
        # failure here or at start is the guard's to report and retry.
        made: list[Component] | None = None
        error: BaseException | None = None
        try:
            made = list(module.build(ctx))
        except Exception as e:
            error = e
        for component in made or ():
            register(component)
        built.append(OptionalPart(_short(module_name), _builder(module, ctx),
                                  ctx.controller, register, built=made, error=error))
    return built


def _builder(module: ModuleType, ctx: AppContext) -> Callable[[], list[Component]]:
    """Builds the module's components afresh (the guard's retries)."""
    return lambda: list(module.build(ctx))


def _short(module_name: str) -> str:
    """The part's name in its alarm: edge.hall.server -> hall, edge.system.status -> status,
    edge.drivers.boards.service -> boards, edge.queue.inbox -> inbox."""
    parts = module_name.split(".")[1:]
    for skip in ("drivers", "queue", "system"):
        if parts[0] == skip and len(parts) > 1:
            parts = parts[1:]
    return parts[0]
