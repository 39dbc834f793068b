"""[sync] validation names the key and the fix; the password never comes from the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import parse_config
from edge.errors import ConfigError
from edge.sync.lock import acquire_database_lock
from tests.sync.conftest import config_dict


@pytest.mark.parametrize("sync, expected", [
    ({"cert_file": "/etc/kezek/edge.pem"}, "sync.cert_file: cert_file and key_file go together"),
    ({"tls": False, "ca_file": "/etc/ca.pem"}, "sync.tls: certificates are set but tls = false"),
    ({"reconnect_min_s": 5, "reconnect_max_s": 1}, "sync.reconnect_max_s: must be >="),
    ({"password": "secret"}, "sync.password: unknown key"),
    ({"keepalive_s": 1}, "sync.keepalive_s: Input should be greater than or equal to 2"),
    ({"outbox_full_policy": "panic"}, "sync.outbox_full_policy"),
])
def test_bad_sync_sections_are_explained(sync: dict, expected: str) -> None:
    data = config_dict(1883)
    data["sync"].update(sync)
    with pytest.raises(ConfigError) as e:
        parse_config(data, "edge.toml")
    assert any(expected in p for p in e.value.problems), e.value.problems


def test_password_from_file_credentials_or_environment(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = parse_config(config_dict(1883, username="ast01"), "edge.toml").sync
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("KEZEK_MQTT_PASSWORD", raising=False)
    assert cfg.read_password() is None
    monkeypatch.setenv("KEZEK_MQTT_PASSWORD", "from-env")
    assert cfg.read_password() == "from-env"
    (tmp_path / "mqtt_password").write_text("from-credential\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert cfg.read_password() == "from-credential"
    (tmp_path / "pw").write_text("from-file\n", encoding="utf-8")
    cfg = parse_config(config_dict(1883, username="ast01", password_file=str(tmp_path / "pw")),
                       "edge.toml").sync
    assert cfg.read_password() == "from-file"


def test_database_lock_is_reentrant_in_a_process_and_released(tmp_path: Path) -> None:
    lock = acquire_database_lock(tmp_path / "kezek.db")
    assert acquire_database_lock(tmp_path / "kezek.db") is lock
    # The same file by another name (a symlinked state folder) is the same lock.
    (tmp_path / "via").symlink_to(tmp_path)
    assert acquire_database_lock(tmp_path / "via" / "kezek.db") is lock
    lock.release()
    again = acquire_database_lock(tmp_path / "kezek.db")
    assert again is not lock and again.held
    again.release()
