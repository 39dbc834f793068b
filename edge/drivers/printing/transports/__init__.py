"""Connections to printers, one module per kind (usb, serial, network, file; fake.py beside).

make_transport picks the one a [printers.NAME] section's `type` names; base.py holds the
interface the worker drives (Transport) and the strict status decoding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.drivers.printing.transports.base import Transport
from edge.drivers.printing.transports.devfile import FileTransport
from edge.drivers.printing.transports.network import NetworkTransport
from edge.drivers.printing.transports.serialport import SerialTransport
from edge.drivers.printing.transports.usb import UsbTransport


def make_transport(name: str, cfg: Any, state_dir: Path) -> Transport:
    """The transport for one [printers.NAME] section."""
    if cfg.type == "serial":
        return SerialTransport(name, cfg)
    if cfg.type == "network":
        return NetworkTransport(name, cfg)
    if cfg.type == "usb":
        return UsbTransport(name, cfg)
    if cfg.type == "file":
        path = cfg.path if cfg.path.is_absolute() else state_dir / cfg.path
        return FileTransport(name, cfg, path)
    from edge.drivers.printing.fake import FakeTransport
    return FakeTransport(name, keep=cfg.keep, profile=cfg.profile, write_timeout_s=cfg.write_timeout_s)
