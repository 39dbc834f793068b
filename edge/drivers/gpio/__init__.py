"""GPIO buttons, status LEDs and buzzers (gpiozero); the pin library loads only when configured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.component import AppContext


def build(ctx: "AppContext") -> list[Any]:
    from edge.drivers.gpio.component import GpioComponent
    from edge.drivers.gpio.pins import make_pin_factory

    # The demo runs on laptops: simulated pins whatever the file says.
    name = "mock" if ctx.demo else ctx.config.gpio.pin_factory
    return [GpioComponent(ctx.config.gpio, ctx.controller, make_pin_factory(name),
                          notices=ctx.components.get("notices"))]
