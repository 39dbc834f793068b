"""The SD card layout row of `kezek doctor`: which layout, and a state folder that vanishes."""

from __future__ import annotations

from pathlib import Path

from edge.system.doctor.sdcard import check_sd_layout

# /proc/self/mountinfo of a Raspberry Pi with the overlay file system on (raspi-config),
# before and after a state partition is added.
OVERLAY_ROOT = """\
24 1 0:22 / / rw,noatime - overlay overlayroot rw,lowerdir=/media/root-ro,upperdir=/media/root-rw/overlay
21 24 179:2 / /media/root-ro ro,relatime - ext4 /dev/mmcblk0p2 ro
22 24 0:21 / /media/root-rw rw,relatime - tmpfs tmpfs-root rw
25 24 179:1 / /boot/firmware ro,relatime - vfat /dev/mmcblk0p1 ro
"""
STATE_PARTITION = "31 24 179:3 / /var/lib/kezek rw,noatime - ext4 /dev/mmcblk0p3 rw\n"
WRITABLE_ROOT = """\
24 1 179:2 / / rw,noatime - ext4 /dev/mmcblk0p2 rw
25 24 179:1 / /boot/firmware rw,relatime - vfat /dev/mmcblk0p1 rw
40 24 0:40 / /run rw,nosuid - tmpfs tmpfs rw
"""


def row(tmp_path: Path, mountinfo: str, state: str = "/var/lib/kezek"):
    path = tmp_path / "mountinfo"
    path.write_text(mountinfo)
    rows = check_sd_layout(Path(state), path)
    assert len(rows) == 1 and rows[0].name == "sd card"
    return rows[0]


def test_a_read_only_system_without_a_state_partition_fails_before_the_reboot_loses_the_queue(
        tmp_path: Path) -> None:
    r = row(tmp_path, OVERLAY_ROOT)
    assert not r.ok
    assert "read-only, state in RAM" in r.detail and "vanish at the next reboot" in r.detail
    assert "disable_overlayfs" in r.hint and "docs/install.md" in r.hint


def test_a_read_only_system_with_the_state_on_its_own_partition_is_the_supported_layout(
        tmp_path: Path) -> None:
    r = row(tmp_path, OVERLAY_ROOT + STATE_PARTITION)
    assert r.ok and r.detail.startswith("read-only + state partition")
    assert "/dev/mmcblk0p3 (ext4, mounted at /var/lib/kezek)" in r.detail
    # A folder below the mount point is on it too (a custom storage.state_dir).
    assert row(tmp_path, OVERLAY_ROOT + STATE_PARTITION, "/var/lib/kezek/center").ok


def test_a_writable_system_is_said_as_such(tmp_path: Path) -> None:
    r = row(tmp_path, WRITABLE_ROOT)
    assert r.ok and r.detail.startswith("writable: writable system, state folder on it")
    assert row(tmp_path, WRITABLE_ROOT + STATE_PARTITION).detail.startswith(
        "writable + state partition")


def test_a_state_folder_in_ram_or_read_only_fails(tmp_path: Path) -> None:
    r = row(tmp_path, WRITABLE_ROOT, "/run/kezek-state")
    assert not r.ok and "on tmpfs, which lives in RAM" in r.detail
    ro = row(tmp_path, WRITABLE_ROOT + STATE_PARTITION.replace("rw,noatime", "ro,noatime")
             .replace(" rw\n", " ro\n"))
    assert not ro.ok and "mounted read-only" in ro.detail


def test_no_mount_table_no_row(tmp_path: Path) -> None:
    assert check_sd_layout(Path("/var/lib/kezek"), tmp_path / "missing") == []


def test_inside_a_chroot_the_layout_is_unknown_not_a_failure(tmp_path: Path) -> None:
    r = row(tmp_path, "22 27 0:21 / /proc rw,relatime - proc proc rw\n")
    assert r.ok and "cannot tell" in r.detail and "chroot" in r.detail
