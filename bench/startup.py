"""Cold start to ready and peak RSS of `kezek run` with the demo config, in a child process.

"Ready" = the console answers a `status` line: by then the config is validated, the
database opened and migrated, the engine loaded and every configured component started.
The `status` line is written before the child starts, so the answer comes the moment
the console reads it. RSS is the child's VmHWM after a short busy session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, runnable_demo_config
from edge.sim.stats import percentile

# A short session so the peak RSS covers real work, not only imports.
SESSION = ["ticket docs", "ticket realty", "ticket benefits pensioner", "call 1", "start 1",
           "done 1", "call 2", "call 4", "status"] * 10


def kezek_command() -> list[str]:
    script = Path(sys.executable).parent / "kezek"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from edge.cli import main; sys.exit(main())"]


def device_env(bytecode_dir: Path) -> dict[str, str]:
    """The environment of a child that starts as an installed device does.

    On a device, pip compiled every module to bytecode when it installed the venv
    (scripts/install.sh), so a start loads .pyc files. Here the package is an editable
    install and the shell may set PYTHONDONTWRITEBYTECODE, which made every start compile
    Kezek's ~80 modules from source (~0.1 s of CPU a device never spends). So the child
    may write bytecode, into `bytecode_dir` rather than the source tree; the first,
    untimed start fills it.
    """
    # An in-process benchmark that ran before (press-to-print) pointed python-escpos's
    # cache at its own, since deleted, state dir; a child must find its own cache.
    drop = {"ESCPOS_CAPABILITIES_PICKLE_DIR", "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPYCACHEPREFIX"] = str(bytecode_dir)
    return env


def _spawn(state_dir: Path, config: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(kezek_command() + ["run", "--config", str(config), "--state-dir",
                                              str(state_dir), "--log-level", "WARNING"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=str(ROOT), env=env)


def one_start(config: Path, session: list[str], state_dir: Path,
              env: dict[str, str]) -> dict[str, Any]:
    """Start, wait for the answer to `status`, run `session`, quit; time and peak RSS.

    `state_dir` and the bytecode in `env` are kept between starts, as on an installed
    device that restarts (a reboot, an update): the very first start after installing
    also builds python-escpos's capability cache there, once (about 0.3 s more; run()
    makes that start first).
    """
    t0 = time.perf_counter()
    proc = _spawn(state_dir, config, env)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("status\n")
    proc.stdin.flush()
    first = proc.stdout.readline()
    ready_s = time.perf_counter() - t0
    if not first.startswith("STATUS"):
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise RuntimeError(f"kezek run did not answer status: {first!r} {err[-500:]!r}")
    proc.stdin.write("\n".join(session) + "\n")
    proc.stdin.flush()
    answers = _read_through_status(proc.stdout, session.count("status"))
    peak_kb = settled_peak_rss_kb(proc.pid)
    proc.stdin.write("quit\n")
    proc.stdin.close()
    answers += proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    assert proc.stderr is not None
    errors = proc.stderr.read()
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"kezek run exited with {proc.returncode}: {errors[-500:]}")
    return {"ready_s": ready_s, "peak_rss_kb": peak_kb,
            "answers_ok": "BYE" in answers and "ERROR" not in answers}


def _read_through_status(out: Any, statuses: int) -> str:
    """The console's answers up to the END of the session's last `status`."""
    lines: list[str] = []
    while statuses > 0:
        line = out.readline()
        if not line:
            break
        lines.append(line)
        if line.strip() == "END":
            statuses -= 1
    return "".join(lines)


def settled_peak_rss_kb(pid: int, settle_s: float = 0.5, limit_s: float = 10.0) -> int:
    """The child's own peak RSS (VmHWM), once it stopped growing (printing runs after
    the commands are answered).

    Not ru_maxrss from wait4: Linux starts a child's ru_maxrss at its parent's RSS when
    it execs, and this benchmark's process is large by now (5,000 tickets in memory,
    the in-process benchmarks), which made the service look 100 MB big. VmHWM is the
    high-water mark of the memory the service itself mapped after exec.
    """
    status = Path(f"/proc/{pid}/status")
    last, stable_since = -1, time.monotonic()
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        hwm = next(int(line.split()[1]) for line in status.read_text().splitlines()
                   if line.startswith("VmHWM:"))
        if hwm != last:
            last, stable_since = hwm, time.monotonic()
        elif time.monotonic() - stable_since >= settle_s:
            break
        time.sleep(0.05)
    return last


def start_cpu_s(config: Path, state_dir: Path, env: dict[str, str], runs: int = 3) -> float:
    """CPU seconds (user + sys) of a start that answers `status` and quits; min of `runs`.

    Wall time to ready depends on what else the machine is doing; CPU time hardly does,
    so this is the figure to compare between runs on a shared machine.
    """
    best = float("inf")
    for _ in range(runs):
        proc = _spawn(state_dir, config, env)
        assert proc.stdin is not None
        proc.stdin.write("status\nquit\n")
        proc.stdin.close()
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()
        best = min(best, usage.ru_utime + usage.ru_stime)
    return best


def import_profile(config: Path, state_dir: Path, env: dict[str, str],
                   top: int = 10) -> list[dict[str, Any]]:
    """The slowest imports of a restart (python -X importtime), cumulative µs."""
    proc = _spawn(state_dir, config, dict(env, PYTHONPROFILEIMPORTTIME="1"))
    _, err = proc.communicate("status\nquit\n", timeout=60)
    rows = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cum_us, name = line[len("import time:"):].split("|", 2)
        name = name[1:]  # "| " then two spaces per nesting level
        depth = (len(name) - len(name.lstrip())) // 2
        rows.append({"module": name.strip(), "self_us": int(self_us), "cumulative_us": int(cum_us),
                     "depth": depth})
    tops = [r for r in rows if r["depth"] == 0]
    tops.sort(key=lambda r: -r["cumulative_us"])
    return tops[:top]


def run(runs: int, work_dir: Path) -> dict[str, Any]:
    config, changes = runnable_demo_config(work_dir)
    state_dir = Path(tempfile.mkdtemp(prefix="kezek-bench-start-", dir=work_dir))
    env = device_env(Path(tempfile.mkdtemp(prefix="kezek-bench-bytecode-", dir=work_dir)))
    first = one_start(config, SESSION, state_dir, env)  # the first start after install: not timed
    results = [one_start(config, SESSION, state_dir, env) for _ in range(runs)]
    ready = [r["ready_s"] for r in results]
    return {"config": "config/demo.toml", "config_changes": changes, "runs": runs,
            "ready_s": {"p50": round(percentile(ready, 50), 4), "max": round(max(ready), 4),
                        "all": [round(x, 4) for x in ready]},
            "peak_rss_mb": round(max(r["peak_rss_kb"] for r in results) / 1024, 1),
            "session_ok": all(r["answers_ok"] for r in results),
            "first_start_after_install_s": round(first["ready_s"], 4),
            "start_cpu_s": round(start_cpu_s(config, state_dir, env, max(1, min(runs, 3))), 4),
            "slowest_imports": import_profile(config, state_dir, env)}
