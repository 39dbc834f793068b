"""The board service: keeps every LED board showing the queue, one writer per bus.

After each commit the controller hands us the events and the new snapshot; we work out
each board's rows (window boards: the ticket at that window; hall boards: the last calls)
and enqueue the boards that changed. A new call or recall also makes the boards blink.
A board with `notices = true` (over the kiosk) also shows a visitor's refusal for a few
seconds (edge/kiosk/notices.py): Kazakh on the first row and Russian on the second, or
the two in turn on a one-row board.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from edge.config.boards import BoardConfig, BoardsConfig, FakeBusConfig, SerialBusConfig
from edge.drivers.boards.bus import BusWriter, FakeTransport, SerialTransport, Transport
from edge.drivers.boards.codecs import CODECS
from edge.queue.commands import DeviceStatus
from edge.control import QueueControl

if TYPE_CHECKING:
    from edge.queue.snapshot import QueueSnapshot
    from edge.component import AppContext

logger = logging.getLogger(__name__)

CALL_EVENTS = ("ticket.called", "ticket.recalled")


def board_rows(board: BoardConfig, snapshot: "QueueSnapshot") -> list[str]:
    """What a board shows for this snapshot of the queue."""
    fmt = board.call_format()
    if board.kind == "window":
        for w in snapshot.windows:
            if w.number == board.window and w.ticket:
                return [fmt.format(ticket=w.ticket, window=w.number)]
        return [board.idle_text]
    # Newest first, each ticket once: a recall moves the ticket back to the top (as the
    # hall page does), it does not push other calls off the board.
    calls, seen = [], set()
    for c in snapshot.recent_calls:
        if c.ticket not in seen:
            seen.add(c.ticket)
            calls.append(c)
    calls = calls[:board.rows]
    rows = [fmt.format(ticket=c.ticket, window=c.window) for c in calls]
    if not rows:
        rows = [board.idle_text]
    return rows + [""] * (board.rows - len(rows))


def notice_pages(board: BoardConfig, short: dict[str, str]) -> list[list[str]]:
    """A notice's board lines for this board: both languages at once if it has two rows."""
    kk, ru = short.get("kk", ""), short.get("ru", "")
    if board.rows >= 2:
        return [[kk, ru] + [""] * (board.rows - 2)]
    return [[kk], [ru]] if kk != ru else [[kk]]


def make_transport(name: str, bus: Any, state_dir: Path | None = None) -> Transport:
    """The bus's `type` chooses: a serial line, or the fake that logs frames (the demo)."""
    if isinstance(bus, FakeBusConfig):
        path = getattr(bus, "path", None)
        # A relative frame log lives in the state dir, like the other files we write.
        if path is not None and state_dir is not None and not Path(path).is_absolute():
            path = state_dir / path
        return FakeTransport(path)
    assert isinstance(bus, SerialBusConfig)
    return SerialTransport(bus.port, bus.baudrate, bus.framing, bus.write_timeout_s)


class BoardsService:
    """Component 'boards': every [boards.buses.NAME] with its boards."""

    name = "boards"

    def __init__(self, config: BoardsConfig, controller: QueueControl, *,
                 transports: dict[str, Transport] | None = None,
                 now: Callable[[], float] = time.monotonic, state_dir: Path | None = None,
                 notices: Any = None) -> None:
        self.config = config
        self.notices = notices
        self.state_dir = state_dir
        self.controller = controller
        self.writers: dict[str, BusWriter] = {}
        for bus_name, bus in config.buses.items():
            transport = (transports or {}).get(bus_name) or make_transport(bus_name, bus, self.state_dir)
            reconnect = bus.reconnect_s if isinstance(bus, SerialBusConfig) else 1.0
            self.writers[bus_name] = BusWriter(
                bus_name, transport, CODECS[bus.codec], bus.boards, gap_s=bus.gap_ms / 1000,
                blink_s=bus.blink_s, reconnect_s=reconnect,
                on_state=self._state_reporter(bus_name), now=now)

    def _state_reporter(self, bus_name: str) -> Callable[[bool, str], None]:
        def report(up: bool, detail: str) -> None:
            # The alarm shows on the supervisor's screen and reaches central; calls go on.
            self.controller.submit(DeviceStatus(device=f"boards:{bus_name}", ok=up,
                                                detail=detail, source="boards"))
        return report

    def start(self) -> None:
        from edge.drivers.serial_inputs.ports import check_present
        from edge.errors import DeviceError

        for bus_name, bus in self.config.buses.items():
            if isinstance(bus, SerialBusConfig) and bus.required:
                try:
                    check_present(bus.port, f"boards.buses.{bus_name}.port")
                except DeviceError as e:
                    # Boards never stop the queue: the alarm names the port and the ports
                    # present now; the bus's writer opens it once it is plugged in.
                    logger.error("%s (the queue runs; retried every %g s)", e, bus.reconnect_s)
                    self._state_reporter(bus_name)(False, str(e))
        self.update(self.controller.snapshot, blink_windows=())
        self.controller.subscribe(self._on_applied)
        if self.notices is not None and any(
                b.notices for bus in self.config.buses.values() for b in bus.boards):
            self.notices.subscribe(self.on_notice)
        for writer in self.writers.values():
            writer.start()

    def stop(self, timeout: float = 5.0) -> None:
        for writer in self.writers.values():
            writer.stop(timeout)

    def health(self) -> dict[str, Any]:
        buses = {name: w.health() for name, w in self.writers.items()}
        return {"ok": all(b["ok"] for b in buses.values()), "buses": buses}

    def _on_applied(self, applied: Any) -> None:
        # Controller loop thread: compute rows (a few string formats) and enqueue only.
        called = {e.data.get("window") for e in applied.events if e.type in CALL_EVENTS}
        if called or any(e.type.startswith(("ticket.", "window.", "day.")) for e in applied.events):
            self.update(applied.snapshot, blink_windows=called)

    def on_notice(self, notice: Any) -> None:
        """A visitor's notice (any thread): the notice boards show it for a while."""
        for writer in self.writers.values():
            for address, state in writer.boards.items():
                if state.config.notices:
                    writer.notice(address, notice_pages(state.config, notice.short),
                                  notice.show_s)

    def update(self, snapshot: Any, *, blink_windows: Any) -> None:
        for writer in self.writers.values():
            for address, state in writer.boards.items():
                board = state.config
                blink = bool(blink_windows) and (board.kind == "hall"
                                                 or board.window in blink_windows)
                writer.show(address, board_rows(board, snapshot), blink=blink)


def build(ctx: "AppContext") -> list[Any]:
    return [BoardsService(ctx.config.boards, ctx.controller, state_dir=ctx.state_dir,
                          notices=ctx.components.get("notices"))]


__all__ = ["BoardsService", "board_rows", "build"]
