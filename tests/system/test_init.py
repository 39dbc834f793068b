"""`kezek init` writes a first config that `kezek check-config` accepts; bad input writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.cli import main
from edge.config import load_config


def init(tmp_path: Path, *extra: str) -> list[str]:
    return ["init", "--out", str(tmp_path / "center.toml"), "--site", "ast-con-07",
            "--name-kk", "Астана қ. №7 ХҚКО", "--name-ru", "ЦОН №7 г. Астана",
            "--service", "docs:A:Жеке куәлік:Удостоверение личности",
            "--service", "realty:B:Жылжымайтын мүлік:Недвижимость \"и\" земля",
            "--windows", "3", "--benefit-window", "3",
            "--dev", str(tmp_path / "nodev"), "--sysfs", str(tmp_path / "nosys"), *extra]


def test_init_writes_a_config_that_check_config_accepts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(init(tmp_path, "--printer", "/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0",
                     "--printer", "usb:04b8:0e15")) == 0
    out = capsys.readouterr().out
    assert "check-config" in out and "OK" in out and "scripts/install.sh --config" in out
    path = tmp_path / "center.toml"
    assert main(["check-config", str(path)]) == 0
    config = load_config(path)
    assert config.center.site == "ast-con-07" and config.center.name.kk == "Астана қ. №7 ХҚКО"
    assert [s.id for s in config.services] == ["docs", "realty"]
    assert config.services[1].names.ru == 'Недвижимость "и" земля'
    assert [w.number for w in config.windows] == [1, 2, 3] and config.windows[2].benefit
    assert config.printers["kiosk"].type == "serial"
    assert config.printers["kiosk2"].type == "usb" and config.printers["kiosk2"].vendor_id == 0x04B8
    assert config.hall.enabled and config.announce.enabled
    assert str(config.announce.folders["kk"]) == "/var/lib/kezek/clips/kk"
    assert config.storage.state_dir == Path("/var/lib/kezek")  # install.sh requires absolute


def test_init_without_a_printer_found_leaves_an_example(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(init(tmp_path, "--clips", "none", "--hall-port", "0")) == 0
    assert "no printer found" in capsys.readouterr().out
    text = (tmp_path / "center.toml").read_text(encoding="utf-8")
    assert "# [printers.kiosk]" in text
    config = load_config(tmp_path / "center.toml")
    assert not config.printers and not config.announce.enabled and not config.hall.enabled


def test_init_refuses_bad_input_and_an_existing_file(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    args = init(tmp_path)
    bad = args[:args.index("--windows")] + ["--service", "Docs:a:x:y", "--windows", "2"]
    assert main(bad) == 2
    assert "ID:PREFIX:KAZAKH NAME:RUSSIAN NAME" in capsys.readouterr().err
    assert not (tmp_path / "center.toml").exists()
    # A site id central would refuse: check-config's own message, nothing written.
    wrong_site = init(tmp_path)
    wrong_site[wrong_site.index("--site") + 1] = "AST CON"
    assert main(wrong_site) == 1
    err = capsys.readouterr().err
    assert "nothing written" in err and "center.site" in err
    assert not (tmp_path / "center.toml").exists()
    assert main(init(tmp_path)) == 0
    assert main(init(tmp_path)) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    missing = ["init", "--out", str(tmp_path / "x.toml")]
    assert main(missing) == 2
    assert "--site, --name-kk, --name-ru, --windows, --service" in capsys.readouterr().err
