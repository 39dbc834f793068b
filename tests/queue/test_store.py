"""The store and the controller on a real SQLite file: durability, outbox, concurrency."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter as Tally
from concurrent.futures import Future
from pathlib import Path

import pytest

from edge.config.domain import reconfigure
from edge.errors import CommandError, StorageError
from edge.queue import commands as c
from edge.storage.migrations import LATEST
from edge.storage.store import QueueStore
from tests.conftest import Harness


def test_pragmas_are_wal_and_full(tmp_path: Path) -> None:
    store = QueueStore(tmp_path / "q.db")
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
    store.close()


def test_queue_resumes_exactly_after_restart(harness) -> None:
    harness.call(c.IssueTicket("docs"))
    harness.call(c.IssueTicket("docs", "pensioner"))
    harness.call(c.IssueTicket("realty"))
    harness.call(c.CallNext(1))
    harness.call(c.PauseWindow(2))
    before = harness.controller.snapshot
    harness.restart()
    after = harness.controller.snapshot
    assert after.windows == before.windows
    assert after.services == before.services
    assert harness.call(c.IssueTicket("docs")).reply.ticket.label == "A-003"
    assert harness.call(c.CallNext(4)).reply.ticket.label == "A-001"


def test_outbox_sequence_is_contiguous_and_never_reused(harness) -> None:
    for _ in range(5):
        harness.call(c.IssueTicket("docs"))
    events = harness.store.outbox()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    # Central acked everything: the rows go, the sequence does not restart.
    harness.store.conn.execute("DELETE FROM outbox")
    harness.restart()
    harness.call(c.IssueTicket("docs"))
    assert harness.store.outbox()[0].seq == len(events) + 1
    env = harness.store.outbox()[0].envelope("site", "dev")
    assert set(env) == {"v", "id", "site", "device", "seq", "boot", "type", "ts", "mono_ms",
                        "clock_synced", "hist", "data"}


def test_a_refused_command_writes_nothing(harness) -> None:
    with pytest.raises(CommandError):
        harness.call(c.CallNext(1))
    assert harness.store.outbox() == []
    assert list(harness.store.tickets()) == []


def test_a_failed_commit_leaves_memory_untouched(harness) -> None:
    harness.call(c.IssueTicket("docs"))
    # Make the next write fail inside the transaction (a full card, a broken file).
    harness.store.conn.execute("CREATE TRIGGER fail BEFORE INSERT ON outbox BEGIN "
                               "SELECT RAISE(ABORT, 'disk full'); END")
    with pytest.raises(Exception):
        harness.call(c.IssueTicket("docs"))
    harness.store.conn.execute("DROP TRIGGER fail")
    assert harness.controller.snapshot.waiting_total == 1
    assert harness.call(c.IssueTicket("docs")).reply.ticket.label == "A-002"


def test_two_windows_pressed_at_the_same_instant_never_share_a_ticket(harness) -> None:
    for _ in range(40):
        harness.call(c.IssueTicket("docs"))
    start = threading.Barrier(4)
    futures: list[Future] = []
    lock = threading.Lock()

    def press(window: int) -> None:
        start.wait()
        for _ in range(10):
            f = harness.controller.submit(c.CallNext(window))
            with lock:
                futures.append(f)

    threads = [threading.Thread(target=press, args=(w,)) for w in (1, 2, 4, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    called = []
    for f in futures:
        try:
            called.append(f.result(10).reply.ticket.id)
        except CommandError:
            pass
    assert len(called) == len(set(called)) == 40
    holders = [w.ticket for w in harness.controller.snapshot.windows if w.ticket]
    assert len(holders) == len(set(holders))


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    QueueStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={LATEST + 1}")
    conn.close()
    with pytest.raises(StorageError, match="newer than this kezek"):
        QueueStore(path)


def test_garbage_database_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="cannot open the queue database"):
        QueueStore(path)


@pytest.mark.parametrize("first", ["call", "issue"])
def test_first_command_of_a_new_day_comes_after_the_roll(tmp_path: Path, demo_config, clock,
                                                        first: str) -> None:
    """Risk: the next morning's first command arrives before any tick; decided in the same
    step as the roll it called yesterday's ticket (two final events) or printed yesterday's
    queue as `ahead`."""
    # An hourly tick: no tick runs between the clock's jump and the command.
    h = Harness(demo_config, tmp_path / "kezek.db", clock, tick_interval_s=3600)
    try:
        for _ in range(3):
            h.call(c.IssueTicket("docs"))
        clock.advance(24 * 3600)                       # 09:00 the next day
        if first == "call":
            with pytest.raises(CommandError) as e:
                h.call(c.CallNext(1))
            assert e.value.code == "queue_empty"       # yesterday's tickets are closed
        else:
            a = h.call(c.IssueTicket("docs"))
            issued = [e for e in a.events if e.type == "ticket.issued"][0]
            assert (issued.data["ticket"], issued.data["day"]) == ("A-001", "2026-11-24")
            assert issued.data["ahead"] == 0 and issued.data["wait_min"] == 0
            assert h.controller.snapshot.waiting_total == 1
        outbox = h.store.outbox()
        finals = Tally(e.data["ticket_id"] for e in outbox
                       if e.type in ("ticket.done", "ticket.no_show", "ticket.voided"))
        assert finals == {1: 1, 2: 1, 3: 1}
        assert not [e for e in outbox if e.type == "ticket.called"]
        assert [e.data["day"] for e in outbox if e.type == "day.started"] == ["2026-11-24"]
    finally:
        h.close()


def test_yesterdays_calls_leave_the_hall_list_at_the_new_day(tmp_path: Path, demo_config,
                                                           clock) -> None:
    """Risk: the hall screen and boards opened the morning with last evening's calls."""
    h = Harness(demo_config, tmp_path / "kezek.db", clock, tick_interval_s=3600)
    try:
        for _ in range(2):
            h.call(c.IssueTicket("docs"))
            h.call(c.CallNext(1))
        assert [r.ticket for r in h.controller.snapshot.recent_calls] == ["A-002", "A-001"]
        clock.advance(24 * 3600)
        h.call(c.Tick())
        assert h.controller.snapshot.recent_calls == ()
        h.call(c.IssueTicket("docs"))
        h.call(c.CallNext(1))
        assert [r.ticket for r in h.controller.snapshot.recent_calls] == ["A-001"]
    finally:
        h.close()


def test_a_config_reload_whose_commit_fails_is_not_in_effect(harness) -> None:
    """Risk: the reload changed the engine inside decide(); the caller was told the save
    failed, yet the new services, windows and policies were already running."""
    from edge.config import parse_config
    data = harness.config.model_dump(mode="python")
    data["policies"]["recall_limit"] = 1
    data["services"][0]["prefix"] = "Z"
    data["windows"].append({**data["windows"][0], "number": 9, "label": "9"})
    new = parse_config(data, "reloaded")
    sid = data["services"][0]["id"]
    harness.store.conn.execute("CREATE TRIGGER fail BEFORE INSERT ON outbox BEGIN "
                               "SELECT RAISE(ABORT, 'disk full'); END")
    with pytest.raises(Exception):
        harness.call(reconfigure(new))
    harness.store.conn.execute("DROP TRIGGER fail")
    engine = harness.engine
    assert engine.policies.recall_limit == 3 and 9 not in engine.state.windows
    assert harness.call(c.IssueTicket(sid)).reply.ticket.label.startswith("A-")
    assert 9 not in [w.number for w in harness.controller.snapshot.windows]
    # Committed, it takes effect, and the new window is saved.
    harness.call(reconfigure(new))
    assert engine.policies.recall_limit == 1 and 9 in engine.state.windows
    assert harness.call(c.IssueTicket(sid)).reply.ticket.label == "Z-002"
    assert 9 in [w.number for w in harness.controller.snapshot.windows]


def test_tickets_issued_before_ntp_set_the_clock_keep_their_place_on_the_real_day(
        tmp_path: Path, demo_config, clock) -> None:
    """Risk: a Pi without a battery clock boots at 09:00 with the time it saved at 19:00
    yesterday and no network. When NTP finally steps the clock, the day rolls, and the
    morning's visitors (paper in hand) were closed as yesterday's no-shows."""
    h = Harness(demo_config, tmp_path / "kezek.db", clock, tick_interval_s=3600)
    try:
        monday = h.call(c.IssueTicket("benefits")).reply.ticket.label  # really Monday's
        clock.advance(10 * 3600)                      # Monday 19:00: the Pi is switched off
        h.call(c.Tick())
        saved = h.reboot_without_rtc()                # Tuesday 09:00, clock says Mon 19:00
        h.call(c.IssueTicket("docs"))                 # in fact Tuesday's
        clock.advance(60)
        h.call(c.IssueTicket("docs"))
        assert h.call(c.CallNext(1)).reply.ticket.label == "A-001"
        clock.advance(40 * 60)
        clock.wall_ms = saved + 14 * 3600 * 1000 + 41 * 60 * 1000  # NTP: Tuesday 09:41
        clock.synced = True
        a = h.call(c.IssueTicket("docs"))
        # Numbers go on after the morning's: no second A-001 in the hall.
        assert (a.reply.ticket.label, a.reply.ticket.day) == ("A-003", "2026-11-24")
        h.restart()                                   # the new day of was saved
        tickets = {t.label: t for t in h.store.tickets(day="2026-11-24")}
        assert set(tickets) == {"A-001", "A-002", "A-003"}
        assert tickets["A-001"].state.value == "called" and tickets["A-002"].state.value == "waiting"
        # Their times moved onto the real clock: A-002 has waited 40 minutes, not 14 hours.
        assert 39 * 60_000 <= h.engine.state.time.eff_ms - tickets["A-002"].queued_ms <= 42 * 60_000
        outbox = h.store.outbox()
        closed = [(e.data["ticket"], e.data["reason"]) for e in outbox if e.type == "ticket.no_show"]
        assert closed == [(monday, "day_closed")]     # only Monday's own ticket
        redated = [(e.data["ticket"], e.data["day"], e.data["previous"]) for e in outbox
                   if e.type == "ticket.redated"]
        assert redated == [("A-001", "2026-11-24", "2026-11-23"), ("A-002", "2026-11-24", "2026-11-23")]
        # Window 1 still has its visitor; the line goes on with A-002.
        h.call(c.Finish(1))
        assert h.call(c.CallNext(1)).reply.ticket.label == "A-002"
    finally:
        h.close()


def test_only_tickets_issued_before_ntp_in_this_boot_are_carried_and_numbers_go_on(
        tmp_path: Path, demo_config, clock) -> None:
    """Risks: yesterday's last ticket before a power cut was carried into the morning;
    numbering restarted at 1, so a second A-001 was issued after the morning's."""
    h = Harness(demo_config, tmp_path / "kezek.db", clock, tick_interval_s=3600)
    try:
        clock.advance(9 * 3600 + 55 * 60)
        evening = h.call(c.IssueTicket("benefits")).reply.ticket.label   # Monday 18:55
        h.close()                                     # power cut at 18:55
        fake_hwclock = clock.wall_ms - 38 * 60 * 1000  # saved hourly: 18:17
        real_morning = clock.wall_ms + (14 * 60 + 5) * 60 * 1000
        clock.reboot("boot-2", wall_ms=fake_hwclock, synced=False)
        clock.advance(25)                             # the service is up 25 s after boot
        h._open()
        morning = [h.call(c.IssueTicket("docs")).reply.ticket.label for _ in range(3)]
        assert morning == ["A-001", "A-002", "A-003"]
        h.call(c.CallNext(1))
        h.call(c.Finish(1))                           # A-001 served before NTP came
        clock.advance(600)
        clock.wall_ms, clock.synced = real_morning + 600_000, True
        assert h.call(c.IssueTicket("docs")).reply.ticket.label == "A-004"
        outbox = h.store.outbox()
        assert [e.data["ticket"] for e in outbox if e.type == "ticket.redated"] == ["A-002", "A-003"]
        assert [(e.data["ticket"], e.data["reason"]) for e in outbox
                if e.type == "ticket.no_show"] == [(evening, "day_closed")]
    finally:
        h.close()


def test_a_small_ntp_step_at_midnight_closes_the_day_as_usual(tmp_path: Path, demo_config,
                                                              clock) -> None:
    """Risk: a synced clock stepped by a few seconds in the tick that crosses midnight
    carried all of yesterday's open tickets into the new day."""
    h = Harness(demo_config, tmp_path / "kezek.db", clock, tick_interval_s=3600)
    try:
        h.call(c.IssueTicket("docs"))
        h.call(c.IssueTicket("docs"))
        h.call(c.CallNext(1))
        clock.advance(15 * 3600 - 1)                  # 23:59:59, synced all day
        h.call(c.Tick())
        clock.advance(2)
        clock.jump_wall(3)                            # NTP: +3 s in the tick past midnight
        h.call(c.Tick())
        outbox = h.store.outbox()
        assert [e.type for e in outbox if e.type == "ticket.redated"] == []
        assert len([e for e in outbox if e.type == "ticket.no_show"]) == 2
        assert h.call(c.IssueTicket("docs")).reply.ticket.label == "A-001"
    finally:
        h.close()
