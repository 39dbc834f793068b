"""The running configuration after a SIGHUP: restart-only sections stay as they run."""

from __future__ import annotations

import pytest

from edge.config import AppConfig, parse_config
from edge.errors import ConfigError
from edge.service import with_running_sections

from ..conftest import demo_config_dict


def test_restart_only_sections_keep_their_running_values(demo_config: AppConfig) -> None:
    """Risk: a reload that logs "[printers] changed; applies after a restart" still hands
    the new printer section to the components that read it per ticket (mode, profile),
    while the device they drive is the one opened at start."""
    data = demo_config_dict()
    data["printers"]["kiosk"]["paper_mm"] = 58
    data["services"][0]["names"]["ru"] = "Паспорта"
    new = parse_config(data)
    kept = with_running_sections(new, demo_config, ["printers"], "kezek.toml")
    assert kept.printers == demo_config.printers
    assert kept.service("docs").names.ru == "Паспорта"      # the reloadable part is new
    assert with_running_sections(new, demo_config, [], "kezek.toml") is new


def test_a_new_file_that_drops_a_service_running_buttons_use_is_refused(
        demo_config: AppConfig) -> None:
    """Risk: the running ticket button for a service the new file drops is left pointing
    at nothing; the reload is refused with the reason and the way out (a restart)."""
    data = demo_config_dict()
    data["services"] = [s for s in data["services"] if s["id"] != "benefits"]
    data["windows"] = [{**w, "services": {k: v for k, v in w["services"].items()
                                          if k != "benefits"}} for w in data["windows"]]
    data["gpio"]["buttons"] = [b for b in data["gpio"]["buttons"]
                               if b.get("service") != "benefits"]
    new = parse_config(data)
    with pytest.raises(ConfigError) as e:
        with_running_sections(new, demo_config, ["gpio"], "kezek.toml")
    problems = "\n".join(e.value.problems)
    assert "benefits" in problems and "systemctl restart kezek" in problems
