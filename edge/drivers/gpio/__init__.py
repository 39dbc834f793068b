"""GPIO buttons, status LEDs and buzzers (gpiozero); the pin library loads only when configured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.component import AppContext


def build(ctx: "AppContext") -> list[Any]:
    from edge.drivers.gpio.component import GpioComponent
    from edge.drivers.gpio.pins import make_pin_factory

    # The config chooses the pins: config/demo.toml says "mock" (gpiozero's MockFactory).
    gpio = ctx.config.gpio
    return [GpioComponent(gpio, ctx.controller, make_pin_factory(gpio.pin_factory),
                          notices=ctx.components.get("notices"))]
