"""Real broken disks for the storage-fault tests: a tiny tmpfs that fills up, an ext4 image
the kernel turns read-only as after SD card errors. Root and mount(8) are needed: without
them the tests are skipped, saying why."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


def _umount(path: Path) -> None:
    # Lazy: a connection a failed test left open must not keep the mount for the next test.
    subprocess.run(["umount", "-l", str(path)], capture_output=True, text=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs: a state folder on a card that can fill up."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root and mount(8) to mount a size-limited tmpfs")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = _mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt))
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        _umount(mnt)


@pytest.fixture
def ext4_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB ext4 image mounted with errors=remount-ro: `mount -o remount,abort` then
    makes the kernel turn it read-only under open files, as it does after card errors."""
    if shutil.which("mkfs.ext4") is None or os.geteuid() != 0:
        pytest.skip("needs root, mkfs.ext4 and loop devices for an ext4 image")
    image = tmp_path / "card.img"
    with open(image, "wb") as f:
        f.truncate(8 * 2**20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    mnt = tmp_path / "card"
    mnt.mkdir()
    r = _mount("-o", "loop,errors=remount-ro", str(image), str(mnt))
    if r.returncode != 0:
        pytest.skip(f"cannot loop-mount an ext4 image here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        _umount(mnt)
