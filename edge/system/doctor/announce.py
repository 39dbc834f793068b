"""`kezek doctor`'s announcement probe: the clips every call can need, and the sound output."""

from __future__ import annotations

import os
from pathlib import Path

from edge.config import AppConfig
from edge.system.doctor.check import Check


def check_announce(config: AppConfig, snd_dir: Path = Path("/dev/snd"),
                   path: str | None = None) -> list[Check]:
    """The clips every call can need, and the sound output (aplay, a playback device).

    `path` is the PATH to look for programs in (None: this process's)."""
    import shutil

    cfg = config.announce
    if not cfg.enabled:
        return []
    from edge.announce.service import load_clips
    from edge.errors import ConfigError
    rows: list[Check] = []
    try:
        clips = load_clips(cfg, config)
    except ConfigError as e:
        shown = e.problems[:3] + ([f"... {len(e.problems) - 3} more"] if len(e.problems) > 3 else [])
        rows.append(Check("announce clips", False, "; ".join(shown),
                          "record the missing clips (names in docs/announce.md), or make a first "
                          "set with `kezek clips --out /var/lib/kezek/clips`"))
    else:
        rows.append(Check("announce clips", True,
                          f"{clips.loaded} clips ({clips.format}), languages "
                          f"{', '.join(cfg.languages)}"))
    out = cfg.output
    if out.type == "alsa":
        if shutil.which("aplay", path=path) is None:
            rows.append(Check("announce output", False, "aplay not found: calls cannot be spoken",
                              "sudo apt install alsa-utils"))
        elif out.device == "null":
            rows.append(Check("announce output", True, "aplay to ALSA device 'null' (silent)"))
        else:
            pcms = sorted(snd_dir.glob("pcmC*D*p"))  # playback devices of every sound card
            usable = [p for p in pcms if os.access(p, os.R_OK | os.W_OK)]
            if not pcms:
                rows.append(Check("announce output", False,
                                  f"no sound card: no playback device in {snd_dir}",
                                  "plug in the speaker (a USB sound card), or enable the Pi's "
                                  "audio (dtparam=audio=on in /boot/firmware/config.txt); "
                                  "`aplay -l` lists cards"))
            elif not usable:
                rows.append(Check("announce output", False,
                                  f"cannot open {pcms[0]}: permission denied",
                                  "add the service user to group audio (sudo usermod -aG audio "
                                  "kezek), then restart kezek"))
            else:
                rows.append(Check("announce output", True,
                                  f"aplay -D {out.device}; {len(pcms)} playback device(s) in "
                                  f"{snd_dir}"))
    elif out.type == "command":
        prog = out.argv[0]
        if shutil.which(prog, path=path) is None:
            rows.append(Check("announce output", False,
                              f"announce.output.argv: {prog!r} not found or not executable",
                              "install the program or put its full path in announce.output.argv"))
        else:
            rows.append(Check("announce output", True, f"command {prog}"))
    # file and fake outputs: check_simulated says that nothing is heard.
    return rows
