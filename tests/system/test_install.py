"""scripts/install.sh and uninstall.sh into a temporary root: complete, idempotent, data kept."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="useradd --prefix needs root")


def make_root(root: Path) -> None:
    """The account files of a fresh Raspberry Pi OS, minus the gpio group (plain Debian)."""
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\nlp:x:7:\ndialout:x:20:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\nlp:*::\ndialout:*::\n")
    (etc / "shadow").chmod(0o600)
    (etc / "gshadow").chmod(0o600)


def snapshot_source(dest: Path) -> Path:
    """A fixed copy of the checkout: other work in the tree must not change the install."""
    for part in ("pyproject.toml", "README.md"):
        if (ROOT / part).exists():
            shutil.copy2(ROOT / part, dest / part)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("edge", "scripts", "systemd", "docs", "config"):
        if (ROOT / part).exists():
            shutil.copytree(ROOT / part, dest / part, ignore=ignore)
    return dest


def tree(root: Path) -> dict[str, tuple]:
    """path -> (mode, uid, gid, content hash or link target); .pyc files carry timestamps."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if name.endswith(".pyc"):
                continue
            st = p.lstat()
            if stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                digest = os.readlink(p)
            else:
                digest = ""
            out[str(p.relative_to(root))] = (st.st_mode, st.st_uid, st.st_gid, digest)
    return out


@pytest.fixture(scope="module")
def pip_args(tmp_path_factory: pytest.TempPathFactory) -> str:
    """pip arguments that need no index: the build backend and the project's dependencies
    from a local wheel directory.

    Downloaded once per run (pip's cache makes later runs offline). The dependencies are
    installed because install.sh runs the installed `kezek check-config` on the config.
    """
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = ["setuptools>=68", *project["dependencies"], *project["optional-dependencies"]["pi"]]
    wheels = tmp_path_factory.mktemp("wheels")
    got = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet",
                          "--dest", str(wheels), *wanted],
                         capture_output=True, text=True, timeout=300)
    assert got.returncode == 0, f"cannot fetch the build backend and dependencies: {got.stderr}"
    return f"--no-index --find-links {wheels}"


def run(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, timeout=300)


def group_members(root: Path) -> dict[str, list[str]]:
    out = {}
    for line in (root / "etc" / "group").read_text().splitlines():
        name, _, gid, members = line.split(":")
        out[name] = [m for m in members.split(",") if m]
    return out


@pytest.mark.heavy(seconds=90)
def test_install_twice_into_a_temporary_root(tmp_path: Path, pip_args: str) -> None:
    (tmp_path / "src").mkdir()
    src = snapshot_source(tmp_path / "src")
    root = tmp_path / "root"
    make_root(root)
    demo = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    relative = tmp_path / "relative.toml"
    relative.write_text(demo, encoding="utf-8")
    install = src / "scripts" / "install.sh"
    # The demo keeps its state in ./state: on a box every kezek command must find one folder.
    refused = run(install, "--root", str(root), "--config", str(relative), "--pip-args", pip_args)
    assert refused.returncode != 0 and 'storage.state_dir = "state" is a relative path' in refused.stderr
    assert not (root / "etc" / "kezek" / "kezek.toml").exists()
    config = tmp_path / "center.toml"
    config.write_text(demo.replace('state_dir = "state"\n', ""), encoding="utf-8")
    args = ["--root", str(root), "--config", str(config), "--pip-args", pip_args]

    first = run(install, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    after_first = tree(root)
    second = run(install, *args)
    assert second.returncode == 0, second.stdout + second.stderr
    assert tree(root) == after_first  # idempotent: nothing changed, modes and owners included
    assert "created" not in second.stdout and "wrote" not in second.stdout

    passwd = (root / "etc" / "passwd").read_text()
    kezek = next(line for line in passwd.splitlines() if line.startswith("kezek:")).split(":")
    uid, gid = int(kezek[2]), int(kezek[3])
    assert kezek[6] == "/usr/sbin/nologin" and uid < 1000  # a system user, no login
    members = group_members(root)
    for g in ("gpio", "dialout", "lp", "audio"):
        assert "kezek" in members[g], g

    etc = root / "etc" / "kezek"
    cfg = (etc / "kezek.toml").stat()
    assert stat.S_IMODE(cfg.st_mode) == 0o640 and cfg.st_uid == 0 and cfg.st_gid == gid
    secrets = (etc / "secrets.env").stat()
    assert stat.S_IMODE(secrets.st_mode) == 0o600 and secrets.st_uid == 0
    assert "KEZEK_MQTT_PASSWORD" in (etc / "secrets.env").read_text()
    unit = root / "etc" / "systemd" / "system" / "kezek.service"
    assert unit.read_text() == (ROOT / "systemd" / "kezek.service").read_text()
    assert os.readlink(unit.parent / "multi-user.target.wants" / "kezek.service") == \
        "/etc/systemd/system/kezek.service"
    assert (root / "etc" / "udev" / "rules.d" / "99-kezek-printers.rules").is_file()

    venv = root / "opt" / "kezek" / "venv"
    assert (venv / "bin" / "kezek").is_file()
    check = subprocess.run([str(venv / "bin" / "python"), "-c", "import edge.cli, edge.system.notify"],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    # `kezek demo` on the box finds the demo config installed beside the venv.
    assert (root / "opt" / "kezek" / "config" / "demo.toml").is_file()
    demo = subprocess.run([str(venv / "bin" / "kezek"), "demo"], input="status\nquit\n",
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "Kezek demo" in demo.stdout and "waiting" in demo.stdout

    # An update with a new config from central: the secrets edited on the box stay, the
    # old config is kept beside the new one.
    secrets = etc / "secrets.env"
    secrets.write_text("KEZEK_MQTT_PASSWORD=s3cret\n")
    (etc / "kezek.toml").write_text("# edited on the box\n")
    newer = tmp_path / "newer.toml"
    from_central = "# from central\n" + config.read_text(encoding="utf-8")
    newer.write_text(from_central, encoding="utf-8")
    update = run(install, "--root", str(root), "--config", str(newer), "--pip-args", pip_args)
    assert update.returncode == 0, update.stderr
    assert (etc / "kezek.toml").read_text(encoding="utf-8") == from_central
    assert (etc / "kezek.toml.previous").read_text() == "# edited on the box\n"

    # An invalid config (twice): refused with its problems, before anything is replaced;
    # the second try must not overwrite kezek.toml.previous either.
    bad = tmp_path / "bad.toml"
    bad.write_text(from_central.replace("[console]", "[consol]"), encoding="utf-8")
    for _ in range(2):
        refused = run(install, "--root", str(root), "--config", str(bad), "--pip-args", pip_args)
        assert refused.returncode != 0
        assert "consol: unknown key; did you mean 'console'?" in refused.stderr
        assert f"--config {bad} is not a valid config" in refused.stderr
        assert "wrote /etc/kezek" not in refused.stdout
        assert (etc / "kezek.toml").read_text(encoding="utf-8") == from_central
        assert (etc / "kezek.toml.previous").read_text() == "# edited on the box\n"
    assert secrets.read_text() == "KEZEK_MQTT_PASSWORD=s3cret\n"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600

    # Uninstall keeps the data, the config and the user; --purge removes them.
    db = root / "var" / "lib" / "kezek" / "kezek.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"queue")
    uninstall = src / "scripts" / "uninstall.sh"
    result = run(uninstall, "--root", str(root))
    assert result.returncode == 0, result.stderr
    assert not (root / "opt" / "kezek").exists() and not unit.exists()
    assert not (unit.parent / "multi-user.target.wants" / "kezek.service").exists()
    assert db.read_bytes() == b"queue"
    assert (etc / "kezek.toml").exists() and "kezek:" in (root / "etc" / "passwd").read_text()
    purge = run(uninstall, "--root", str(root), "--purge")
    assert purge.returncode == 0, purge.stderr
    assert not db.exists() and not etc.exists()
    assert "kezek:" not in (root / "etc" / "passwd").read_text()


def test_first_install_without_config_says_what_to_do(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_root(root)
    result = run(ROOT / "scripts" / "install.sh", "--root", str(root))
    assert result.returncode != 0
    assert "--config FILE" in result.stderr
    assert not (root / "opt").exists()  # refused before touching anything
