"""CPU slices for the fleet benchmark: each central instance capped as a machine of its own size.

On one box every process shares the same cores, so a second instance only adds a process
to them; to compare 1 and 2 instances as 1 and 2 machines of equal size, each instance
runs in a cgroup (v1 `cpu` controller, CFS bandwidth) whose quota is its slice of a core:
`--instance-cpu 0.4` lets it use 40 ms of CPU every 100 ms, however idle the box is. The
broker, PostgreSQL and the simulated edges stay outside and share what is left.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

CGROUP_CPU = Path("/sys/fs/cgroup/cpu")
PERIOD_US = 100_000


class SliceError(RuntimeError):
    """CPU slices cannot be made here; the message says why and what to do instead."""


def check_slices(root: Path, cpus: float, count: int = 1) -> None:
    """Refuse clearly, before anything starts, when `count` slices of `cpus` cannot be had."""
    if not 0.01 <= cpus <= (os.cpu_count() or 1):
        raise SliceError(f"--instance-cpu must be between 0.01 and the {os.cpu_count()} cores "
                         f"of this machine, not {cpus:g}")
    if count * cpus > (os.cpu_count() or 1):
        raise SliceError(f"{count} instances of {cpus:g} core each need {count * cpus:g} cores; "
                         f"this machine has {os.cpu_count()}: give a smaller --instance-cpu")
    fix = ("run the fleet without --instance-cpu (every process then shares all cores), or "
           "as root on a machine with cgroup v1's cpu controller mounted "
           f"(mount -t cgroup -o cpu cgroup {CGROUP_CPU})")
    if not (root / "cpu.cfs_quota_us").is_file():
        raise SliceError(f"--instance-cpu needs cgroup v1's cpu controller with CFS bandwidth "
                         f"control at {root}, and there is none (cpu.cfs_quota_us is missing: "
                         f"cgroup v2 only, or a container without it); {fix}")
    if not os.access(root, os.W_OK):
        raise SliceError(f"--instance-cpu needs to create cgroups under {root}, which this "
                         f"user (uid {os.getuid()}) cannot write; {fix}")


class CpuSlice:
    """One cgroup with a CPU quota; `wrap(argv)` starts a command inside it from its first
    instruction (a shell joins the group, then execs the command under the same pid)."""

    def __init__(self, root: Path, name: str, cpus: float) -> None:
        self.path = root / name
        self.cpus = cpus
        try:
            self.path.mkdir()
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(int(cpus * PERIOD_US)))
        except OSError as e:
            self.remove()
            raise SliceError(f"cannot make the CPU slice {self.path}: {e}") from e

    def wrap(self, argv: list[str]) -> list[str]:
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"',
                str(self.path / "cgroup.procs"), *argv]

    def throttled(self) -> tuple[int, int, float]:
        """(periods, periods throttled, seconds throttled) so far: a slice used to its quota
        is throttled in most periods while it has work."""
        stat: dict[str, int] = {}
        try:
            for line in (self.path / "cpu.stat").read_text().splitlines():
                k, _, v = line.partition(" ")
                stat[k] = int(v)
        except (OSError, ValueError):
            pass
        return (stat.get("nr_periods", 0), stat.get("nr_throttled", 0),
                stat.get("throttled_time", 0) / 1e9)

    def remove(self) -> None:
        """rmdir once its processes are gone (the kernel refuses while any is in it)."""
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)


def proc_cpu_s(pid: int, children: bool = False) -> float:
    """User + system CPU seconds of a process (all its threads); with `children`, also
    what its waited-for children used (a postmaster's exited backends)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])           # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])      # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(parent: int) -> float:
    """CPU seconds of a process, its waited-for children and its live children (PostgreSQL:
    the postmaster and its backends)."""
    total = proc_cpu_s(parent, children=True)
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total
