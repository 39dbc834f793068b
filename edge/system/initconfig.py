"""A first config for a center: its names, services, windows, printers found on the box.

The text is TOML written here key by key (every string through json.dumps, which TOML's
basic strings accept), then validated exactly as `kezek check-config` does before it is
written anywhere.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from edge.system.ports import Port

SERVICE_RE = re.compile(r"^(?P<id>[a-z0-9][a-z0-9_-]{0,31}):(?P<prefix>[A-Z]):(?P<kk>[^:]+):(?P<ru>[^:]+)$")


class InitError(ValueError):
    pass


@dataclass
class Service:
    id: str
    prefix: str
    kk: str
    ru: str


@dataclass
class CenterPlan:
    site: str
    name_kk: str
    name_ru: str
    services: list[Service]
    windows: int
    device: str = "edge-1"
    timezone: str = "Asia/Almaty"
    benefit_window: int | None = None
    printers: list[Port] = field(default_factory=list)
    hall_port: int | None = 8080
    clips: Path | None = Path("/var/lib/kezek/clips")
    audio_device: str = "default"


def parse_service(text: str) -> Service:
    m = SERVICE_RE.match(text.strip())
    if not m:
        raise InitError(f"--service {text!r}: write ID:PREFIX:KAZAKH NAME:RUSSIAN NAME, e.g. "
                        "docs:A:Жеке куәлік:Удостоверение личности (id in small Latin letters, "
                        "prefix one capital Latin letter)")
    return Service(m["id"], m["prefix"], m["kk"].strip(), m["ru"].strip())


def printer_from(spec: str) -> Port:
    """A printer given on the command line: a serial path, /dev/usb/lpN, or usb:VID:PID."""
    if spec.startswith("usb:"):
        parts = spec.split(":")
        try:
            vid, pid = int(parts[1], 16), int(parts[2], 16)
        except (IndexError, ValueError):
            raise InitError(f"--printer {spec!r}: write usb:VVVV:PPPP as lsusb shows it, e.g. "
                            "usb:04b8:0e15") from None
        return Port(spec, spec, kind="usb", vendor_id=vid, product_id=pid, guess="printer")
    if spec.startswith("/dev/usb/lp"):
        return Port(spec, spec, kind="usblp", guess="printer")
    if spec.startswith("/dev/"):
        return Port(spec, spec, guess="printer", baudrate=9600)
    raise InitError(f"--printer {spec!r}: give a serial port (/dev/serial/by-id/...), a USB "
                    "printer node (/dev/usb/lp0), usb:VID:PID, auto or none")


def q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def render(plan: CenterPlan) -> str:
    if not plan.services:
        raise InitError("at least one --service is needed")
    if plan.windows < 1:
        raise InitError("--windows must be 1 or more")
    out = ["# The first config of this center, written by `kezek init`; every key is in",
           "# docs/config.md. Check it after any change: kezek check-config FILE", "",
           "[center]", f"site = {q(plan.site)}", f"device = {q(plan.device)}",
           f"name = {{ kk = {q(plan.name_kk)}, ru = {q(plan.name_ru)} }}",
           f"timezone = {q(plan.timezone)}", 'languages = ["kk", "ru"]', ""]
    for s in plan.services:
        out += ["[[services]]", f"id = {q(s.id)}", f"names = {{ kk = {q(s.kk)}, ru = {q(s.ru)} }}",
                f"prefix = {q(s.prefix)}", ""]
    weights = ", ".join(f"{s.id} = 1" for s in plan.services)
    for n in range(1, plan.windows + 1):
        benefit = n == plan.benefit_window
        label = ("Жеңілдік терезесі / Льготное окно" if benefit
                 else f"{n}-терезе / Окно {n}")
        out += ["[[windows]]", f"number = {n}", f"label = {q(label)}",
                f"services = {{ {weights} }}"] + (["benefit = true"] if benefit else []) + [""]
    names = _printer_names(plan.printers)
    for name, port in zip(names, plan.printers):
        lines = port.config_lines()
        out += [lines[0].replace("[printers.kiosk]", f"[printers.{name}]")] + lines[1:] + \
               ['mode = "raster"', "paper_mm = 80", ""]
    if not plan.printers:
        out += ["# No printer found: add one (kezek ports lists what is plugged in), e.g.",
                "# [printers.kiosk]", '# type = "serial"',
                '# port = "/dev/serial/by-id/..."', ""]
    if plan.hall_port:
        out += ["# The hall screen; the TV's browser shows it (scripts/install.sh --tv).",
                "[hall]", "enabled = true", 'bind = "127.0.0.1"', f"port = {plan.hall_port}", ""]
    if plan.clips is not None:
        out += ["# Calls spoken from clips (`kezek clips --out DIR` makes a first set).",
                "[announce]", "enabled = true", 'languages = ["kk", "ru"]',
                f"chime = {q(str(plan.clips / 'chime.wav'))}",
                f"folders = {{ kk = {q(str(plan.clips / 'kk'))}, ru = {q(str(plan.clips / 'ru'))} }}",
                f'output = {{ type = "alsa", device = {q(plan.audio_device)} }}', ""]
    return "\n".join(out)


def _printer_names(printers: list[Port]) -> list[str]:
    return ["kiosk" if i == 0 else f"kiosk{i + 1}" for i in range(len(printers))]


def problems_of(text: str, source: str) -> list[str]:
    """Everything `kezek check-config` would say about `text` (empty: valid)."""
    import tomllib

    from edge.config import parse_config
    from edge.errors import ConfigError
    try:
        config = parse_config(tomllib.loads(text), source)
    except tomllib.TOMLDecodeError as e:
        return [f"not valid TOML: {e}"]
    except ConfigError as e:
        return list(e.problems)
    if config.printers:
        from edge.drivers.printing.check import printing_problems
        return list(printing_problems(config))
    return []
