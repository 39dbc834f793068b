"""`kezek doctor`'s device probes: printers, serial ports, GPIO pins, and what is simulated."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edge.config import AppConfig
from edge.system.doctor.check import Check
from edge.system.doctor.holders import port_holders
from edge.system.simulated import simulated_devices


def check_printers(config: AppConfig, state_dir: Path) -> list[Check]:
    """Open each printer with the printing driver's own transport and ask its status."""
    if not config.printers:
        return []
    from edge.drivers.printing.check import printing_problems
    from edge.drivers.printing.transports import make_transport
    from edge.errors import DeviceError

    rows: list[Check] = []
    for problem in printing_problems(config):
        rows.append(Check("printer config", False, problem,
                          "fix the key named at the start of the line, then run doctor again"))
    simulated = {s.key.split(".")[1] for s in simulated_devices(config)
                 if s.key.startswith("printers.")}
    for name, pc in config.printers.items():
        if name in simulated:
            continue  # check_simulated reports it: "ready" would mean nothing
        label = f"printer {name}"
        transport = make_transport(name, pc, state_dir)
        try:
            transport.open()
            status = transport.status()
        except DeviceError as e:
            rows.append(Check(label, False, f"{transport.where}: {e.problem}", e.hint))
            continue
        except Exception as e:  # a driver library's own error (pyusb without libusb, ...)
            rows.append(Check(label, False, f"{transport.where}: {type(e).__name__}: {e}",
                              "check the cable and the printer's power; see docs/printing.md"))
            continue
        finally:
            transport.close()
        if not status.ok:
            rows.append(Check(label, False, f"{transport.where}: {status.detail}",
                              status.detail.split(": ", 1)[-1] if ": " in status.detail
                              else "check the printer"))
        elif status.paper_low:
            rows.append(Check(label, True, f"{transport.where}: ready, paper near end "
                                           "(put a new roll in soon)"))
        else:
            polled = "status polled" if transport.can_poll else "no status (status = \"none\")"
            rows.append(Check(label, True, f"{transport.where}: ready, {polled}"))
    return rows


def check_simulated(config: AppConfig) -> list[Check]:
    """A fail per simulated device (mock GPIO, fake/file printers, fake boards, a sound
    output to a file): fine in `kezek demo`, but on a center's box nothing physical works."""
    return [Check(f"simulated {s.key.split(' = ')[0].rsplit('.', 1)[0]}", False,
                  f"{s.key}: {s.what}", s.fix)
            for s in simulated_devices(config)]


def serial_ports(config: AppConfig) -> list[tuple[str, str]]:
    """(what, port) for every serial device other than printers (they are probed above)."""
    ports: list[tuple[str, str]] = []
    for i, s in enumerate(config.gpio.serial_inputs):
        ports.append((f"gpio.serial_inputs.{i} ({s.type})", s.port))
    for name, bus in config.boards.buses.items():
        port = getattr(bus, "port", None)
        if port:
            ports.append((f"boards.buses.{name}", port))
    return ports


def check_serial_port(what: str, port: str, proc: Path = Path("/proc")) -> Check:
    label = f"serial {what}"
    if not os.path.exists(port):
        return Check(label, False, f"{port}: no such device",
                     "plug the adapter in; list ports with `ls -l /dev/serial/by-id/` and put "
                     "that path in the config")
    holders = port_holders(port, proc)
    if holders:
        return Check(label, False, f"{port}: in use by {', '.join(holders)}",
                     "stop that program (if it is kezek itself: systemctl stop kezek, or use "
                     "`kezek status` instead)")
    import serial
    try:
        s = serial.Serial(port, timeout=0, write_timeout=0, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as e:
        hint = ("add the service user to group dialout (sudo usermod -aG dialout kezek)"
                if "ermission" in str(e) else "check the adapter and the port name")
        return Check(label, False, f"{port}: cannot open: {e}", hint)
    s.close()
    return Check(label, True, f"{port}: present and free")


def gpio_pins(config: AppConfig) -> list[tuple[str, int]]:
    g = config.gpio
    return ([(f"gpio.buttons.{i}", b.pin) for i, b in enumerate(g.buttons)]
            + [(f"gpio.leds.{i}", led.pin) for i, led in enumerate(g.leds)]
            + [(f"gpio.buzzers.{n}", z.pin) for n, z in g.buzzers.items()])


def check_gpio(config: AppConfig, factory: Any = None) -> list[Check]:
    """Claim each configured pin as an input for a moment, then release it.

    `factory` is a gpiozero pin factory; None builds the configured one. Claiming fails
    when another process (the running service) holds the pin, or the pin does not exist.
    """
    pins = gpio_pins(config)
    if not pins:
        return []
    from edge.errors import DeviceError
    if factory is None and config.gpio.pin_factory == "mock":
        return []  # check_simulated reports it: mock pins are always "available"
    if factory is None:
        from edge.drivers.gpio.pins import make_pin_factory
        try:
            factory = make_pin_factory(config.gpio.pin_factory)
            if factory is None:
                from gpiozero import Device
                factory = Device._default_pin_factory()
        except DeviceError as e:
            return [Check("gpio", False, e.problem, e.hint)]
        except Exception as e:  # gpiozero's own: no pin library works on this machine
            return [Check("gpio", False, f"no pin library works here: {e}",
                          "on a Pi 5 install lgpio (pip install lgpio) and set "
                          "gpio.pin_factory = 'lgpio'; on a laptop use 'mock'")]
    from gpiozero import DigitalInputDevice
    rows: list[Check] = []
    for what, pin in pins:
        label = f"gpio {pin} ({what})"
        try:
            dev = DigitalInputDevice(pin, pull_up=None, active_state=True, pin_factory=factory)
        except Exception as e:  # GPIOPinInUse, PinInvalidPin, lgpio's 'GPIO busy'
            rows.append(Check(label, False, f"cannot claim GPIO {pin}: {type(e).__name__}: {e}",
                              "another program (or kezek itself) uses the pin: stop it, or check "
                              "the BCM number; the service user must be in group gpio"))
            continue
        dev.close()
        rows.append(Check(label, True, f"GPIO {pin} available"))
    return rows
