"""Which machine the SD card runs on: board identifiers that an image copy does not carry.

The database id (`db` on the wire) names one stream of events at central. A card copied
onto a second board, or moved to a replacement board, must not keep sending under the
same id as the box it came from, so the id is bound to the machine it was made on. What
identifies a machine, strongest first (each is read if present; see docs/operations.md):

- `board-serial`: a Raspberry Pi's SoC serial (/proc/device-tree/serial-number, else the
  `Serial` line of /proc/cpuinfo); burnt into the board.
- `dmi-uuid`: the PC's SMBIOS system UUID (/sys/class/dmi/id/product_uuid; root-only on
  most systems, so often unreadable by the service).
- `mac`: the factory MAC addresses of the machine's wired/wireless hardware NICs (not
  virtual ones, not randomised ones). A set: the machine is the same while it still has
  one of the NICs recorded, so a USB network adapter plugged in or taken out, or a Wi-Fi
  card switched off in the firmware, does not make a PC "another machine".
- `machine-id`: /etc/machine-id. Weak: it is copied with the image, so a clone keeps it;
  used only when nothing else is readable.

Only salted SHA-256 digests of the values are kept, never the serials themselves.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

logger = logging.getLogger(__name__)

# Strongest first: when the recorded and the current machine share several kinds, the
# first shared kind decides (a USB network adapter plugged in later must not outvote the
# board serial).
KINDS = ("board-serial", "dmi-uuid", "mac", "machine-id")
WEAK = frozenset({"machine-id"})   # copied with the image: cannot tell a clone
SETS = frozenset({"mac"})          # several per machine: digests joined by ","
# SMBIOS UUIDs that many boards ship with instead of a real one.
_JUNK_UUIDS = {"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
               "03000200-0400-0500-0006-000700080009"}


@dataclass(frozen=True)
class Machine:
    """Digests of this machine's identifiers, by kind (see KINDS)."""

    ids: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, **values: str | list[str]) -> "Machine":
        """From raw values, e.g. Machine.of(board_serial="10000000abcdef01") (for tests);
        a list for a kind of which a machine has several (mac=["dc:a6:..", ".."])."""
        return cls({k.replace("_", "-"): _digests(k.replace("_", "-"), v)
                    for k, v in values.items()})

    @property
    def strong(self) -> bool:
        return any(k not in WEAK for k in self.ids)

    def describe(self) -> str:
        """The kinds identifying it, e.g. "board-serial, mac" (no values: they are ids)."""
        return ", ".join(k for k in KINDS if k in self.ids) or "nothing"

    def same_as(self, recorded: dict[str, str]) -> bool:
        """Is `recorded` (an earlier Machine's ids) this machine?

        The strongest kind both have decides; for `mac` (a set of NICs) one NIC still
        present is enough. Nothing in common (e.g. the board serial
        became unreadable) counts as another machine: the cost of a wrong "moved" is one
        new stream at central, while a wrong "same" would mix two boxes' events.
        """
        for kind in KINDS:
            if kind in self.ids and kind in recorded:
                if kind in SETS:
                    return bool(_members(self.ids[kind]) & _members(recorded[kind]))
                return self.ids[kind] == recorded[kind]
        return False

    def merged_into(self, recorded: dict[str, str]) -> dict[str, str]:
        """What to record after `same_as(recorded)`: this machine's ids over the recorded.

        A kind unreadable at this start (a NIC's driver that failed to load, a serial the
        kernel stopped exposing) keeps its recorded digest: forgetting it would leave only
        weaker kinds, down to the machine-id that an image copy carries, and a later clone
        would pass for this machine. NICs seen on this machine are added to its set.
        """
        merged = {k: v for k, v in recorded.items() if isinstance(v, str) and k in KINDS}
        for kind, value in self.ids.items():
            if kind in SETS and kind in merged:
                value = _joined(_members(value) | _members(merged[kind]))
            merged[kind] = value
        return merged


MachineSource = Callable[[], Machine]


def digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"kezek-machine:{kind}:{value}".encode("utf-8")).hexdigest()[:32]


def _digests(kind: str, value: str | list[str]) -> str:
    values = [value] if isinstance(value, str) else value
    return _joined({digest(kind, v) for v in values})


def _members(value: str) -> set[str]:
    return {d for d in value.split(",") if d}


def _joined(digests: set[str]) -> str:
    return ",".join(sorted(digests))


def read_machine(root: Path = Path("/")) -> Machine:
    """This machine's identifiers, read from `root` (/ in production; a folder in tests)."""
    values: dict[str, str | list[str]] = {}
    serial = _board_serial(root)
    if serial:
        values["board-serial"] = serial
    uuid = _read(root / "sys/class/dmi/id/product_uuid").lower()
    if uuid and uuid not in _JUNK_UUIDS:
        values["dmi-uuid"] = uuid
    macs = _hardware_macs(root)
    if macs:
        values["mac"] = macs
    machine_id = _read(root / "etc/machine-id")
    if re.fullmatch(r"[0-9a-f]{32}", machine_id):
        values["machine-id"] = machine_id
    return Machine({k: _digests(k, v) for k, v in values.items()})


def _read(path: Path) -> str:
    try:
        return path.read_bytes().replace(b"\x00", b"").decode("ascii", "replace").strip()
    except OSError:   # absent, or not readable by this user (product_uuid is root-only)
        return ""


def _board_serial(root: Path) -> str:
    serial = _read(root / "proc/device-tree/serial-number")
    if not serial:
        for line in _read(root / "proc/cpuinfo").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Serial":
                serial = value.strip()
                break
    serial = serial.lower()
    # Some kernels and emulators report a serial of zeros: that identifies nothing.
    return serial if serial.strip("0") else ""


def _hardware_macs(root: Path) -> list[str]:
    """The factory-assigned MACs of the NICs backed by hardware (a `device` link)."""
    macs = []
    net = root / "sys/class/net"
    try:
        interfaces = sorted(net.iterdir())
    except OSError:
        return []
    for iface in interfaces:
        if not (iface / "device").exists():
            continue   # lo, bridges, VPNs, docker: made by software, not the board
        if _read(iface / "addr_assign_type") not in ("", "0"):
            continue   # 0 = permanent; random (1), stolen (2) or set (3) MACs move around
        mac = _read(iface / "address").lower()
        if re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac) and mac.strip("0:") \
                and not int(mac[:2], 16) & 0x02:   # locally administered: not a factory MAC
            macs.append(mac)
    return macs
