"""scripts/setup.sh, the first step of both quick-start commands: offline and quick a second time."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Stands in for pip (first on PYTHONPATH, so `python -m pip` finds it): records each call,
# and fails when told to, as pip does offline ("No matching distribution found").
FAKE_PIP = """import os, sys
with open(os.environ["PIP_CALLS"], "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
if os.environ.get("PIP_OFFLINE"):
    sys.exit("ERROR: No matching distribution found for setuptools>=68 (offline)")
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]   # closed again when this returns: nothing listens there


class Checkout:
    """A copy of the files setup.sh reads, with a venv whose python is this one."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "scripts").mkdir(parents=True)
        shutil.copy(ROOT / "scripts" / "setup.sh", root / "scripts" / "setup.sh")
        shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
        venv_bin = root / ".venv" / "bin"
        venv_bin.mkdir(parents=True)
        for name in ("python", "kezek"):
            (venv_bin / name).write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
            (venv_bin / name).chmod(0o755)
        shim = root / "shim"
        (shim / "pip").mkdir(parents=True)
        (shim / "pip" / "__init__.py").write_text("")
        (shim / "pip" / "__main__.py").write_text(FAKE_PIP)
        self.calls = root / "pip-calls.txt"
        self.calls.touch()
        self.bin = root / "bin"      # commands put before the system's
        self.bin.mkdir()

    def fake_command(self, name: str, script: str) -> None:
        path = self.bin / name
        path.write_text("#!/bin/sh\n" + script)
        path.chmod(0o755)

    def setup(self, *args: str, offline: bool = False) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(self.root / "shim"), "PIP_CALLS": str(self.calls),
               "PATH": f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        if offline:
            # pip's network cut: no index but a closed port, no config files, no wheel folders.
            env.update({"PIP_OFFLINE": "1", "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": "",
                        "PIP_EXTRA_INDEX_URL": "", "PIP_RETRIES": "0",
                        "PIP_INDEX_URL": f"http://127.0.0.1:{closed_port()}/simple"})
        return subprocess.run(["bash", str(self.root / "scripts" / "setup.sh"), *args],
                              capture_output=True, text=True, timeout=120, env=env)

    def pip_calls(self) -> list[str]:
        return self.calls.read_text().splitlines()


@pytest.fixture
def checkout(tmp_path: Path) -> Checkout:
    if shutil.which("sha256sum") is None:
        pytest.fail("sha256sum (coreutils) is missing")
    co = Checkout(tmp_path / "kezek-edge")
    # No Debian package may be installed from a test: if setup.sh thought one missing, these
    # say so and fail instead of changing the machine.
    for cmd in ("apt-get", "sudo"):
        co.fake_command(cmd, f'echo "{cmd} $*" >>"{co.root}/apt-calls.txt"; exit 1\n')
    return co


def test_a_second_run_is_offline_and_does_not_invoke_pip(checkout: Checkout) -> None:
    """Risk: every run of the demo or test command ran `pip install -e .`, so offline the
    demo failed after 9.5 s with "No matching distribution found for setuptools>=68",
    although everything was installed."""
    first = checkout.setup("--test")
    assert first.returncode == 0, first.stderr
    assert checkout.pip_calls() == ["install -q --disable-pip-version-check -e .[test]"]

    for args in (["--test"], []):        # the test command, then the demo's (a subset)
        again = checkout.setup(*args, offline=True)
        assert again.returncode == 0, again.stdout + again.stderr
    assert len(checkout.pip_calls()) == 1
    assert not (checkout.root / "apt-calls.txt").exists()


def test_a_changed_pyproject_or_more_extras_install_again(checkout: Checkout) -> None:
    """Risk: the skip hides a real change (a new dependency, the test tools asked for after
    a demo-only setup), and the next command fails on an import."""
    assert checkout.setup().returncode == 0
    assert checkout.pip_calls() == ["install -q --disable-pip-version-check -e ."]
    assert checkout.setup().returncode == 0
    assert len(checkout.pip_calls()) == 1

    assert checkout.setup("--test").returncode == 0
    assert checkout.pip_calls()[1:] == ["install -q --disable-pip-version-check -e .[test]"]

    pyproject = checkout.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n# a new dependency\n")
    assert checkout.setup("--test").returncode == 0
    assert len(checkout.pip_calls()) == 3

    # An install that fails (offline) leaves no record: the next run tries again.
    pyproject.write_text(pyproject.read_text() + "# another\n")
    failed = checkout.setup("--test", offline=True)
    assert failed.returncode != 0 and "No matching distribution" in failed.stderr
    assert checkout.setup("--test").returncode == 0
    assert len(checkout.pip_calls()) == 5


def test_libusb_is_found_however_long_the_library_list(checkout: Checkout) -> None:
    """Risk: `ldconfig -p | grep -q` under pipefail: grep stops at the first match, ldconfig
    dies of SIGPIPE, the pipeline reads as failed and setup says libusb is missing (4 of 7
    first runs), exiting 1 with a wrong install line for a user without root."""
    # A long list with libusb near its top, as on a desktop with many libraries: ldconfig is
    # still writing when grep has its match.
    filler = "\\tlibfiller.so.0 (libc6,x86-64) => /usr/lib/libfiller.so.0"
    checkout.fake_command("ldconfig", (
        'echo "1 libs found in cache"\n'
        'echo "\tlibusb-1.0.so.0 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libusb-1.0.so.0"\n'
        f'i=0; while [ $i -lt 20000 ]; do echo "{filler}"; i=$((i+1)); done\n'))
    run = checkout.setup()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "libusb" not in run.stdout + run.stderr
    assert not (checkout.root / "apt-calls.txt").exists()
