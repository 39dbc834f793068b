"""Serial inputs (pyserial): operator keypads and the kiosk's QR / barcode scanner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.component import AppContext


def build(ctx: "AppContext") -> list[Any]:
    from edge.config.hardware import ScannerConfig
    from edge.drivers.serial_inputs.component import KeypadInput, ScannerInput

    gpio = ctx.config.gpio
    built: list[Any] = []
    for i, cfg in enumerate(gpio.serial_inputs):
        key = f"gpio.serial_inputs.{i}"
        if isinstance(cfg, ScannerConfig):
            buzzer = gpio.buzzer_for(cfg.buzzer)
            beeper = ctx.components.get("gpio")      # built earlier when GPIO is configured

            def beep(b: Any = beeper, name: str | None = buzzer) -> None:
                if b is not None and name is not None:
                    b.beep(name)
            built.append(ScannerInput(cfg, key, ctx.controller, beep=beep))
        else:
            built.append(KeypadInput(cfg, key, ctx.controller))
    return built
