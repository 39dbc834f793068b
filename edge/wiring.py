"""Builds the running service's components from the config, importing only what it uses.

Each entry names a module with `build(ctx) -> list[Component]`; a module is imported only
when its config section asks for it (start-up time on a Pi is counted).
"""

from __future__ import annotations

import importlib
from typing import Callable

from edge.component import AppContext, Component
from edge.config import AppConfig

# (module, predicate on the config). Order matters: printers before the console and
# buttons that print; sync last so it sees every component's health.
BUILDERS: list[tuple[str, Callable[[AppConfig], bool]]] = [
    # First: the visitor inputs answer through it, the screens subscribe to it.
    ("edge.kiosk.notices", lambda c: visitor_inputs(c)),
    ("edge.drivers.printing.service", lambda c: bool(c.printers)),
    ("edge.drivers.console", lambda c: c.console.enabled),
    ("edge.drivers.gpio", lambda c: bool(c.gpio.buttons or c.gpio.leds or c.gpio.buzzers)),
    ("edge.drivers.serial_inputs", lambda c: bool(c.gpio.serial_inputs)),
    ("edge.drivers.boards.service", lambda c: bool(c.boards.buses)),
    ("edge.hall.server", lambda c: c.hall.enabled),
    ("edge.kiosk.server", lambda c: c.kiosk.enabled),
    ("edge.announce.service", lambda c: c.announce.enabled),
    ("edge.queue.inbox", lambda c: bool(c.bookings.inbox)),
    ("edge.system.update_status", lambda c: True),  # only when `kezek update` left a record
    ("edge.system.status", lambda c: bool(c.system.status_socket or c.system.metrics_port)),
    ("edge.sync.link", lambda c: c.sync.enabled),
    # Without sync nobody reads the outbox: this keeps it within storage.outbox_cap.
    ("edge.sync.trim", lambda c: not c.sync.enabled),
]


def visitor_inputs(c: AppConfig) -> bool:
    """Something a visitor takes a ticket or checks in with: its refusals are shown."""
    return c.kiosk.enabled or any(b.kind == "ticket" for b in c.gpio.buttons) or any(
        i.type in ("scanner", "numpad") for i in c.gpio.serial_inputs)


def build_components(ctx: AppContext) -> list[Component]:
    built: list[Component] = []
    for module_name, wanted in BUILDERS:
        if not wanted(ctx.config):
            continue
        module = importlib.import_module(module_name)
        for component in module.build(ctx):
            ctx.components[component.name] = component
            built.append(component)
    return built
