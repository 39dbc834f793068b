"""What the link reports: its health() for `kezek status`, and the retained health snapshot.

The snapshot (topic `health`, every `health_interval_s` and after each connect) carries
the queue, the alarms and every component's health() for central.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.sync.connection import Conn
    from edge.sync.link import SyncLink


def link_health(link: "SyncLink") -> dict[str, Any]:
    conn = link.conn
    denied = link.limits.denied
    out: dict[str, Any] = {
        "ok": bool(conn and conn.connected) and not denied,
        "broker": f"{link.config.host}:{link.config.port}",
        "connected": bool(conn and conn.connected),
        "central_online": bool(conn and conn.central_online),
        "session": conn.session if conn else None, "connects": link.connects,
        "watchdog_restarts": link.threads.restarts, "bad_messages": link.bad_messages,
        "outbox": link.cap.count if link.cap else 0,
        "outbox_cap": link.app_config.storage.outbox_cap,
        "outbox_alarm": link.cap.level if link.cap else "ok", "last_error": link.last_error,
        "denied": denied,
        # Which stream central keeps this box's events in; prev_db when the card came
        # from another machine (see sync.db_changed).
        "db": link.db_id, "prev_db": link.fork.prev_db if link.fork else None,
    }
    if link.pump is not None:
        out.update(link.pump.health())
    if link.downlink is not None:
        out.update(link.downlink.health())
    return out


def health_message(link: "SyncLink", conn: "Conn") -> dict[str, Any]:
    snap = link.controller.snapshot
    queue = snap.as_dict()
    components: dict[str, Any] = {}
    for name, comp in list(link.components.items()):
        try:
            components[name] = comp.health()
        except Exception as e:
            components[name] = {"ok": False, "error": f"health() failed: {e}"}
    alarms = list(snap.alarms)
    if link.cap is not None and link.cap.level != "ok" and "sync.outbox" not in alarms:
        alarms.append("sync.outbox")
    return {"v": 1, "site": link.site, "device": link.device, "session": conn.session,
            "ts": link.clock.read().wall_ms,
            "summary": {"waiting": snap.waiting_total, "serving": snap.serving_total,
                        "alarms": alarms},
            "queue": queue, "components": components, "sync": link.health()}
