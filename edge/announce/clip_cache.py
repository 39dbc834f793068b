"""The demo's clip set, made once with espeak-ng and kept, keyed by what it says and how.

A set takes ~10 s to make here (~40 s on a Pi): `kezek demo` makes it on its first run and
finds it again on every later one. The key covers the words of every clip, the languages
and the code that makes and trims them, so a change to any of them makes a new set.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

from edge.announce import chime, generate as gen

logger = logging.getLogger(__name__)

DONE = "complete"   # written last: a folder without it is a set still being made, or broken


def default_root(environ: "os._Environ[str] | dict[str, str]" = os.environ) -> Path | None:
    """$XDG_CACHE_HOME/kezek, else ~/.cache/kezek; None when there is no home to use."""
    if environ.get("XDG_CACHE_HOME"):
        return Path(environ["XDG_CACHE_HOME"]) / "kezek"
    home = environ.get("HOME")
    return Path(home) / ".cache" / "kezek" if home and home != "/" else None


def set_key(langs: list[str]) -> str:
    texts = {lang: gen.clip_texts(lang) for lang in langs}
    digest = hashlib.sha256(json.dumps(texts, ensure_ascii=False, sort_keys=True).encode())
    for module in (gen, chime):  # how the words become sound
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()[:20]


def cached_set(root: Path, langs: list[str], *, remake: bool = False) -> Path:
    """The folder of a complete clip set for `langs` under root/clips, made if need be.

    Made in a folder of its own and renamed into place when complete: two demos starting
    at once, or one stopped halfway, never leave a half set where the next run looks.
    Raises GenerateError (no espeak-ng, no voice) or OSError (the folder is not writable).
    """
    base = root / "clips"
    folder = base / f"{'-'.join(langs)}-{set_key(langs)}"
    if remake and folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    if (folder / DONE).is_file():
        return folder
    base.mkdir(parents=True, exist_ok=True)
    work = base / f".{folder.name}.{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    logger.warning("announce (demo): making a clip set with espeak-ng in %s (once: later "
                   "demos use it again)", folder)
    try:
        gen.generate(work, langs)
        (work / DONE).write_text("made by kezek demo with espeak-ng\n", encoding="utf-8")
        try:
            work.rename(folder)
        except OSError:
            if not (folder / DONE).is_file():   # not another demo's complete set: ours then
                shutil.rmtree(folder, ignore_errors=True)
                work.rename(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder
