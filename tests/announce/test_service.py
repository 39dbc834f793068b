"""The announcer on the real controller: calls are spoken in order, never overlapping, and
a failing speaker raises an alarm without ever stopping calls."""

from __future__ import annotations

import io
import os
import shutil
import threading
import time
import wave

import pytest

from edge.announce.outputs import AlsaPlayer, CommandPlayer, FakePlayer, FilePlayer
from edge.announce.service import Announcement, AnnounceService, build
from edge.config.announce import AlsaOutput, CommandOutput, FileOutput
from edge.errors import DeviceError
from edge.queue.commands import CallNext, IssueTicket, Recall


def started(service: AnnounceService):
    service.start()
    return service


def spoken_tickets(clip_dir, player: FakePlayer) -> list[tuple[str, str]]:
    """The (letter, window) each played WAV says in Kazakh, read back from its samples."""
    out = []
    for _, wav in player.played:
        names = [clip_dir.name_of(v) for v, _ in clip_dir.runs(wav)[1] if v]
        kk = [n for lang, n in names if lang == "kk"]
        out.append((kk[1], kk[-1]))
    return out


@pytest.fixture
def announcer(harness, clip_dir, announce_ctx):
    made: list[AnnounceService] = []

    def make(**over) -> AnnounceService:
        config = harness.config.model_copy(update={"announce": clip_dir.config(**over)})
        [service] = build(announce_ctx(config))
        service.start()
        made.append(service)
        return service

    yield make
    for s in made:
        s.stop(2.0)


def test_a_call_on_the_controller_is_announced(harness, announcer, clip_dir):
    """Risk: the visitor is called but nothing is said in the hall."""
    service = announcer()
    harness.call(IssueTicket("docs"))
    harness.call(IssueTicket("realty"))
    harness.call(CallNext(1))
    harness.call(CallNext(2))
    assert service.output.wait_for(2)
    assert [name for name, _ in service.output.played] == ["A-001", "B-001"]
    assert spoken_tickets(clip_dir, service.output) == [("letter_A", "1"), ("letter_B", "2")]
    assert service.health()["played"] == 2


def test_recall_is_announced_again_unless_disabled(harness, announcer):
    service = announcer()
    harness.call(IssueTicket("docs"))
    harness.call(CallNext(1))
    harness.call(Recall(1))
    assert service.output.wait_for(2)
    assert [n for n, _ in service.output.played] == ["A-001", "A-001"]


def test_recalls_can_be_left_silent(harness, announcer):
    service = announcer(recalls=False)
    harness.call(IssueTicket("docs"))
    harness.call(CallNext(1))
    harness.call(Recall(1))
    harness.call(IssueTicket("docs"))
    harness.call(CallNext(2))
    assert service.output.wait_for(2)
    assert [n for n, _ in service.output.played] == ["A-001", "A-002"]


class SlowOutput:
    """Plays take a while; records how many play at once."""

    def __init__(self) -> None:
        self.active = 0
        self.most = 0
        self.names: list[str] = []
        self.lock = threading.Lock()
        self.release = threading.Event()

    def play(self, wav: bytes, name: str) -> None:
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        self.release.wait(5)
        with self.lock:
            self.active -= 1
            self.names.append(name)


def test_announcements_never_overlap_and_keep_their_order(clip_dir):
    """Risk: two windows call at once and the hall hears both voices mixed."""
    out = SlowOutput()
    cfg = clip_dir.config(queue_max=10)
    from edge.announce.clips import ClipSet
    service = started(AnnounceService(cfg, ClipSet(cfg.folders, cfg.chime), out))
    try:
        for i in range(1, 6):
            service.enqueue(Announcement(f"A-00{i}", i))
        time.sleep(0.05)
        out.release.set()
        deadline = time.monotonic() + 5
        while len(out.names) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        service.stop(2.0)
    assert out.names == ["A-001", "A-002", "A-003", "A-004", "A-005"]
    assert out.most == 1


def test_a_full_queue_drops_the_oldest_not_the_newest(clip_dir):
    out = SlowOutput()
    cfg = clip_dir.config(queue_max=2)
    from edge.announce.clips import ClipSet
    service = AnnounceService(cfg, ClipSet(cfg.folders, cfg.chime), out)
    for i in range(1, 5):  # not started: nothing is taken off the queue yet
        service.enqueue(Announcement(f"A-00{i}", i))
    out.release.set()
    started(service)
    deadline = time.monotonic() + 5
    while len(out.names) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    service.stop(2.0)
    assert out.names == ["A-003", "A-004"]
    assert service.health()["dropped"] == 2


def test_a_call_the_hall_no_longer_shows_is_not_read_out(clip_dir):
    """Many calls at once: window 1 calls A-001, then (no-show) A-002 before A-001 was
    spoken. Reading out "A-001 to window 1" after that sends the visitor to a window that
    serves someone else; a recall of a waiting call would be said twice in a row."""
    out = SlowOutput()
    cfg = clip_dir.config(queue_max=10)
    from edge.announce.clips import ClipSet
    service = AnnounceService(cfg, ClipSet(cfg.folders, cfg.chime), out)
    service.enqueue(Announcement("A-001", 1))
    service.enqueue(Announcement("B-001", 2))
    service.enqueue(Announcement("A-002", 1))                       # window 1 moved on
    service.enqueue(Announcement("B-001", 2, "ticket.recalled"))    # said once, not twice
    service.enqueue(Announcement("C-001", 3))
    service.enqueue(Announcement("C-001", 4))                       # transferred to window 4
    out.release.set()
    started(service)
    deadline = time.monotonic() + 5
    while len(out.names) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    service.stop(2.0)
    assert out.names == ["A-002", "B-001", "C-001"]
    assert service.health()["superseded"] == 3


def test_stale_announcements_are_skipped(clip_dir):
    """Risk: after a stuck speaker, calls from minutes ago are read out and confuse people."""
    player = FakePlayer()
    cfg = clip_dir.config(max_age_s=5)
    from edge.announce.clips import ClipSet
    service = AnnounceService(cfg, ClipSet(cfg.folders, cfg.chime), player)
    service.enqueue(Announcement("A-001", 1, queued_mono=time.monotonic() - 60))
    service.enqueue(Announcement("A-002", 2))
    started(service)
    assert player.wait_for(1)
    service.stop(2.0)
    assert [n for n, _ in player.played] == ["A-002"]
    assert service.health()["skipped_stale"] == 1


def test_a_failing_speaker_raises_an_alarm_and_calls_go_on(harness, announcer):
    """Risk: an unplugged speaker stops the queue, or fails silently."""
    service = announcer()
    service.output.fail_with = "aplay failed: audio open error: No such device"
    harness.call(IssueTicket("docs"))
    harness.call(IssueTicket("docs"))
    applied = harness.call(CallNext(1))          # the call itself succeeds
    assert applied.events[-1].type == "ticket.called"
    deadline = time.monotonic() + 5
    while "device:speaker" not in harness.controller.snapshot.alarms:
        assert time.monotonic() < deadline, "no speaker alarm"
        time.sleep(0.02)
    assert harness.controller.snapshot.alarms["device:speaker"]["message"] == \
        "speaker: aplay failed: audio open error: No such device"
    assert service.health()["ok"] is False
    harness.call(CallNext(2))                    # still calling while the speaker is out
    service.output.fail_with = None
    harness.call(Recall(2))
    assert service.output.wait_for(1)
    deadline = time.monotonic() + 5
    while "device:speaker" in harness.controller.snapshot.alarms:
        assert time.monotonic() < deadline, "speaker alarm not cleared"
        time.sleep(0.02)
    assert service.health()["ok"] is True


def wait_alarm(harness, alarm: str, present: bool) -> None:
    deadline = time.monotonic() + 5
    while (alarm in harness.controller.snapshot.alarms) is not present:
        assert time.monotonic() < deadline, f"alarm {alarm} never {'raised' if present else 'cleared'}"
        time.sleep(0.02)


def test_a_clip_missing_at_a_call_raises_an_alarm_until_it_is_there(harness, announcer, clip_dir):
    """A service added since the start (SIGHUP, central) whose letter has no clip: its calls
    cannot be spoken. Only a log line said so; the IT person saw nothing until visitors
    complained. The alarm names the file and stays while any such clip is missing, even
    while other calls are spoken (no raise/clear flapping)."""
    service = announcer()
    service.enqueue(Announcement("D-001", 1))
    wait_alarm(harness, "device:announce:clips", True)
    message = harness.controller.snapshot.alarms["device:announce:clips"]["message"]
    assert "kk/letter_D.wav" in message and "kezek clips" in message
    service.enqueue(Announcement("A-001", 2))                # other calls are still spoken
    assert service.output.wait_for(1)
    assert "device:announce:clips" in harness.controller.snapshot.alarms
    for lang in ("kk", "ru"):
        clip_dir.write_wav(clip_dir.folder(lang) / "letter_D.wav", 7, 40)
    service.enqueue(Announcement("B-001", 3))
    wait_alarm(harness, "device:announce:clips", False)
    service.enqueue(Announcement("D-002", 1))
    assert service.output.wait_for(3)
    assert [n for n, _ in service.output.played] == ["A-001", "B-001", "D-002"]


def test_a_reload_that_adds_a_service_without_its_clip_raises_the_alarm_at_once(
        harness, announcer, clip_dir):
    """Risk: the clips of a service added by a reload (SIGHUP, central's cfg) were only
    looked for at its first call: the alarm came with the first visitor not announced.
    The announcer reads the running configuration committed with the reload instead."""
    from edge.config import parse_config
    from edge.config.domain import reconfigure

    from ..conftest import demo_config_dict

    announcer()
    data = demo_config_dict()
    data["services"].append({"id": "tax", "names": {"kk": "Салық", "ru": "Налоги"},
                             "prefix": "D"})
    data["windows"][0]["services"]["tax"] = 1
    harness.call(reconfigure(parse_config(data), source="test"))
    wait_alarm(harness, "device:announce:clips", True)
    message = harness.controller.snapshot.alarms["device:announce:clips"]["message"]
    assert "letter_D.wav" in message


def test_a_clip_alarm_left_from_before_a_restart_is_cleared_at_start(harness, announcer):
    """The alarm is saved with the queue: a start that loaded every clip it needs clears it."""
    from edge.queue.commands import DeviceStatus
    harness.call(DeviceStatus(device="announce:clips", ok=False, detail="missing clip x"))
    assert "device:announce:clips" in harness.controller.snapshot.alarms
    announcer()
    wait_alarm(harness, "device:announce:clips", False)


def test_a_clip_missing_at_start_does_not_stop_the_center(harness, announcer, clip_dir):
    """A sound file lost on the card used to stop `kezek run` at the next reboot: no
    tickets all day for want of one WAV. Now the queue runs, the calls that need the file
    are not spoken, the alarm names it, and it is picked up once it is back."""
    (clip_dir.folder("kk") / "letter_B.wav").unlink()
    service = announcer()
    wait_alarm(harness, "device:announce:clips", True)
    message = harness.controller.snapshot.alarms["device:announce:clips"]["message"]
    assert "kk/letter_B.wav" in message and "kezek clips" in message
    harness.call(IssueTicket("docs"))                        # the queue itself runs
    service.enqueue(Announcement("B-001", 1))                # needs the missing clip
    service.enqueue(Announcement("A-001", 2))
    assert service.output.wait_for(1)
    clip_dir.write_wav(clip_dir.folder("kk") / "letter_B.wav", 7, 40)
    service.enqueue(Announcement("B-002", 3))
    wait_alarm(harness, "device:announce:clips", False)
    assert service.output.wait_for(2)
    assert [n for n, _ in service.output.played] == ["A-001", "B-002"]


def test_a_clip_folder_missing_at_start_is_one_line_in_the_alarm(harness, announcer, clip_dir):
    shutil.rmtree(clip_dir.folder("ru"))
    announcer()
    wait_alarm(harness, "device:announce:clips", True)
    message = harness.controller.snapshot.alarms["device:announce:clips"]["message"]
    assert f"announce.folders.ru: folder {clip_dir.folder('ru')} does not exist" in message
    assert message.count("does not exist") == 1 and "missing clip" not in message


def aplay_or_fail() -> str:
    exe = shutil.which("aplay")
    if exe is None:
        pytest.fail("aplay is missing: install it with `apt-get install alsa-utils`")
    return exe


def test_alsa_output_plays_through_aplay(clip_dir):
    """Real aplay to ALSA's null device: the WAV we render is one aplay accepts."""
    aplay_or_fail()
    cfg = clip_dir.config()
    from edge.announce.clips import ClipSet
    service = AnnounceService(cfg, ClipSet(cfg.folders, cfg.chime), FakePlayer())
    wav = service.render(Announcement("A-042", 3))
    with wave.open(io.BytesIO(wav)) as w:   # what aplay is handed: a whole, non-empty WAV
        assert w.getnframes() > 0 and w.getnchannels() >= 1
    # Raises DeviceError (aplay's own message) if aplay refuses the bytes.
    AlsaPlayer(AlsaOutput(device="null")).play(wav, "A-042")


def test_alsa_output_names_the_device_and_the_fix(clip_dir):
    aplay_or_fail()
    with pytest.raises(DeviceError) as err:
        AlsaPlayer(AlsaOutput(device="nosuchcard")).play(b"RIFF", "A-001")
    assert err.value.device == "speaker"
    assert "aplay failed" in str(err.value)
    assert "announce.output.device (now 'nosuchcard')" in str(err.value)


def test_alsa_output_without_aplay_says_what_to_install():
    with pytest.raises(DeviceError, match="aplay-missing not found.*alsa-utils"):
        AlsaPlayer(AlsaOutput(), aplay="aplay-missing").play(b"", "A-001")


def test_command_output_with_a_file_and_with_stdin(tmp_path):
    wav = b"RIFF-some-bytes"
    CommandPlayer(CommandOutput(type="command", argv=["cp", "{file}", str(tmp_path / "a.wav")])) \
        .play(wav, "A-001")
    assert (tmp_path / "a.wav").read_bytes() == wav
    CommandPlayer(CommandOutput(type="command",
                                argv=["sh", "-c", f"cat > {tmp_path / 'b.wav'}"])).play(wav, "A-001")
    assert (tmp_path / "b.wav").read_bytes() == wav
    with pytest.raises(DeviceError, match="false failed: exit status 1"):
        CommandPlayer(CommandOutput(type="command", argv=["false"])).play(wav, "A-001")


def test_command_output_that_cannot_write_its_file_is_a_device_error(tmp_path):
    """Risk: a full disk (here: a 1000-byte file size limit) raises a bare OSError that
    kills the announcer's thread."""
    import resource
    import signal
    import subprocess
    import sys

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.RLIM_INFINITY))

    code = ("from edge.announce.outputs import CommandPlayer\n"
            "from edge.config.announce import CommandOutput\n"
            "from edge.errors import DeviceError\n"
            "try:\n"
            "    CommandPlayer(CommandOutput(type='command', argv=['true', '{file}']))"
            ".play(b'x' * 5000, 'A-001')\n"
            "except DeviceError as e:\n"
            "    print('DeviceError', e.device, '|', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         preexec_fn=limit, timeout=30, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert out.stdout.startswith("DeviceError speaker | speaker: cannot write the announcement"), \
        out.stdout + out.stderr
    assert "File too large" in out.stdout and "free space" in out.stdout
    assert list(tmp_path.iterdir()) == []        # no half-written WAV left behind


class BrokenOnceOutput(FakePlayer):
    """An output with a bug: its first play raises something nobody expected."""

    def play(self, wav: bytes, name: str) -> None:
        if not hasattr(self, "broke"):
            self.broke = True
            raise RuntimeError("unexpected")
        super().play(wav, name)


def test_an_unexpected_error_while_playing_is_reported_and_the_next_call_is_spoken(harness, clip_dir):
    """Risk: the announcer's thread dies silently: every later call is mute, health says ok."""
    from edge.announce.clips import ClipSet
    cfg = clip_dir.config()
    out = BrokenOnceOutput()
    service = started(AnnounceService(cfg, ClipSet(cfg.folders, cfg.chime), out, harness.controller))
    try:
        service.enqueue(Announcement("A-001", 1))
        deadline = time.monotonic() + 5
        while "device:speaker" not in harness.controller.snapshot.alarms:
            assert time.monotonic() < deadline, "no speaker alarm"
            time.sleep(0.02)
        assert "RuntimeError: unexpected" in harness.controller.snapshot.alarms["device:speaker"]["message"]
        assert service.health()["ok"] is False and service.health()["failed"] == 1
        service.enqueue(Announcement("A-002", 2))
        assert out.wait_for(1)
        assert [n for n, _ in out.played] == ["A-002"]
    finally:
        service.stop(2.0)


def test_file_output_writes_wavs_and_keeps_the_newest(harness, announcer, clip_dir, tmp_path):
    """The demo without a speaker: each announcement lands as a WAV file."""
    out_dir = tmp_path / "spoken"
    service = announcer(output={"type": "file", "dir": str(out_dir), "keep": 2})
    for _ in range(3):
        harness.call(IssueTicket("docs"))
    for window in (1, 2, 3):
        harness.call(CallNext(window))
    deadline = time.monotonic() + 5
    while service.health()["played"] < 3:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    files = sorted(p.name for p in out_dir.iterdir())
    assert files == ["announce-000002-A-002.wav", "announce-000003-A-003.wav"]
    with wave.open(str(out_dir / files[-1]), "rb") as r:
        assert (r.getnchannels(), r.getsampwidth(), r.getframerate()) == (1, 2, 8000)
    # A restart continues the numbering instead of overwriting.
    player = FilePlayer(FileOutput(type="file", dir=out_dir, keep=5))
    player.play(b"RIFF", "B-001")
    assert player.files[-1].name == "announce-000004-B-001.wav"


def test_demo_makes_its_own_clips_when_the_configured_ones_are_missing(harness, announce_ctx,
                                                                       tmp_path):
    """`kezek demo` speaks out of the box: its config asks for a clip set made with
    espeak-ng when none is recorded (announce.generate_missing)."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: install it with `apt-get install espeak-ng`")
    from edge.config.announce import AnnounceConfig
    cfg = AnnounceConfig(enabled=True, languages=["ru"], folders={"ru": tmp_path / "none"},
                         output={"type": "fake"}, generate_missing=True)
    ctx = announce_ctx(harness.config.model_copy(update={"announce": cfg}))
    [service] = build(ctx)
    assert service.clips.folders == {"ru": tmp_path / "clips" / "ru"}
    assert (tmp_path / "clips" / "chime.wav").exists()
    service.start()
    try:
        harness.call(IssueTicket("docs"))
        harness.call(CallNext(1))
        assert service.output.wait_for(1)
    finally:
        service.stop(2.0)
