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


def _mounted(mnt: Path, *args: str, what: str) -> Iterator[Path]:
    """`mount ARGS MNT` for the duration of a fixture; skipped, saying why, if refused."""
    mnt.mkdir()
    r = subprocess.run(["mount", *args, str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot {what} here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        # Lazy: a connection a failed test left open must not keep the mount for the next test.
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, text=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs: a state folder on a card that can fill up."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root and mount(8) to mount a size-limited tmpfs")
    yield from _mounted(tmp_path / "disk", "-t", "tmpfs", "-o", "size=2m", "tmpfs",
                        what="mount a tmpfs")


@pytest.fixture
def disk_8m(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs: room for a write bigger than SQLite's 2 MB page cache, which then
    goes to the WAL (and may fill the disk) before its COMMIT."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root and mount(8) to mount a size-limited tmpfs")
    yield from _mounted(tmp_path / "disk8", "-t", "tmpfs", "-o", "size=8m", "tmpfs",
                        what="mount a tmpfs")


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
    yield from _mounted(tmp_path / "card", "-o", "loop,errors=remount-ro", str(image),
                        what="loop-mount an ext4 image")
