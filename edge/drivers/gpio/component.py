"""Buttons, status LEDs and buzzers on the Pi's GPIO header, as one component.

gpiozero calls our edge handlers on its pin thread; they only update a ButtonLogic and
enqueue a command (controller.submit). Feedback (LEDs, buzzer) is driven from one named
worker thread fed by a queue: future done-callbacks and controller listeners only put
items on that queue.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable

from edge.config.hardware import (GpioConfig, OperatorButtonConfig, RatingButtonConfig,
                                  TicketButtonConfig)
from edge.drivers.gpio.actions import outcome, window_command
from edge.drivers.gpio.logic import ButtonLogic, ButtonRules
from edge.queue.commands import Command, DeviceStatus, IssueTicket, Rate
from edge.queue.model import Category
from edge.control import QueueControl
from edge.queue.snapshot import QueueSnapshot
from edge.worker import Worker

logger = logging.getLogger(__name__)

_STOP = object()


@dataclass
class _Button:
    index: int
    config: Any                      # one of the *ButtonConfig models
    logic: ButtonLogic
    device: Any = None               # gpiozero.Button
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_result: str = ""

    @property
    def name(self) -> str:
        return f"button:gpio{self.config.pin}"


def rules_of(cfg: Any) -> ButtonRules:
    return ButtonRules(debounce_s=cfg.debounce_ms / 1000, hold_s=cfg.hold_s,
                       min_interval_s=cfg.min_interval_s, chatter_presses=cfg.chatter_presses,
                       chatter_window_s=cfg.chatter_window_s, lockout_s=cfg.lockout_s,
                       stuck_s=cfg.stuck_s)


def button_command(cfg: Any, action: str) -> Command:
    """What a short press ('press') or a long one ('hold') of this button asks for."""
    source = f"gpio:{cfg.pin}"
    if isinstance(cfg, TicketButtonConfig):
        return IssueTicket(service=cfg.service, category=Category(cfg.category),
                           printer=cfg.printer, source=source)
    if isinstance(cfg, RatingButtonConfig):
        return Rate(window=cfg.window, score=cfg.score, source=source)
    assert isinstance(cfg, OperatorButtonConfig)
    what = cfg.hold_action if action == "hold" and cfg.hold_action else cfg.action
    return window_command(what, cfg.window, source, cfg.transfer_service)


class GpioComponent:
    """Component 'gpio': every [[gpio.buttons]], [[gpio.leds]] and [gpio.buzzers]."""

    name = "gpio"

    def __init__(self, config: GpioConfig, controller: QueueControl, pin_factory: Any, *,
                 now: Callable[[], float] = time.monotonic, tick_s: float = 0.1) -> None:
        self.config = config
        self.controller = controller
        self.pin_factory = pin_factory
        self._now = now
        self._tick_s = tick_s
        self.buttons = [_Button(i, b, ButtonLogic(rules_of(b), now))
                        for i, b in enumerate(config.buttons)]
        self.leds: list[tuple[Any, Any]] = []         # (LedConfig, gpiozero.LED)
        self.buzzers: dict[str, Any] = {}              # name -> gpiozero.Buzzer
        self._work: "queue.Queue[Any]" = queue.Queue()
        self.worker = Worker("kezek-gpio", self._run)
        self._started = False
        self.refusals = 0

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        from gpiozero import LED, Button, Buzzer  # heavy; only when GPIO is configured

        try:
            for b in self.buttons:
                cfg = b.config
                pull_up = {"up": True, "down": False, "off": None}[cfg.pull]
                # bounce_time is not passed: it is unreliable across pin libraries
                # (gpiozero #378, #550); ButtonLogic debounces on press length instead.
                dev = Button(cfg.pin, pull_up=pull_up,
                             active_state=cfg.active_high if pull_up is None else None,
                             pin_factory=self.pin_factory)
                dev.when_pressed = self._edge_handler(b, pressed=True)
                dev.when_released = self._edge_handler(b, pressed=False)
                b.device = dev   # keep it alive: pins hold only a weak reference
                if dev.is_pressed:
                    # Jammed before the start: no edge will ever come, but stuck must be seen.
                    logger.warning("%s already pressed at start", b.name)
                    with b.lock:
                        b.logic.down_at_start()
            for led_cfg in self.config.leds:
                self.leds.append((led_cfg, LED(led_cfg.pin, active_high=led_cfg.active_high,
                                               initial_value=False, pin_factory=self.pin_factory)))
            for name, z in self.config.buzzers.items():
                self.buzzers[name] = Buzzer(z.pin, active_high=z.active_high, initial_value=False,
                                            pin_factory=self.pin_factory)
        except Exception:
            self._close_devices()
            raise
        self._started = True
        self.controller.subscribe(self._on_applied)
        self._work.put(("snapshot", self.controller.snapshot))
        self.worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.worker.request_stop()
        self._work.put(_STOP)
        self.worker.stop(timeout)
        self._started = False
        self._close_devices()

    def _close_devices(self) -> None:
        for b in self.buttons:
            if b.device is not None:
                b.device.close()
                b.device = None
        for _, led in self.leds:
            led.close()
        for z in self.buzzers.values():
            z.close()
        self.leds, self.buzzers = [], {}

    def health(self) -> dict[str, Any]:
        buttons = []
        for b in self.buttons:
            with b.lock:
                lg = b.logic
                state = ("stuck" if lg.stuck else "locked" if lg.locked
                         else "down" if lg.down_at is not None else "up")
                buttons.append({"pin": b.config.pin, "kind": b.config.kind, "state": state,
                                "last": b.last_result, **lg.counters.__dict__})
        return {"ok": self.worker.ok and not any(x["state"] in ("stuck", "locked")
                                                 for x in buttons),
                "buttons": buttons, "refusals": self.refusals,
                "leds": {led_cfg.pin: bool(led.value) for led_cfg, led in self.leds}}

    def beep(self, buzzer: str | None, count: int | None = None) -> None:
        """Sound a refusal on a buzzer from any thread (other inputs use it too): enqueues."""
        self._work.put(("beep", buzzer, count))

    # -- gpiozero's thread: only bookkeeping and enqueueing --------------------------
    def _edge_handler(self, b: _Button, *, pressed: bool) -> Callable[[], None]:
        def handler() -> None:
            self.edge(b, pressed)
        return handler

    def edge(self, b: _Button, pressed: bool) -> None:
        with b.lock:
            if pressed:
                action, alert = None, b.logic.pressed()
            else:
                action, alert = b.logic.released()
        if alert is not None:
            self._alert(b, alert)
        if action is None:
            return
        try:
            cmd = button_command(b.config, action)
        except ValueError as e:  # cannot happen with a validated config; never kill the pin thread
            logger.error("%s: %s", b.name, e)
            return
        logger.info("%s (%s %s): %s", b.name, b.config.kind, action, type(cmd).__name__)
        fut = self.controller.submit(cmd)
        fut.add_done_callback(functools.partial(self._done, b))

    def _done(self, b: _Button, fut: "Future[Any]") -> None:
        # On the controller's loop thread: read the outcome, enqueue feedback, return.
        ok, code, text = outcome(fut)
        b.last_result = code
        if not ok:
            self.refusals += 1
            logger.info("%s refused: %s (%s)", b.name, text, code)
            self.beep(self.config.buzzer_for(b.config.buzzer))

    def _alert(self, b: _Button, alert: str) -> None:
        lg = b.logic.rules
        if alert == "stuck":
            logger.warning("%s stuck down for %.0f s: ignored until released", b.name, lg.stuck_s)
            self._status(b, False, f"stuck down for more than {lg.stuck_s:.0f} s; check the "
                                   "button and its cable")
        elif alert == "chatter":
            logger.warning("%s chattering: ignored for %.0f s", b.name, lg.lockout_s)
            self._status(b, False, f"more than {lg.chatter_presses} presses (or "
                                   f"{lg.chatter_presses * lg.chatter_blips_per_press} contact "
                                   f"blips) in {lg.chatter_window_s:.0f} s; ignored for "
                                   f"{lg.lockout_s:.0f} s "
                                   "(check the button's contacts and cable)")
        elif alert in ("unstuck", "calm"):
            logger.info("%s works again", b.name)
            self._status(b, True, "")
        elif alert == "held" and getattr(b.config, "hold_action", None):
            # Tell the operator the long press has registered: release now.
            self.beep(self.config.buzzer_for(b.config.buzzer), 1)

    def _status(self, b: _Button, ok: bool, detail: str) -> None:
        self.controller.submit(DeviceStatus(device=b.name, ok=ok, detail=detail, source="gpio"))

    # -- controller loop thread ----------------------------------------------------
    def _on_applied(self, applied: Any) -> None:
        self._work.put(("snapshot", applied.snapshot))

    # -- worker thread: all output pins are driven from here -------------------------
    def _run(self) -> None:
        while not self.worker.stopped:
            try:
                item = self._work.get(timeout=self._tick_s)
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            try:
                if item is not None:
                    self._handle(item)
                self.tick()
            except Exception:  # a feedback failure must not end button handling
                logger.exception("gpio worker failed on %r", item)

    def tick(self) -> None:
        """Time-based button rules (stuck, lockout over, hold reached). The worker calls it."""
        for b in self.buttons:
            with b.lock:
                alert = b.logic.tick()
            if alert is not None:
                self._alert(b, alert)

    def _handle(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "snapshot":
            self._show(item[1])
        elif kind == "beep":
            name, count = item[1], item[2]
            buzzer = self.buzzers.get(name) if name else None
            if buzzer is not None:
                z = self.config.buzzers[name]
                buzzer.beep(on_time=z.beep_s, off_time=z.beep_s, n=count or z.beeps,
                             background=True)

    def _show(self, snapshot: QueueSnapshot) -> None:
        alarms = snapshot.alarms
        busy = {w.number: w.ticket is not None for w in snapshot.windows}
        for led_cfg, led in self.leds:
            printer_down = (led_cfg.printer is not None
                            and f"device:printer:{led_cfg.printer}" in alarms)
            if led_cfg.role == "ready":
                on = self._started and not printer_down
            elif led_cfg.role == "printer_problem":
                on = printer_down
            else:
                on = busy.get(led_cfg.window, False)
            if bool(led.value) != on:
                led.value = on
