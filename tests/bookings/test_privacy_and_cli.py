"""No IIN in clear anywhere (logs, events, database incl. WAL, inbox files), and the
`kezek bookings load` file path from CSV/JSON to the running engine."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from pathlib import Path

import pytest

from edge.cli import build_parser
from edge.queue import commands as c
from edge.queue.inbox import BookingsInbox, inbox_path, write_inbox_file

from .conftest import SECRET, TODAY, booking, make_iin

IINS = [make_iin("90010130012"), make_iin("85020245001"), make_iin("77123040055")]
ROOT = Path(__file__).resolve().parents[2]


def kezek(argv: list[str]) -> int:
    """`kezek ...` on the tests' fixed day (the CLI would take the real date: the files'
    dates would be in the past one day)."""
    args = build_parser().parse_args(argv)
    return args.func(args, today=dt.date.fromisoformat(TODAY))


def config_file(tmp_path: Path, secret_file: Path) -> Path:
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    p = tmp_path / "center.toml"
    p.write_text(text + f'\n[bookings]\niin_secret_file = "{secret_file}"\n', encoding="utf-8")
    return p


def test_no_iin_reaches_logs_events_or_the_database(make_center, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    center = make_center(policies={"services": {"docs": {"max_wait_min": 1}}})
    good, other, unknown = IINS
    bad = good[:11] + str((int(good[11]) + 1) % 10)
    center.call(c.LoadBookings((booking("AB-1", "09:10", iin=good),
                                booking("AB-2", "09:20", iin=other, service="realty"),
                                booking("AB-3", "09:30", iin=bad)), 1))
    center.call(c.CheckInIin(good))
    for iin in (good, bad, unknown):
        with pytest.raises(Exception) as e:
            center.call(c.CheckInIin(iin))
        assert iin not in str(e.value)
    center.call(c.CheckInIin(other))
    center.tick(120)
    center.call(c.CallNext(1))
    center.call(c.Finish(1))
    center.restart()
    center.call(c.IssueTicket("docs"))
    everything = [good, other, unknown, bad]
    assert center.store.outbox(), "the scenario produced events"
    outbox = json.dumps([e.data for e in center.store.outbox()])
    logs = caplog.text + "".join(repr(r.args) for r in caplog.records)
    db = b""
    for suffix in ("", "-wal", "-shm"):
        f = Path(str(center.db_path) + suffix)
        if f.exists():
            db += f.read_bytes()
    assert len(db) > 10_000
    for iin in everything:
        assert iin not in outbox
        assert iin not in logs
        assert iin.encode() not in db
        assert iin.encode("utf-16-le") not in db
    # What is stored is the keyed hash, and it matches at check-in.
    import hashlib
    import hmac
    digest = hmac.new(SECRET.encode(), good.encode(), hashlib.sha256).hexdigest()
    assert center.engine.state.bookings["AB-1"].iin_hmac == digest
    assert digest.encode() in db


def test_cli_loads_a_csv_through_the_inbox(make_center, tmp_path, secret_file, capsys) -> None:
    cfg = config_file(tmp_path, secret_file)
    state = tmp_path / "state"
    csv = tmp_path / "bookings.csv"
    csv.write_text("code,service,date,slot_start,slot_minutes,iin,status,version\n"
                   f"ab-1,docs,2026-11-23,09:20,15,{IINS[0]},active,1\n"
                   f"ab-2,realty,2026-11-23,11:00,30,{IINS[1]},,\n"
                   "ab-3,benefits,2026-11-24,09:00,15,,cancelled,2\n", encoding="utf-8")
    assert kezek(["bookings", "load", "--config", str(cfg), "--state-dir", str(state), str(csv)]) == 0
    out = capsys.readouterr()
    assert "3 booking(s) queued" in out.out
    spooled = list(inbox_path(state).glob("*.json"))
    assert len(spooled) == 1
    raw = spooled[0].read_bytes()
    assert all(iin.encode() not in raw for iin in IINS)
    center = make_center()
    inbox = BookingsInbox(center.controller, inbox_path(state))
    assert inbox.poll() == 1 and not list(inbox_path(state).glob("*.json"))
    assert set(center.engine.state.bookings) == {"AB-1", "AB-2", "AB-3"}
    assert center.call(c.CheckInIin(IINS[0])).reply.ticket.booking == "AB-1"
    assert inbox.health()["ok"]


def test_cli_refuses_a_file_with_a_bad_row_and_queues_nothing(tmp_path, secret_file, capsys) -> None:
    cfg = config_file(tmp_path, secret_file)
    state = tmp_path / "state"
    bad_iin = IINS[0][:11] + str((int(IINS[0][11]) + 1) % 10)
    data = [booking("AB-1"), booking("AB-2", service="nope"), booking("AB-3", iin=bad_iin)]
    f = tmp_path / "b.json"
    f.write_text(json.dumps({"bookings": data}), encoding="utf-8")
    assert kezek(["bookings", "load", "--config", str(cfg), "--state-dir", str(state), str(f)]) == 1
    err = capsys.readouterr().err
    assert "item 2 (bookings[1]), field service" in err and "item 3 (bookings[2]), field iin" in err and "nothing queued" in err
    assert bad_iin not in err
    assert not inbox_path(state).exists() or not list(inbox_path(state).glob("*.json"))
    # --skip-bad queues the good one and says so with exit code 2.
    assert kezek(["bookings", "load", "--config", str(cfg), "--state-dir", str(state),
                  "--skip-bad", str(f)]) == 2
    assert len(list(inbox_path(state).glob("*.json"))) == 1


def test_cli_unknown_csv_column_and_unreadable_file(tmp_path, secret_file, capsys) -> None:
    cfg = config_file(tmp_path, secret_file)
    f = tmp_path / "b.csv"
    f.write_text("code,servce\nab-1,docs\n", encoding="utf-8")
    assert kezek(["bookings", "load", "--config", str(cfg), str(f)]) == 1
    assert "unknown column(s) 'servce'" in capsys.readouterr().err
    f2 = tmp_path / "b.json"
    f2.write_text("{not json", encoding="utf-8")
    assert kezek(["bookings", "load", "--config", str(cfg), str(f2)]) == 1
    assert "cannot read bookings" in capsys.readouterr().err
    # Deep nesting and a lone surrogate escape were tracebacks, not an answer.
    f2.write_text('{"bookings": ' + "[" * 5000 + "]" * 5000 + "}", encoding="utf-8")
    assert kezek(["bookings", "load", "--config", str(cfg), str(f2)]) == 1
    assert "cannot read bookings: nested too deeply" in capsys.readouterr().err
    f2.write_text(json.dumps({"bookings": [booking("AB-1", site="\udc00")]}), encoding="utf-8")
    assert kezek(["bookings", "load", "--config", str(cfg), str(f2)]) == 1
    assert "bookings[0].site: holds a lone UTF-16 surrogate" in capsys.readouterr().err


def test_inbox_moves_an_unreadable_file_aside(make_center, tmp_path) -> None:
    center = make_center()
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "broken.json").write_text("{", encoding="utf-8")
    inbox = BookingsInbox(center.controller, folder)
    assert inbox.poll() == 0
    assert (folder / "rejected" / "broken.json").exists()
    assert not inbox.health()["ok"] and "broken.json" in inbox.health()["error"]


def test_inbox_keeps_a_file_it_could_not_store_and_loads_it_later(make_center, tmp_path) -> None:
    """A storage error is not the file's fault: the file stays queued, nothing is rejected."""
    center = make_center()
    write_inbox_file(tmp_path, "day", [booking("AB-100")])
    folder = inbox_path(tmp_path)
    inbox = BookingsInbox(center.controller, folder)
    other = sqlite3.connect(str(center.store.path), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the database (backup, tool)
    center.store.conn.execute("PRAGMA busy_timeout=100")  # instead of waiting 10 s
    try:
        assert inbox.poll() == 0
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert [p.name for p in folder.glob("*.json")] == ["day.json"]
    assert not (folder / "rejected").exists()
    assert not inbox.health()["ok"] and "will retry" in inbox.health()["error"]
    assert inbox.poll() == 1 and "AB-100" in center.engine.state.bookings
    assert inbox.health()["ok"] and not list(folder.glob("*.json"))


def test_hostile_inbox_files_are_set_aside_and_never_block_the_files_behind_them(
        make_center, tmp_path) -> None:
    """Risk: a file nested thousands deep raised RecursionError out of poll() (health still
    'ok'), a lone surrogate escape or a booking version beyond SQLite's integers failed as a
    'storage' error (the file kept and retried forever); either way every file sorted
    after it was never loaded."""
    center = make_center()
    write_inbox_file(tmp_path, "z-good", [booking("AB-100")])
    folder = inbox_path(tmp_path)
    hostile = {
        "a-deep.json": '{"bookings": ' + "[" * 5000 + "]" * 5000 + "}",
        "b-surrogate.json": json.dumps({"bookings": [booking("AB-7", site="\ud800")]}),
        "c-version.json": json.dumps({"bookings": [booking("AB-8", version=10**20)]}),
        "d-list.json": json.dumps([booking("AB-9")]),
    }
    for name, text in hostile.items():
        (folder / name).write_text(text, encoding="utf-8")
    inbox = BookingsInbox(center.controller, folder)
    assert inbox.poll() == 1   # the good file; c-version.json is set aside whole
    assert "AB-100" in center.engine.state.bookings and "AB-8" not in center.engine.state.bookings
    rejected = folder / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == ["a-deep.json", "b-surrogate.json",
                                                           "c-version.json", "d-list.json"]
    assert not list(folder.glob("*.json")), "nothing may stay queued"
    assert inbox.health()["rejected_files"] == 4
