"""Where a rendered announcement goes: ALSA (aplay), any command, a folder, or memory."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Protocol

from edge.config.announce import AlsaOutput, CommandOutput, FakeOutput, FileOutput, OutputConfig
from edge.errors import DeviceError

logger = logging.getLogger(__name__)

SPEAKER = "speaker"


class Output(Protocol):
    """Plays one WAV (bytes) to the end, or raises DeviceError naming the problem."""

    def play(self, wav: bytes, name: str) -> None: ...


def _run(argv: list[str], *, stdin: bytes | None, timeout_s: float, hint: str) -> None:
    try:
        proc = subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout_s, check=False)
    except FileNotFoundError:
        raise DeviceError(SPEAKER, f"{argv[0]} not found", hint) from None
    except subprocess.TimeoutExpired:
        raise DeviceError(SPEAKER, f"{argv[0]} still playing after {timeout_s:g} s; stopped",
                          "check the sound device is not used by another program") from None
    except OSError as e:
        raise DeviceError(SPEAKER, f"cannot run {argv[0]}: {e.strerror}", hint) from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        detail = lines[-1].strip() if lines else f"exit status {proc.returncode}"
        raise DeviceError(SPEAKER, f"{argv[0]} failed: {detail}", hint)


class AlsaPlayer:
    """`aplay -q -D <device> -` with the WAV on stdin: no temporary files on the SD card."""

    def __init__(self, cfg: AlsaOutput, aplay: str = "aplay") -> None:
        self.cfg = cfg
        self.aplay = aplay

    def play(self, wav: bytes, name: str) -> None:
        _run([self.aplay, "-q", "-D", self.cfg.device, "-"], stdin=wav,
             timeout_s=self.cfg.timeout_s,
             hint=f"is the speaker plugged in? list devices with `aplay -L`; set "
                  f"announce.output.device (now {self.cfg.device!r}); aplay is in alsa-utils")


class CommandPlayer:
    """A configured command; `{file}` in argv is replaced by a temporary WAV's path."""

    def __init__(self, cfg: CommandOutput) -> None:
        self.cfg = cfg

    def play(self, wav: bytes, name: str) -> None:
        hint = "check announce.output.argv"
        if not any("{file}" in a for a in self.cfg.argv):
            _run(list(self.cfg.argv), stdin=wav, timeout_s=self.cfg.timeout_s, hint=hint)
            return
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(prefix="kezek-announce-", suffix=".wav")
            with os.fdopen(fd, "wb") as f:
                f.write(wav)
        except OSError as e:  # a full disk, a read-only or missing temp folder
            where = tmp or tempfile.gettempdir()
            if tmp is not None:
                _unlink(tmp)
            raise DeviceError(SPEAKER, f"cannot write the announcement to {where}: "
                              f"{e.strerror or e}", "free space in the temporary folder "
                              "(TMPDIR), or use an announce.output.argv without {file}") from None
        try:
            argv = [a.replace("{file}", tmp) for a in self.cfg.argv]
            _run(argv, stdin=None, timeout_s=self.cfg.timeout_s, hint=hint)
        finally:
            _unlink(tmp)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError as e:
        logger.warning("announce: cannot remove %s: %s", path, e)


class FilePlayer:
    """Writes announce-<n>-<ticket>.wav files (atomically) and keeps the newest `keep`."""

    def __init__(self, cfg: FileOutput) -> None:
        self.dir = Path(cfg.dir)
        self.keep = cfg.keep
        self._n = 0

    def play(self, wav: bytes, name: str) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            existing = sorted(self.dir.glob("announce-*.wav"))
            if self._n == 0 and existing:
                m = re.match(r"announce-(\d+)", existing[-1].name)
                self._n = int(m.group(1)) if m else 0
            self._n += 1
            safe = re.sub(r"[^A-Za-z0-9-]", "_", name)[:32]
            path = self.dir / f"announce-{self._n:06d}-{safe}.wav"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(wav)
            os.replace(tmp, path)
            for old in sorted(self.dir.glob("announce-*.wav"))[:-self.keep]:
                old.unlink(missing_ok=True)
        except OSError as e:
            raise DeviceError(SPEAKER, f"cannot write {self.dir}: {e.strerror}",
                              "check announce.output.dir exists and is writable") from None

    @property
    def files(self) -> list[Path]:
        return sorted(self.dir.glob("announce-*.wav"))


class FakePlayer:
    """Keeps (name, wav) in memory; tests wait for plays and can make it fail."""

    def __init__(self) -> None:
        self.played: list[tuple[str, bytes]] = []
        self.fail_with: str | None = None
        self._cond = threading.Condition()

    def play(self, wav: bytes, name: str) -> None:
        with self._cond:
            if self.fail_with is not None:
                self._cond.notify_all()
                raise DeviceError(SPEAKER, self.fail_with)
            self.played.append((name, wav))
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        # Returns as soon as `count` were played; the deadline is for a loaded test machine.
        with self._cond:
            return self._cond.wait_for(lambda: len(self.played) >= count, timeout)


def make_output(cfg: OutputConfig) -> Output:
    if isinstance(cfg, AlsaOutput):
        return AlsaPlayer(cfg)
    if isinstance(cfg, CommandOutput):
        return CommandPlayer(cfg)
    if isinstance(cfg, FileOutput):
        return FilePlayer(cfg)
    if isinstance(cfg, FakeOutput):
        return FakePlayer()
    raise TypeError(f"unknown output {cfg!r}")
