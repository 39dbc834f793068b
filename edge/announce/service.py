"""The announcer: turns ticket.called / ticket.recalled into queued, never-overlapping speech."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edge.announce.clips import FIX, ClipError, ClipSet, render
from edge.announce.outputs import SPEAKER, Output, make_output
from edge.announce.phrase import plan, required_clips
from edge.config.announce import AnnounceConfig
from edge.errors import ConfigError, DeviceError
from edge.queue.commands import DeviceStatus, Reconfigure
from edge.worker import Worker

if TYPE_CHECKING:  # the controller imports the engine; only the type is needed here
    from edge.component import AppContext
    from edge.config import AppConfig
    from edge.control import Applied, QueueControl

logger = logging.getLogger(__name__)

CALL_EVENTS = ("ticket.called", "ticket.recalled")
CLIPS = "announce:clips"     # the device whose alarm says a call's clip is missing


@dataclass(frozen=True)
class Announcement:
    ticket: str          # "A-042"
    window: int
    kind: str = "ticket.called"
    queued_mono: float = field(default_factory=time.monotonic)


class AnnounceService:
    """One player thread takes announcements in order; listeners and callers only enqueue.

    A failing speaker is logged and reported once as the alarm `device:speaker` (through
    the controller); calls go on regardless, and the alarm clears on the next good play.
    """

    name = "announce"

    def __init__(self, cfg: AnnounceConfig, clips: ClipSet, output: Output,
                 controller: "QueueControl | None" = None, *,
                 missing: "dict[tuple[str | None, str], str] | None" = None) -> None:
        self.cfg = cfg
        self.clips = clips
        self.output = output
        self.controller = controller
        self._queue: deque[Announcement] = deque()
        self._cond = threading.Condition()
        self.player = Worker("kezek-announce", self._run)
        self._speaker_ok: bool | None = None
        # Clips a call needed and could not load (a service added since the start without
        # its letter clip): (language, name) -> the problem. The alarm CLIPS stays raised
        # while any is missing; each is tried again before every announcement.
        # A start with clips missing passes them in (see build): the queue runs, the calls
        # that need them are not spoken, and the alarm says which files to add.
        self._missing: dict[tuple[str | None, str], str] = dict(missing or {})
        self._last_error: str | None = None
        self._reloaded: "AppConfig | None" = None   # a running config whose clips to check
        self.played = 0
        self.failed = 0
        self.dropped = 0
        self.skipped = 0
        self.superseded = 0

    # -- producers (any thread; never block) -------------------------------------------
    def on_applied(self, applied: "Applied") -> None:
        """Controller listener: runs on the loop thread, so it only enqueues."""
        if isinstance(applied.command, Reconfigure) and applied.config is not None:
            # A reload added services or windows: their clips are checked now, on the
            # player thread, so a missing one is an alarm before the first call needs it.
            with self._cond:
                self._reloaded = applied.config
                self._cond.notify()
        for ev in applied.events:
            if ev.type not in CALL_EVENTS:
                continue
            if ev.type == "ticket.recalled" and not self.cfg.recalls:
                continue
            ticket, window = ev.data.get("ticket"), ev.data.get("window")
            if isinstance(ticket, str) and isinstance(window, int):
                self.enqueue(Announcement(ticket, window, ev.type))

    def enqueue(self, item: Announcement) -> None:
        with self._cond:
            # A waiting call the hall no longer shows is not read out: its window has
            # called someone else since, or the same ticket was recalled or sent to another
            # window (then the newer call says it once, where it is now).
            gone = [a for a in self._queue if a.window == item.window or a.ticket == item.ticket]
            for old in gone:
                self._queue.remove(old)
                self.superseded += 1
                logger.info("announce: %s -> window %s not read out: %s -> window %s "
                            "replaces it", old.ticket, old.window, item.ticket, item.window)
            if len(self._queue) >= self.cfg.queue_max:
                old = self._queue.popleft()
                self.dropped += 1
                logger.warning("announce queue full (%s): dropped %s -> window %s",
                               self.cfg.queue_max, old.ticket, old.window)
            self._queue.append(item)
            self._cond.notify()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self.controller is not None:
            self.controller.subscribe(self.on_applied)
            if self._missing:
                self._clips_status(False)
            else:
                # Every clip this config needs was loaded at build: a clip alarm saved
                # from before the restart is over.
                if self.controller.snapshot.devices.get(CLIPS, {}).get("ok") is False:
                    self._clips_status(True)
        self.player.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.player.request_stop()
        with self._cond:
            self._cond.notify_all()
        self.player.stop(timeout)

    def health(self) -> dict[str, Any]:
        with self._cond:
            queued = len(self._queue)
        return {"ok": self._speaker_ok is not False and self.player.ok,
                "speaker_ok": self._speaker_ok,
                "queued": queued, "played": self.played, "failed": self.failed,
                "dropped": self.dropped, "skipped_stale": self.skipped,
                "superseded": self.superseded,
                "last_error": self._last_error or self.player.problem(), "clips_loaded": self.clips.loaded}

    # -- the player thread -------------------------------------------------------------
    def _next(self) -> "Announcement | AppConfig | None":
        with self._cond:
            while not self._queue and not self.player.stopped and self._reloaded is None:
                self._cond.wait(1.0)
            if self.player.stopped:
                return None
            if self._reloaded is not None:
                config, self._reloaded = self._reloaded, None
                return config
            return self._queue.popleft()

    def _run(self) -> None:
        while True:
            item = self._next()
            if item is None:
                return
            if not isinstance(item, Announcement):
                self._check_clips(item)
                continue
            if time.monotonic() - item.queued_mono > self.cfg.max_age_s:
                self.skipped += 1
                logger.warning("announce: %s -> window %s waited over %.0f s; skipped",
                               item.ticket, item.window, self.cfg.max_age_s)
                continue
            try:
                self.play_now(item)
            except Exception as e:  # a bug or an unexpected error: the next call must speak
                self.failed += 1
                self._last_error = f"{type(e).__name__}: {e}"
                logger.exception("announce: %s -> window %s failed", item.ticket, item.window)
                self._report(False, f"announcement failed: {self._last_error}; see the log")

    def render(self, item: Announcement) -> bytes:
        segments = plan(item.ticket, item.window, self.cfg.languages,
                        {lang: self.cfg.phrase_for(lang) for lang in self.cfg.languages},
                        chime=self.clips.chime_path is not None,
                        chime_gap_ms=self.cfg.chime_gap_ms, word_gap_ms=self.cfg.word_gap_ms,
                        language_gap_ms=self.cfg.language_gap_ms)
        return render(segments, self.clips)

    def play_now(self, item: Announcement) -> None:
        """Render and play one announcement in the calling thread; never raises."""
        self._recheck_missing()
        try:
            wav = self.render(item)
        except (ClipError, ValueError) as e:
            # Not the speaker's fault: a label or clip problem (e.g. a service added by a
            # reconfigure without its letter clip). Logged and alarmed; the call itself
            # is unaffected.
            self.failed += 1
            self._last_error = str(e)
            logger.error("announce: cannot render %s -> window %s: %s",
                         item.ticket, item.window, e)
            if isinstance(e, ClipError) and e.clips and not set(e.clips) <= set(self._missing):
                self._missing.update(dict.fromkeys(e.clips, "; ".join(e.problems)))
                self._clips_status(False)   # raised, or its text now names one more clip
            return
        try:
            self.output.play(wav, item.ticket)
        except OSError as e:  # an output that let one through: still the speaker's trouble
            self.failed += 1
            self._last_error = f"speaker: {e}"
            logger.error("announce: %s -> window %s not played: %s", item.ticket, item.window, e)
            self._report(False, f"cannot play: {e}")
            return
        except DeviceError as e:
            self.failed += 1
            self._last_error = str(e)
            logger.error("announce: %s", e)
            # The alarm text is "<device>: <detail>": don't repeat the device name.
            self._report(False, str(e).removeprefix(f"{e.device}: "))
            return
        self.played += 1
        self._report(True, "")

    def _check_clips(self, config: "AppConfig") -> None:
        """The clips the running configuration's calls can need, loaded now: a service or
        window added by a reload without its clip raises the clips alarm at once."""
        try:
            missing = self.clips.load_all(_needed(self.cfg, config))
        except Exception:  # a bug here must not end the player: the call path rechecks
            logger.exception("announce: cannot check the clips of the reloaded configuration")
            return
        new = {key: "; ".join(problems) for key, problems in missing.items()
               if key not in self._missing}
        if new:
            logger.error("announce: the reloaded configuration needs clips that cannot be "
                         "loaded: %s", "; ".join(sorted(set(new.values()))))
            self._missing.update(new)
            self._clips_status(False)

    def _recheck_missing(self) -> None:
        if not self._missing:
            return
        for key in list(self._missing):
            try:
                self.clips.get(*key)
            except ClipError:
                continue
            del self._missing[key]
            logger.info("announce: clip %s/%s is there now", key[0] or "", key[1])
        if not self._missing:
            self._clips_status(True)

    def _clips_status(self, ok: bool) -> None:
        detail = "" if ok else (
            f"calls that need these clips are not announced: "
            f"{'; '.join(sorted(set(self._missing.values())))}")
        if self.controller is None:
            return
        fut = self.controller.submit(DeviceStatus(device=CLIPS, ok=ok, detail=detail[:500],
                                                  source="announce"))
        fut.add_done_callback(_log_refusal)

    def _report(self, ok: bool, detail: str) -> None:
        if self._speaker_ok is ok or (ok and self._speaker_ok is None):
            self._speaker_ok = ok
            return  # report changes only (and no "ok" noise at start)
        self._speaker_ok = ok
        if self.controller is None:
            return
        fut = self.controller.submit(DeviceStatus(device=SPEAKER, ok=ok, detail=detail,
                                                  source="announce"))
        fut.add_done_callback(_log_refusal)


def _log_refusal(fut: Any) -> None:
    exc = fut.exception()
    if exc is not None:
        logger.warning("announce: speaker status not recorded: %s", exc)


def _needed(cfg: AnnounceConfig, config: Any) -> dict[str, set[str]]:
    """Every clip name, per language, that this config's calls can ever need."""
    prefixes = [s.prefix for s in config.services]
    ranges = [tuple(s.range) for s in config.services]
    windows = [w.number for w in config.windows]
    return {lang: required_clips(cfg.phrase_for(lang), prefixes, ranges, windows)
            for lang in cfg.languages}


def load_clips(cfg: AnnounceConfig, config: Any) -> ClipSet:
    """Load every clip this config can need; raises ConfigError naming files and the fix."""
    clips = ClipSet({lang: cfg.folders[lang] for lang in cfg.languages}, cfg.chime)
    missing = [f"announce.folders.{lang}: folder {clips.folders[lang]} does not exist; "
               f"{FIX.replace('record it', 'record the clips')}"
               for lang in cfg.languages if not clips.folders[lang].is_dir()]
    if missing:  # one line per folder, not one per clip it would have held
        raise ConfigError("announce", missing)
    needed = _needed(cfg, config)
    try:
        clips.preload(needed)
    except ClipError as e:
        problems = e.problems
        if len(problems) > 12:  # a missing folder lists every clip; keep the message usable
            problems = problems[:10] + [f"... and {len(problems) - 10} more clip problems"]
        raise ConfigError("announce", problems) from None
    return clips


def _generated_clips(ctx: "AppContext", err: ConfigError, *, remake: bool = False,
                     ) -> AnnounceConfig | None:
    """announce.generate_missing (the demo speaks out of the box): a clip set made with
    espeak-ng once (in ctx.cache_dir, which `kezek demo` gives) and reused by every later
    run; without a cache, made in the state folder."""
    from edge.announce.clip_cache import cached_set
    from edge.announce.generate import GenerateError, generate

    cfg = ctx.config.announce
    langs = list(cfg.languages)
    if not remake:
        logger.info("announce: configured clips unusable (%s); using a set made "
                    "with espeak-ng (announce.generate_missing)", "; ".join(err.problems[:2]))
    out = ctx.state_dir / "clips"
    try:
        if ctx.cache_dir is not None:
            try:
                out = cached_set(ctx.cache_dir, langs, remake=remake)
            except OSError as e:   # a read-only home: made for this run only
                logger.warning("announce: cannot keep a clip set in %s (%s); making "
                               "one in %s", ctx.cache_dir, e, out)
                generate(out, langs)
        else:
            generate(out, langs)
    except (GenerateError, OSError) as e:
        logger.warning("announce: no announcements: %s", e)
        return None
    return cfg.model_copy(update={"folders": {lang: out / lang for lang in langs},
                                  "chime": out / "chime.wav"})


def _clips_with_gaps(cfg: AnnounceConfig, config: Any, err: ConfigError,
                     ) -> tuple[ClipSet, dict[tuple[str | None, str], str]]:
    """The clips that load, and (language, name) -> problem for those that do not."""
    clips = ClipSet({lang: cfg.folders[lang] for lang in cfg.languages}, cfg.chime)
    missing = {key: "; ".join(problems)
               for key, problems in clips.load_all(_needed(cfg, config)).items()}
    # A missing folder is one line in the alarm, not one per clip it would have held.
    for line in err.problems:
        for key in missing:
            if key[0] is not None and line.startswith(f"announce.folders.{key[0]}:"):
                missing[key] = line
    logger.error("announce: %d clip(s) cannot be loaded; the queue runs, and the calls that "
                 "need them are not spoken until the files are there (alarm "
                 "device:%s): %s", len(missing), CLIPS, "; ".join(err.problems))
    return clips, missing


def build(ctx: "AppContext") -> list[AnnounceService]:
    cfg = ctx.config.announce
    missing: dict[tuple[str | None, str], str] = {}
    try:
        clips = load_clips(cfg, ctx.config)
    except ConfigError as e:
        if cfg.generate_missing:
            made = _generated_clips(ctx, e)
            if made is None:
                return []
            try:
                clips = load_clips(made, ctx.config)
            except ConfigError:   # a kept set someone changed by hand: made again
                made = _generated_clips(ctx, e, remake=True)
                if made is None:
                    return []
                clips = load_clips(made, ctx.config)
            cfg = made
        else:
            # A lost or damaged sound file must not keep a center from issuing tickets
            # after a reboot (as a missing printer font does not): start, raise the alarm,
            # and pick the files up once they are there. `kezek doctor` still fails.
            clips, missing = _clips_with_gaps(cfg, ctx.config, e)
    output = make_output(cfg.output)
    logger.info("announce: %d clips (%s), languages %s, output %s", clips.loaded,
                clips.format, ",".join(cfg.languages), cfg.output.type)
    return [AnnounceService(cfg, clips, output, ctx.controller, missing=missing)]
