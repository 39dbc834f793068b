"""Buttons, status LEDs and buzzers on the Pi's GPIO header, as one component.

gpiozero calls our edge handlers on its pin thread; they only update a ButtonLogic and
enqueue a command (controller.submit). Feedback (LEDs, buzzer) is driven from one named
worker thread fed by a queue: future done-callbacks and controller listeners only put
items on that queue. The worker also ticks the buttons: a release is only sure a
debounce time after it (edge/drivers/gpio/logic.py), so that is when a press acts.

A ticket button answers its visitor on the screens too (edge/kiosk/notices.py): a
refusal (no paper, closed, ...) in Kazakh and Russian, and "your ticket is printing" to
the presses of an impatient visitor while theirs prints.
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

from edge.config.buttons import OperatorButtonConfig, RatingButtonConfig, TicketButtonConfig
from edge.config.hardware import GpioConfig
from edge.drivers.gpio.actions import outcome, window_command
from edge.drivers.gpio.logic import ACTIONS, ButtonLogic, ButtonRules, Signal
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
    # A ticket button's last answer, given again to the same visitor's repeated presses:
    # (kind, code, params), e.g. ("info", "ticket_printing", {"ticket": "A-012"}).
    answer: tuple[str, str, dict[str, Any]] | None = None

    @property
    def name(self) -> str:
        return f"button:gpio{self.config.pin}"


def rules_of(cfg: Any) -> ButtonRules:
    return ButtonRules(debounce_s=cfg.debounce_ms / 1000, hold_s=cfg.hold_s,
                       min_interval_s=cfg.min_interval_s, chatter_presses=cfg.chatter_presses,
                       chatter_window_s=cfg.chatter_window_s, lockout_s=cfg.lockout_s,
                       stuck_s=cfg.stuck_s, repeats=isinstance(cfg, TicketButtonConfig))


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
                 now: Callable[[], float] = time.monotonic, tick_s: float = 0.1,
                 notices: Any = None) -> None:
        self.config = config
        self.controller = controller
        self.notices = notices          # edge.kiosk.notices.Notices, or None
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
                         else "down" if lg.down else "up")
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
            signals = b.logic.pressed() if pressed else b.logic.released()
            pending = b.logic.due_in() is not None
        self._act(b, signals)
        if pending:
            # The worker sleeps up to tick_s: wake it to act right when the release is sure.
            self._work.put(("wake",))

    def _act(self, b: _Button, signals: list[Signal]) -> None:
        """Do what the logic decided (on the pin thread or the worker: only enqueues)."""
        for signal in signals:
            if signal == "repeat":
                self._repeat(b)
            elif signal in ACTIONS:
                self._submit(b, signal)
            else:
                self._alert(b, signal)

    def _submit(self, b: _Button, action: str) -> None:
        try:
            cmd = button_command(b.config, action)
        except ValueError as e:  # cannot happen with a validated config; never kill the pin thread
            logger.error("%s: %s", b.name, e)
            return
        logger.info("%s (%s %s): %s", b.name, b.config.kind, action, type(cmd).__name__)
        if isinstance(cmd, IssueTicket):
            b.answer = ("info", "ticket_printing", {})    # until the controller answers
        fut = self.controller.submit(cmd)
        fut.add_done_callback(functools.partial(self._done, b))

    def _done(self, b: _Button, fut: "Future[Any]") -> None:
        # On the controller's loop thread: read the outcome, enqueue feedback, return.
        ok, code, text = outcome(fut)
        b.last_result = code
        visitor = isinstance(b.config, TicketButtonConfig)
        if ok and visitor:
            ticket = getattr(getattr(fut.result(), "reply", None), "ticket", None)
            b.answer = ("info", "ticket_printing", {"ticket": getattr(ticket, "label", "")})
        if not ok:
            self.refusals += 1
            logger.info("%s refused: %s (%s)", b.name, text, code)
            self.beep(self.config.buzzer_for(b.config.buzzer))
            if visitor and self.notices is not None:
                error = fut.exception()
                assert error is not None
                reason, params = self.notices.reason(error, b.config.printer)
                b.answer = ("refused", reason, params)
                self.notices.publish("refused", reason, params, printer=b.config.printer,
                                     source=f"gpio:{b.config.pin}")

    def _repeat(self, b: _Button) -> None:
        """The same visitor pressed again before min_interval_s: no second ticket; the
        first answer again (their ticket is printing, or why there is none)."""
        answer = b.answer or ("info", "ticket_printing", {})
        logger.info("%s: pressed again within %g s: one ticket", b.name, b.config.min_interval_s)
        if self.notices is not None:
            self.notices.publish(answer[0], answer[1], answer[2],
                                 printer=getattr(b.config, "printer", None),
                                 source=f"gpio:{b.config.pin}")
        self.beep(self.config.buzzer_for(b.config.buzzer), 1)

    def _alert(self, b: _Button, alert: Signal) -> None:
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
                item = self._work.get(timeout=self._wait_s())
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

    def _wait_s(self) -> float:
        # A pending release acts once it is sure: wake for it rather than at the next tick.
        dues = [self._tick_s]
        for b in self.buttons:
            with b.lock:
                due = b.logic.due_in()
            if due is not None:
                dues.append(max(0.005, due))
        return min(dues)

    def tick(self) -> None:
        """Time-based button rules (a release now sure, stuck, lockout over, hold reached).
        The worker calls it; tests may too."""
        for b in self.buttons:
            with b.lock:
                signals = b.logic.tick()
            self._act(b, signals)

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
