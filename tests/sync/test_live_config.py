"""One running configuration: a service renamed by central's cfg is printed with its new name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge.config import parse_config
from edge.queue.commands import IssueTicket
from edge.sync.protocol import Topics
from tests.sync.conftest import (DEVICE, SITE, Broker, CentralRig, EdgeRig, Probe, config_dict,
                                 wait_for)

T = Topics(SITE, DEVICE)
OLD, NEW = "Identity documents", "Passports and IDs"


def names(en: str) -> dict[str, str]:
    return {"kk": "Құжат", "ru": "Документы", "en": en}


def printed(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


def test_a_service_renamed_by_central_prints_its_new_name_on_the_next_ticket(
        broker: Broker, central: CentralRig, probe: Probe, tmp_path: Path,
        edges: list[EdgeRig]) -> None:
    """Risk: the printer renders service names from the config of process start: central
    renames a service, the engine, the hall and the status show the new name, and every
    ticket handed to a visitor keeps the old one until someone restarts the box."""
    data: dict[str, Any] = config_dict(broker.port)
    data["services"][0]["names"] = names(OLD)
    # Text mode, English only: the ESC/POS bytes (python-escpos' own encoding, through its
    # Dummy printer) carry the name as plain ASCII, appended to a file as on a printer.
    data["printers"] = {"kiosk": {"type": "file", "path": "tickets.escpos", "mode": "text",
                                  "languages": ["en"]}}
    edge = EdgeRig(parse_config(data, "<live config test>"), tmp_path / "edge")
    edges.append(edge)
    paper = tmp_path / "edge" / "tickets.escpos"

    edge.app.controller.call(IssueTicket("docs", printer="kiosk", source="test"))
    wait_for(lambda: OLD.encode() in printed(paper), 20, "the first ticket on paper")
    first = len(printed(paper))

    services = [dict(s) for s in data["services"]]
    services[0] = {**services[0], "names": names(NEW)}
    probe.publish(T.cfg, json.dumps({"v": 1, "version": 3, "config": {"services": services}}),
                  retain=True)
    wait_for(lambda: edge.link.health()["cfg_version"] == 3, 20, "central's cfg to apply")
    # The controller's running configuration is the merged one; what came from the file
    # (the printer, the windows) is unchanged.
    running = edge.app.controller.config
    assert running.service("docs").names.en == NEW
    assert list(running.printers) == ["kiosk"] and len(running.windows) == 2

    applied = edge.app.controller.call(IssueTicket("docs", printer="kiosk", source="test"))
    assert applied.config is running   # every Applied carries the config it ran under
    wait_for(lambda: NEW.encode() in printed(paper)[first:], 20, "the second ticket on paper")
    second = printed(paper)[first:]
    assert OLD.encode() not in second
    assert b"A-002" in second
