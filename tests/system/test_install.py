"""scripts/install.sh and uninstall.sh: what they refuse before touching anything.

The install itself (packages, users, the venv inside the image, the TV, updates and
their rollback) runs in a fresh Debian 12 root in the CI step .ci/appliance
(tests/appliance/test_image.py); here only what needs no root file system.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="install.sh refuses non-root first")


def run(script: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_root_that_is_not_an_operating_system_is_refused_before_anything_is_written(
        tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    before = sorted(p.name for p in tree.rglob("*"))
    result = run(ROOT / "scripts" / "install.sh", "--root", str(tree), "--config",
                 str(ROOT / "config" / "demo.toml"))
    assert result.returncode == 1
    assert "not an operating system tree" in result.stderr and "debootstrap" in result.stderr
    assert sorted(p.name for p in tree.rglob("*")) == before
    via_env = run(ROOT / "scripts" / "install.sh", env={**os.environ, "DESTDIR": str(tree)})
    assert via_env.returncode == 1 and "not an operating system tree" in via_env.stderr


def test_unknown_options_and_bad_choices_are_named(tmp_path: Path) -> None:
    result = run(ROOT / "scripts" / "install.sh", "--colour", "red")
    assert result.returncode == 2 and "unknown option --colour" in result.stderr
    result = run(ROOT / "scripts" / "install.sh", "--tv-session", "gnome")
    assert result.returncode == 1 and "auto, labwc or x11" in result.stderr
    help_text = run(ROOT / "scripts" / "install.sh", "--help").stdout
    for option in ("--audio", "--tv", "--no-tv", "--root", "--state-partition", "--journal-max"):
        assert option in help_text


def test_uninstall_of_a_tree_without_kezek_removes_nothing_else(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (tree / "etc" / "group").write_text("root:x:0:\ngpio:x:997:\n")
    result = run(ROOT / "scripts" / "uninstall.sh", "--root", str(tree), "--purge")
    assert result.returncode == 0, result.stderr
    # gpio was not created by install.sh here (no record): it stays.
    assert "gpio:" in (tree / "etc" / "group").read_text()
