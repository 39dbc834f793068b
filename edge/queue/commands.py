"""Commands the engine accepts: everything that changes the queue is one of these.

Hardware callbacks, the console, MQTT and timers build commands and enqueue them on the
controller; only the controller's loop hands them to the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge.queue.model import Category, Service, Window
from edge.queue.policies import Policies


@dataclass(frozen=True)
class Command:
    """Base class. `source` names who asked (console, gpio:17, mqtt:cmd-id, timer).

    `operator`: the operator who asked, from a signed-in panel (edge/panel). A command at a
    window that names an operator is refused unless that operator is signed in there
    (engine/operators.py); without one (keypad, console) the window's operator is named.
    """

    operator: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class IssueTicket(Command):
    """A walk-in ticket. `token`: the visitor page's secret (edge/queue/tokens.py), made by the
    controller when the command is submitted, never by the engine (which stays pure)."""

    service: str
    category: Category = Category.NORMAL
    printer: str | None = None     # the kiosk printer that will print it; None = no paper
    source: str = "console"
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CallNext(Command):
    window: int
    source: str = "console"


@dataclass(frozen=True)
class CallTicket(Command):
    """Call today's ticket `label` to `window`: a waiting or parked one, or a no-show that
    came back (policies.no_show_return_min after its no-show; docs/queue.md)."""

    window: int
    label: str                     # "A-001" (today's ticket with that number)
    source: str = "console"


@dataclass(frozen=True)
class Recall(Command):
    window: int
    source: str = "console"


@dataclass(frozen=True)
class NoShow(Command):
    window: int
    source: str = "console"


@dataclass(frozen=True)
class StartService(Command):
    window: int
    source: str = "console"


@dataclass(frozen=True)
class Finish(Command):
    window: int
    source: str = "console"


@dataclass(frozen=True)
class Transfer(Command):
    window: int
    service: str
    source: str = "console"
    note: str = ""                 # for the next stage's operator (kept on the ticket)


@dataclass(frozen=True)
class Park(Command):
    window: int
    source: str = "console"


@dataclass(frozen=True)
class Unpark(Command):
    label: str
    source: str = "console"


@dataclass(frozen=True)
class ReturnTicket(Command):
    """A no-show of today whose visitor came back goes to the end of its service's line."""

    label: str
    source: str = "console"


@dataclass(frozen=True)
class PauseWindow(Command):
    window: int
    source: str = "console"
    reason: str = ""               # break, technical, paperwork (the panel's choices)


@dataclass(frozen=True)
class ResumeWindow(Command):
    window: int
    source: str = "console"


@dataclass(frozen=True)
class OpenWindow(Command):
    window: int
    source: str = "console"


@dataclass(frozen=True)
class CloseWindow(Command):
    window: int
    source: str = "console"


@dataclass(frozen=True)
class Rate(Command):
    window: int
    score: int
    source: str = "console"


@dataclass(frozen=True)
class SignIn(Command):
    """Operator `operator` starts work at `window` (the panel). A window has at most one."""

    window: int
    source: str = "panel"


@dataclass(frozen=True)
class SignOut(Command):
    """The operator at `window` stops work there; `reason`: sign_out, idle, moved..."""

    window: int
    reason: str = "sign_out"
    source: str = "panel"


@dataclass(frozen=True)
class DeskView(Command):
    """Query (no change): what the panel of `window` shows (engine/desk.py)."""

    window: int
    source: str = "panel"


@dataclass(frozen=True)
class Tick(Command):
    """Time passes: timers enqueue this so time-based rules (day change, alarms) run."""

    source: str = "timer"


@dataclass(frozen=True)
class DeviceStatus(Command):
    """A device reports whether it works; raises or clears the alarm `device:<name>`.

    `blocks_issue` marks a kiosk printer: while it is down, tickets for that printer are
    refused (no ghost tickets).
    """

    device: str
    ok: bool
    detail: str = ""
    blocks_issue: bool = False
    source: str = "driver"


@dataclass(frozen=True)
class TicketPrinted(Command):
    """The printer driver reports the outcome of printing ticket `ticket_id`."""

    ticket_id: int
    ok: bool
    detail: str = ""
    source: str = "printer"


@dataclass(frozen=True)
class VoidTicket(Command):
    """Withdraw a waiting ticket whose paper never came out (the visitor has nothing)."""

    ticket_id: int
    reason: str
    source: str = "printer"


@dataclass(frozen=True)
class RecordEvent(Command):
    """Append an event that is not a queue change (a command result, a rejected payload).

    Going through the loop keeps the outbox sequence in one owner's hands.
    """

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    source: str = "system"


@dataclass(frozen=True)
class Reconfigure(Command):
    """Apply new services / windows / policies (SIGHUP reload, or cfg from central).

    Made by edge.config.domain.reconfigure(), which turns the config into the engine's
    domain objects. `config` is the whole validated AppConfig, carried as an opaque value
    (the engine never reads it): once committed, the controller makes it the running
    configuration every component reads. `file_config` is the config file it came from
    when it was (re)loaded from the file (SIGHUP), None for central's cfg (merged over
    the file as it was): what the next cfg from central is merged over.
    """

    config: object
    services: tuple[Service, ...]
    windows: tuple[Window, ...]
    policies: Policies
    source: str = "system"
    file_config: object = None


@dataclass(frozen=True)
class PrintJobs(Command):
    """Query (no change): tickets that must still be printed, as ticket.issued-like dicts."""

    printer: str | None = None
    source: str = "printer"


@dataclass(frozen=True)
class Reprint(Command):
    """Print a ticket again (central command, or an operator's request): emits ticket.reprint."""

    label: str
    printer: str | None = None
    source: str = "console"


@dataclass(frozen=True)
class LoadBookings(Command):
    """Replace / add bookings (from central's retained snapshot or a file); see issue 5."""

    bookings: tuple[Any, ...]
    version: int | None = None
    source: str = "system"


@dataclass(frozen=True)
class CheckIn(Command):
    """A booked visitor checks in at the kiosk with the booking code (typed or scanned).

    Issues a ticket in the booked service, marked booked, or is refused with a reason
    (edge.queue.policies.Refusal: code + params for the kiosk text).
    """

    code: str
    printer: str | None = None     # the kiosk printer that will print the ticket
    source: str = "kiosk"
    token: str | None = field(default=None, repr=False)   # as IssueTicket.token


@dataclass(frozen=True)
class CheckInIin(Command):
    """A booked visitor checks in with the IIN (12 digits). The IIN is hashed at once and
    never stored, logged or put in an event; it is left out of repr()."""

    iin: str = field(repr=False)
    printer: str | None = None
    source: str = "kiosk"
    token: str | None = field(default=None, repr=False)   # as IssueTicket.token
