"""Devices and alarms: a device's status, and events or alarms other parts record."""

from __future__ import annotations

from edge.errors import CommandError
from edge.queue import commands as c
from edge.queue.engine.draft import Draft, Handler
from edge.queue.engine.state import Reply


def device_status(d: Draft, cmd: c.DeviceStatus) -> None:
    before = d.devices.get(cmd.device)
    now = {"ok": cmd.ok, "detail": cmd.detail, "blocks_issue": cmd.blocks_issue}
    if before == now:
        return
    d.devices[cmd.device] = now
    d.meta_dirty = True
    alarm = f"device:{cmd.device}"
    if cmd.ok:
        d.clear_alarm(alarm, device=cmd.device)
    else:
        d.raise_alarm(alarm, f"{cmd.device}: {cmd.detail or 'not working'}", device=cmd.device,
                      severity="critical" if cmd.blocks_issue else "warning")
    d.out.reply = Reply(f"DEVICE {cmd.device} {'ok' if cmd.ok else 'down'}")


def record_event(d: Draft, cmd: c.RecordEvent) -> None:
    if not cmd.type or cmd.type.startswith("ticket."):
        raise CommandError("bad_event", f"event type {cmd.type!r} is reserved or empty")
    alarm = cmd.data.get("alarm")
    if cmd.type in ("alarm.raised", "alarm.cleared") and isinstance(alarm, str) and alarm:
        # Alarms from other parts (sync's outbox alarm) live with the queue's own, so
        # status, health and the LEDs see them; raising twice records one event.
        extra = {k: v for k, v in cmd.data.items() if k not in ("alarm", "message", "severity")}
        if cmd.type == "alarm.raised":
            d.raise_alarm(alarm, str(cmd.data.get("message", alarm)),
                          str(cmd.data.get("severity", "warning")), **extra)
        else:
            d.clear_alarm(alarm, **extra)
        return
    d.emit(cmd.type, **cmd.data)


HANDLERS: dict[type[c.Command], Handler] = {
    c.DeviceStatus: device_status, c.RecordEvent: record_event,
}
