"""Serial inputs (pyserial): operator keypads, the kiosk's QR / barcode scanner and numeric keypad."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.component import AppContext


def build(ctx: "AppContext") -> list[Any]:
    from edge.config.serial_inputs import NumpadConfig, ScannerConfig
    from edge.drivers.serial_inputs.component import KeypadInput, NumpadInput, ScannerInput

    gpio = ctx.config.gpio
    notices = ctx.components.get("notices")         # the visitor screens' answers
    built: list[Any] = []
    for i, cfg in enumerate(gpio.serial_inputs):
        key = f"gpio.serial_inputs.{i}"
        if isinstance(cfg, (ScannerConfig, NumpadConfig)):
            buzzer = gpio.buzzer_for(cfg.buzzer)
            beeper = ctx.components.get("gpio")      # built earlier when GPIO is configured

            def beep(b: Any = beeper, name: str | None = buzzer) -> None:
                if b is not None and name is not None:
                    b.beep(name)
            kind = ScannerInput if isinstance(cfg, ScannerConfig) else NumpadInput
            built.append(kind(cfg, key, ctx.controller, beep=beep,   # type: ignore[arg-type]
                              notices=notices))
        else:
            built.append(KeypadInput(cfg, key, ctx.controller))
    return built
