"""Rules between sections (references, values that must be unique), checked on the file's data.

They read the data as written in the file, not the typed models, so that they still run
when some keys have errors: a window naming an unknown service is reported in the same
run as a wrong type elsewhere. A value with an error of its own is left out (its error is
already listed), and a reference to an item that has errors is not reported as unknown:
"no service with id 'docs'" would be false when service 'docs' exists with a bad prefix.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

Loc = tuple[Any, ...]

BUTTON_KINDS = ("ticket", "operator", "rating")


class Doc:
    """The file's data and the key paths that have errors of their own."""

    def __init__(self, data: Any, bad: Iterable[Loc] = ()) -> None:
        self.data = data if isinstance(data, dict) else {}
        self.bad = {tuple(b) for b in bad}

    def get(self, *loc: Any) -> Any:
        node: Any = self.data
        for part in loc:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                return None
        return node

    def has_errors(self, *loc: Any) -> bool:
        """An error at `loc` or inside it."""
        return any(b[:len(loc)] == loc for b in self.bad)

    def table(self, *loc: Any) -> dict[Any, Any]:
        v = self.get(*loc)
        return v if isinstance(v, dict) else {}

    def array(self, *loc: Any) -> list[Any]:
        v = self.get(*loc)
        return v if isinstance(v, list) else []

    def text(self, *loc: Any) -> str | None:
        """A string value without an error of its own; else None (nothing to check)."""
        v = self.get(*loc)
        return v if isinstance(v, str) and not self.has_errors(*loc) else None

    def number(self, *loc: Any) -> int | None:
        v = self.get(*loc)
        ok = isinstance(v, int) and not isinstance(v, bool) and not self.has_errors(*loc)
        return v if ok else None

    def usable_section(self, *loc: Any) -> bool:
        """The section is absent (its default) or of the right shape, with no error on itself."""
        return loc not in self.bad and (self.get(*loc) is None
                                        or isinstance(self.get(*loc), (dict, list)))


def _path(loc: Loc) -> str:
    return ".".join(str(p) for p in loc)


class Targets:
    """The names one section defines, for the references of the others to be checked against."""

    def __init__(self, message: Callable[[Any, str], str]) -> None:
        self.message = message
        self.good: list[Any] = []
        self.with_errors: list[Any] = []
        # False when a name cannot be read (missing, wrong type, the section is broken):
        # then an "unknown" reference may well mean that one, and nothing is reported.
        self.complete = True

    def add(self, name: Any, has_errors: bool) -> None:
        (self.with_errors if has_errors else self.good).append(name)

    def known(self) -> str:
        names = list(dict.fromkeys(self.good + self.with_errors))
        return ", ".join(map(str, names)) or "none"

    def check(self, loc: Loc, value: Any, problems: list[str]) -> None:
        if value is None or not self.complete:
            return
        if value in self.good or value in self.with_errors:
            return  # an item with errors: its own lines say what to fix
        problems.append(f"{_path(loc)}: {self.message(value, self.known())}")


def _services(doc: Doc, problems: list[str]) -> Targets:
    t = Targets(lambda v, known: f"no service with id {v!r} (known: {known})")
    t.complete = doc.usable_section("services")
    first_id: dict[str, int] = {}
    first_prefix: dict[str, int] = {}
    for i, s in enumerate(doc.array("services")):
        sid = doc.get("services", i, "id")
        if not isinstance(sid, str):
            t.complete = False
        else:
            t.add(sid, doc.has_errors("services", i))
        sid = doc.text("services", i, "id")
        if (j := _seen_before(first_id, sid, i)) is not None:
            problems.append(f"services.{i}.id: service id {sid!r} is used twice "
                            f"(also services.{j}.id)")
        prefix = doc.text("services", i, "prefix")
        if (j := _seen_before(first_prefix, prefix, i)) is not None:
            problems.append(f"services.{i}.prefix: prefix {prefix!r} is used by two services "
                            f"(also services.{j}.prefix)")
    return t


def _windows(doc: Doc, problems: list[str]) -> Targets:
    t = Targets(lambda v, known: f"no window number {v} in [[windows]] (known: {known})")
    t.complete = doc.usable_section("windows")
    first: dict[int, int] = {}
    for i, _ in enumerate(doc.array("windows")):
        raw = doc.get("windows", i, "number")
        if not isinstance(raw, int) or isinstance(raw, bool):
            t.complete = False
        else:
            t.add(raw, doc.has_errors("windows", i))
        number = doc.number("windows", i, "number")
        if (j := _seen_before(first, number, i)) is not None:
            problems.append(f"windows.{i}.number: window number {number} is used twice "
                            f"(also windows.{j}.number)")
    return t


def _seen_before(first: dict[Any, int], value: Any, i: int) -> int | None:
    """Where `value` was first used (None: not before, and item `i` is now its first use)."""
    if value is None:
        return None
    if value in first:
        return first[value]
    first[value] = i
    return None


def _named(doc: Doc, loc: Loc, message: Callable[[Any, str], str]) -> Targets:
    """Targets of a [section.NAME] table: its names are its keys, always readable."""
    t = Targets(message)
    t.complete = doc.usable_section(*loc)
    for name in doc.table(*loc):
        t.add(name, doc.has_errors(*loc, name))
    return t


def _unique(doc: Doc, places: list[tuple[Loc, Any]], problems: list[str],
            message: Callable[[Any, Loc], str]) -> None:
    """One line for each value used again, at its second use, naming the first."""
    seen: dict[Any, Loc] = {}
    for loc, value in places:
        if value is None:
            continue
        if value in seen:
            problems.append(f"{_path(loc)}: {message(value, seen[value])}")
        else:
            seen[value] = loc


def cross_section_problems(data: Any, bad: Iterable[Loc] = ()) -> list[str]:
    """Every problem between sections, one line each naming the key as written in the file.

    `bad` holds the key paths (as in the file) that have errors of their own; they and
    references to items with errors are left out. Empty when all is consistent."""
    doc = Doc(data, bad)
    problems: list[str] = []
    services = _services(doc, problems)
    windows = _windows(doc, problems)
    printers = _named(doc, ("printers",), lambda v, known:
                      f"no printer named {v!r} in [printers] (known: {known})")
    buzzers = _named(doc, ("gpio", "buzzers"), lambda v, known:
                     f"no buzzer named {v!r} in [gpio.buzzers] (known: {known})")

    served: set[Any] = set()
    for i, _ in enumerate(doc.array("windows")):
        # The keys are the references; a bad weight does not make its service name wrong.
        for sid in doc.table("windows", i, "services"):
            services.check(("windows", i, "services", sid), sid, problems)
            served.add(sid)
    # A window whose services table is unreadable (services = true) may serve any of them.
    if doc.usable_section("windows") and all(
            isinstance(doc.get("windows", i, "services"), dict)
            for i, _ in enumerate(doc.array("windows"))):
        _unserved(doc, served, problems)
    for sid in doc.table("policies", "services"):
        services.check(("policies", "services", sid), sid, problems)
    printers.check(("console", "printer"), doc.text("console", "printer"), problems)

    _gpio(doc, services, windows, printers, buzzers, problems)
    _boards(doc, windows, problems)
    _kiosk(doc, services, printers, problems)
    _panel(doc, services, windows, problems)
    return problems


def _panel(doc: Doc, services: Targets, windows: Targets, problems: list[str]) -> None:
    _unique(doc, [(("operators", i, "id"), doc.text("operators", i, "id"))
                  for i, _ in enumerate(doc.array("operators"))], problems,
            lambda v, first: f"operator id {v!r} is used twice (also {_path(first)})")
    for i, _ in enumerate(doc.array("operators")):
        for j, sid in enumerate(doc.array("operators", i, "services")):
            if isinstance(sid, str) and not doc.has_errors("operators", i, "services", j):
                services.check(("operators", i, "services", j), sid, problems)
    pcs = [(("panel", "pcs", i, "address"), doc.text("panel", "pcs", i, "address"))
           for i, _ in enumerate(doc.array("panel", "pcs"))]
    _unique(doc, pcs, problems, lambda v, first: f"PC {v} is bound twice (also {_path(first)})")
    for i, _ in enumerate(doc.array("panel", "pcs")):
        windows.check(("panel", "pcs", i, "window"), doc.number("panel", "pcs", i, "window"),
                      problems)
    if doc.get("panel", "enabled") is True:
        port = _port(doc, "panel", 8082)
        for other, default in (("hall", 8080), ("kiosk", 8081)):
            if port and doc.get(other, "enabled") is True and port == _port(doc, other, default):
                problems.append(f"panel.port: port {port} is also the {other} page's "
                                f"({other}.port); give the panel its own, e.g. 8082")


def _kiosk(doc: Doc, services: Targets, printers: Targets, problems: list[str]) -> None:
    printers.check(("kiosk", "printer"), doc.text("kiosk", "printer"), problems)
    for i, sid in enumerate(doc.array("kiosk", "services")):
        if isinstance(sid, str) and not doc.has_errors("kiosk", "services", i):
            services.check(("kiosk", "services", i), sid, problems)
    if doc.get("kiosk", "enabled") is True and doc.get("hall", "enabled") is True:
        kiosk_port, hall_port = _port(doc, "kiosk", 8081), _port(doc, "hall", 8080)
        if kiosk_port and kiosk_port == hall_port:
            problems.append(f"kiosk.port: port {kiosk_port} is also the hall screen's "
                            f"(hall.port); give the kiosk page its own, e.g. 8081")


def _port(doc: Doc, section: str, default: int) -> int | None:
    """The port a web section listens on (its default when not written; None when wrong)."""
    return default if doc.get(section, "port") is None else doc.number(section, "port")


def _unserved(doc: Doc, served: set[Any], problems: list[str]) -> None:
    """A service no window lists: its visitors would get a ticket and wait for a call that
    cannot come (the engine refuses transfers to it for the same reason)."""
    for i, _ in enumerate(doc.array("services")):
        sid = doc.text("services", i, "id")
        if sid is not None and sid not in served:
            problems.append(f"services.{i}: no window serves service {sid!r}, so its "
                            f"visitors would never be called; add it to a window "
                            f"(services = {{ {sid} = 1 }} under [[windows]]) or remove it")


def _gpio(doc: Doc, services: Targets, windows: Targets, printers: Targets, buzzers: Targets,
          problems: list[str]) -> None:
    pins: list[tuple[Loc, Any]] = []
    for i, _ in enumerate(doc.array("gpio", "buttons")):
        p = ("gpio", "buttons", i)
        pins.append((p + ("pin",), doc.number(*p, "pin")))
        buzzers.check(p + ("buzzer",), doc.text(*p, "buzzer"), problems)
        kind = doc.get(*p, "kind")
        if kind == "ticket":
            services.check(p + ("service",), doc.text(*p, "service"), problems)
            printers.check(p + ("printer",), doc.text(*p, "printer"), problems)
        elif kind in ("operator", "rating"):
            windows.check(p + ("window",), doc.number(*p, "window"), problems)
        if kind == "operator":
            services.check(p + ("transfer_service",), doc.text(*p, "transfer_service"), problems)
    for i, _ in enumerate(doc.array("gpio", "leds")):
        p = ("gpio", "leds", i)
        pins.append((p + ("pin",), doc.number(*p, "pin")))
        printers.check(p + ("printer",), doc.text(*p, "printer"), problems)
        windows.check(p + ("window",), doc.number(*p, "window"), problems)
    for name in doc.table("gpio", "buzzers"):
        pins.append((("gpio", "buzzers", name, "pin"), doc.number("gpio", "buzzers", name, "pin")))
    _unique(doc, pins, problems, lambda pin, first:
            f"GPIO {pin} is already used by {_path(first)}; give each button, LED and buzzer "
            f"its own pin")

    ports: list[tuple[Loc, Any]] = []
    for i, _ in enumerate(doc.array("gpio", "serial_inputs")):
        p = ("gpio", "serial_inputs", i)
        ports.append((p + ("port",), doc.text(*p, "port")))
        kind = doc.get(*p, "type")
        if kind in ("scanner", "numpad"):
            printers.check(p + ("printer",), doc.text(*p, "printer"), problems)
            buzzers.check(p + ("buzzer",), doc.text(*p, "buzzer"), problems)
        elif kind == "keypad":
            windows.check(p + ("window",), doc.number(*p, "window"), problems)
            services.check(p + ("transfer_service",), doc.text(*p, "transfer_service"), problems)
            for addr in doc.table(*p, "addresses"):
                windows.check(p + ("addresses", addr), doc.number(*p, "addresses", addr), problems)
    _unique(doc, ports, problems, lambda port, first:
            f"{port!r} is already used by {_path(first[:-1])}; one serial port serves one input")


def _boards(doc: Doc, windows: Targets, problems: list[str]) -> None:
    ports: list[tuple[Loc, Any]] = []
    for name in doc.table("boards", "buses"):
        p = ("boards", "buses", name)
        if doc.get(*p, "type") == "serial":
            ports.append((p + ("port",), doc.text(*p, "port")))
        addresses: list[tuple[Loc, Any]] = []
        alpha = doc.get(*p, "codec") == "alpha"
        for i, _ in enumerate(doc.array(*p, "boards")):
            b = p + ("boards", i)
            windows.check(b + ("window",), doc.number(*b, "window"), problems)
            addresses.append((b + ("address",), doc.number(*b, "address")))
            charset = doc.text(*b, "charset")
            if alpha and charset not in (None, "latin"):
                problems.append(f"{_path(b + ('charset',))}: charset {charset!r}, but the alpha "
                                f"codec of bus {name!r} sends 7-bit ASCII; use charset = 'latin' "
                                f"(Cyrillic is transliterated)")
        _unique(doc, addresses, problems, lambda addr, first:
                f"address {addr} is also used by {_path(first[:-1])}; every board on one bus "
                f"needs its own address")
    _unique(doc, ports, problems, lambda port, first:
            f"{port!r} is also used by bus {first[-2]!r}; put all boards of one line in one bus")
