"""Installed versions side by side: /opt/kezek/releases/<version>/, one venv each.

/opt/kezek/venv is a relative symlink to the release in service (the unit runs
/opt/kezek/venv/bin/kezek, /usr/local/bin/kezek points there too), so switching versions
is one atomic rename of a symlink, and the previous version stays installed for a
rollback. Each venv is made at its final path by the Python of the machine (or image) it
runs on, so its scripts' shebangs name that path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from edge.errors import KezekError

logger = logging.getLogger(__name__)

OPT = Path("/opt/kezek")
MARKER = ".kezek-release.json"
WHEEL_RE = re.compile(r"^kezek_edge-(?P<version>[^-]+)-.*\.whl$")
KEEP = 3  # releases kept: the one in service, the previous, one more


class ReleaseError(KezekError):
    pass


@dataclass(frozen=True)
class Release:
    path: Path
    version: str

    @property
    def name(self) -> str:
        return self.path.name


def find_wheel(source: Path) -> Path:
    """The kezek-edge wheel in `source` (the file itself, or the newest in a folder)."""
    if source.is_file():
        if not WHEEL_RE.match(source.name):
            raise ReleaseError(f"{source}: not a kezek-edge wheel (kezek_edge-<version>-*.whl); "
                               "build one with: pip wheel --no-deps -w dist .")
        return source
    if not source.is_dir():
        raise ReleaseError(f"{source}: no such file or folder")
    wheels = sorted(source.glob("kezek_edge-*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise ReleaseError(f"{source}: no kezek_edge-*.whl in this folder; a release folder "
                           "holds the kezek-edge wheel and the wheels of its dependencies")
    return wheels[-1]


def wheel_version(wheel: Path) -> str:
    m = WHEEL_RE.match(wheel.name)
    if not m:
        raise ReleaseError(f"{wheel}: not a kezek-edge wheel")
    return m.group("version")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Releases:
    """The releases folder and the `venv` symlink that names the one in service."""

    def __init__(self, opt: Path = OPT) -> None:
        self.opt = Path(opt)
        self.dir = self.opt / "releases"
        self.link = self.opt / "venv"

    def current(self) -> Release | None:
        if not self.link.is_symlink():
            return None
        target = (self.link.parent / os.readlink(self.link)).resolve()
        return self.load(target) if target.is_dir() else None

    def load(self, path: Path) -> Release:
        try:
            info = json.loads((path / MARKER).read_text(encoding="utf-8"))
            version = str(info["version"])
        except (OSError, ValueError, KeyError):
            version = "?"
        return Release(path, version)

    def all(self) -> list[Release]:
        if not self.dir.is_dir():
            return []
        found = [self.load(p) for p in self.dir.iterdir() if (p / MARKER).is_file()]
        return sorted(found, key=lambda r: (r.path / MARKER).stat().st_mtime)

    def new_path(self, version: str) -> Path:
        path, n = self.dir / version, 2
        while path.exists():
            path, n = self.dir / f"{version}-{n}", n + 1
        return path

    def switch(self, release: Release) -> None:
        """Point `venv` at `release` with one rename: never a moment without a venv."""
        tmp = self.link.with_name(f".venv-{os.getpid()}")
        tmp.unlink(missing_ok=True)
        os.symlink(os.path.relpath(release.path, self.link.parent), tmp)
        os.replace(tmp, self.link)
        fd = os.open(self.link.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def prune(self, keep: int = KEEP, protect: Sequence[Release] = ()) -> list[Path]:
        """Remove the oldest releases beyond `keep`, never the current one or `protect`."""
        current = self.current()
        kept = {r.path for r in protect} | ({current.path} if current else set())
        removable = [r for r in self.all() if r.path not in kept]
        gone = []
        while removable and len(removable) + len(kept) > keep:
            old = removable.pop(0)
            shutil.rmtree(old.path)
            gone.append(old.path)
        return gone


Runner = Callable[[Sequence[str]], None]


def run_checked(argv: Sequence[str]) -> None:
    got = subprocess.run(list(argv), capture_output=True, text=True, timeout=1800)
    if got.returncode != 0:
        tail = "\n".join((got.stderr or got.stdout).strip().splitlines()[-15:])
        raise ReleaseError(f"{' '.join(argv[:4])} ... failed ({got.returncode}):\n{tail}")


def install_release(source: Path, releases: Releases, *, python: str = "/usr/bin/python3",
                    extras: str = "pi", pip_args: Sequence[str] = (),
                    seed: Release | None = None, run: Runner = run_checked) -> Release:
    """Make a new release venv from a wheel (or a release folder) beside the others.

    The new venv starts with a copy of `seed`'s libraries (the release in service), so an
    update that keeps its dependencies needs no network; pip then installs the wheel and
    fetches only what is new (from the release folder, or the index unless pip_args say
    --no-index). A failure leaves no half-made release behind.
    """
    wheel = find_wheel(source)
    version = wheel_version(wheel)
    releases.dir.mkdir(parents=True, exist_ok=True)
    path = releases.new_path(version)
    try:
        run([python, "-m", "venv", str(path)])
        if seed is not None:
            _seed_libraries(seed.path, path)
        links = ["--find-links", str(wheel.parent)]
        target = f"{wheel}[{extras}]" if extras else str(wheel)
        run([str(path / "bin" / "python"), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", *links, *pip_args, target])
        run([str(path / "bin" / "python"), "-c", "import edge.cli; edge.cli.build_parser()"])
        (path / MARKER).write_text(json.dumps({
            "version": version, "wheel": wheel.name, "sha256": sha256(wheel),
            "installed": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    return Release(path, version)


def _site_packages(venv: Path) -> Path | None:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    return found[0] if found else None


def _seed_libraries(old: Path, new: Path) -> None:
    src, dst = _site_packages(old), _site_packages(new)
    if src is None or dst is None or src.parent.name != dst.parent.name:
        return  # another Python version: pip installs everything afresh
    for item in src.iterdir():
        name = item.name.lower()
        if name.startswith(("kezek_edge", "pip", "setuptools", "_distutils_hack",
                            "distutils-precedence", "__editable__")) or (dst / item.name).exists():
            continue
        if item.is_dir():
            shutil.copytree(item, dst / item.name, symlinks=True)
        else:
            shutil.copy2(item, dst / item.name)
