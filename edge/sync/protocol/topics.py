"""The protocol's topic tree: `qms/v1/<site>/<device>/<kind>` and central's own state topic."""

from __future__ import annotations

PROTOCOL_VERSION = 1
ROOT = "qms/v1"
CENTRAL_STATE_TOPIC = f"{ROOT}/central/state"


def device_root(site: str, device: str) -> str:
    return f"{ROOT}/{site}/{device}"


class Topics:
    """Every topic of one device."""

    def __init__(self, site: str, device: str) -> None:
        root = device_root(site, device)
        self.state = f"{root}/state"
        self.evt = f"{root}/evt"
        self.ack = f"{root}/evt/ack"
        self.health = f"{root}/health"
        self.cfg = f"{root}/cfg"
        self.bookings = f"{root}/bookings"
        self.cmd = f"{root}/cmd"


def parse_topic(topic: str) -> tuple[str, str, str] | None:
    """`qms/v1/{site}/{device}/{kind...}` -> (site, device, kind), or None."""
    parts = topic.split("/")
    if len(parts) < 5 or "/".join(parts[:2]) != ROOT or parts[2] == "central":
        return None
    return parts[2], parts[3], "/".join(parts[4:])
