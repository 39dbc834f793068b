"""`kezek bookings load` is as strict as central's MQTT path, and says where and how to fix.

Risks: a CSV cell of the wrong type was coerced or dropped in silence (an empty cell, a
row with one cell too many from a decimal comma), an Excel export (BOM, UTF-16, CP1251,
';') could not be read at all, a duplicate code or a past day loaded without a word, only
the first problem of a row was named, an error repeated a visitor's IIN, and a file the
engine refused in part was half loaded from the inbox and then deleted.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from edge.cli import build_parser
from edge.queue import commands as c
from edge.queue.inbox import BookingsInbox, inbox_path, write_inbox_file

from .conftest import SECRET, TODAY, booking, make_iin
from .test_privacy_and_cli import config_file

IIN = make_iin("90010130012")
IIN_2000S = make_iin("05020245001")      # born 2005: starts with 0
HEADER = "code,service,date,slot_start,slot_minutes,iin,status,version"


class Loader:
    """Runs `kezek bookings load` on a file with a fixed 'today' (the center's date)."""

    def __init__(self, tmp_path: Path, secret_file: Path, capsys: Any) -> None:
        self.tmp_path = tmp_path
        self.config = config_file(tmp_path, secret_file)
        self.state = tmp_path / "state"
        self.capsys = capsys
        self.out = self.err = ""

    def __call__(self, name: str, content: str | bytes, *extra: str, today: str = TODAY,
                 config: Path | None = None) -> int:
        f = self.tmp_path / name
        f.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        args = build_parser().parse_args(
            ["bookings", "load", "--config", str(config or self.config), "--state-dir",
             str(self.state), *extra, str(f)])
        rc = args.func(args, today=dt.date.fromisoformat(today))
        captured = self.capsys.readouterr()
        self.out, self.err = captured.out, captured.err
        return rc

    def queued(self) -> list[dict[str, Any]]:
        files = sorted(inbox_path(self.state).glob("*.json")) if inbox_path(self.state).exists() else []
        return [b for f in files for b in json.loads(f.read_text("utf-8"))["bookings"]]

    def problem_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if ", column " in line or ", field " in line]


@pytest.fixture
def load(tmp_path: Path, secret_file: Path, capsys: Any) -> Loader:
    return Loader(tmp_path, secret_file, capsys)


def test_wrong_cells_are_refused_with_line_column_and_fix_and_nothing_is_queued(load) -> None:
    rows = [
        f"AB-1,docs,{TODAY},10:00,15.7,{IIN},active,1",       # line 2
        f"AB-2,docs,{TODAY},10:00,abc,{IIN},active,1",        # 3
        f"AB-3,docs,2026-13-45,10:00,15,{IIN},active,1",      # 4
        f"AB-4,docs,{TODAY},25:00,15,{IIN},active,1",         # 5
        f"AB-5,,{TODAY},10:00,15,{IIN},active,1",             # 6
        f"AB-6,docs,{TODAY},10:00,15,{IIN[:11]}x,active,1",   # 7
        f"AB-7,docs,{TODAY},10:00,15,{IIN[:11]},active,1",    # 8
        f"AB-8,docs,{TODAY},10:00,15,{IIN},bogus,1",          # 9
        f"AB-9,docs,{TODAY},10:00,15,{IIN},active,0",         # 10
        f"AB-10,docs,{TODAY},10:00,15,{IIN},active,1",        # 11: good
    ]
    assert load("day.csv", HEADER + "\n" + "\n".join(rows) + "\n") == 1
    expected = {2: ("slot_minutes", "whole number"), 3: ("slot_minutes", "whole number"),
                4: ("date", "YYYY-MM-DD"), 5: ("slot_start", "HH:MM"), 6: ("service", "missing"),
                7: ("iin", "digits"), 8: ("iin", "not 12"), 9: ("status", "active, cancelled"),
                10: ("version", "1")}
    lines = load.problem_lines()
    assert len(lines) == len(expected), load.err
    for n, (column, fix) in expected.items():
        [line] = [x for x in lines if f"line {n}, column {column}:" in x]
        assert line.startswith(f"{load.tmp_path / 'day.csv'}: line {n}, column {column}:")
        assert fix in line, line
    assert "9 wrong row(s); nothing queued" in load.err
    assert IIN not in load.err + load.out and IIN[:11] not in load.err
    assert load.queued() == []


def test_every_problem_of_a_row_is_listed(load) -> None:
    """The IIN was checked first and hid every other problem of its row."""
    assert load("day.csv", f"{HEADER}\nAB-1,docs,{TODAY},9:5,0,{IIN[:11]},on,x\n") == 1
    columns = {line.split(", column ")[1].split(":")[0] for line in load.problem_lines()}
    assert columns == {"slot_start", "slot_minutes", "iin", "status", "version"}, load.err


def test_excel_hints_name_the_likely_cause_without_the_iin(load) -> None:
    rows = [f"AB-1,docs,23.11.2026,9:00,15,{IIN_2000S[1:]},active,1",
            f"AB-2,docs,{TODAY},10:00:00,15,9.00101E+11,active,1"]
    assert load("day.csv", HEADER + "\n" + "\n".join(rows) + "\n") == 1
    err = load.err
    assert "line 2, column date: " in err and "day.month.year" in err
    assert "line 2, column slot_start: " in err and "two digits" in err
    assert "line 2, column iin: " in err and "leading 0" in err and "Text" in err
    assert "line 3, column slot_start: " in err and "seconds" in err
    assert "line 3, column iin: " in err and "scientific" in err
    assert IIN_2000S[1:] not in err and "900101" not in err


def test_a_row_with_more_or_fewer_cells_than_the_header_is_refused(load) -> None:
    """A decimal comma (15,5) shifted the row: the extra cell was dropped in silence."""
    rows = [f"AB-1,docs,{TODAY},10:00,15,5,{IIN},active,1",
            f"AB-2,docs,{TODAY},10:00",
            f"AB-3,docs,{TODAY},10:00,15,{IIN},active,1,,"]      # trailing empties: fine
    assert load("day.csv", HEADER + "\n" + "\n".join(rows) + "\n") == 1
    assert "line 2: 9 values, but the header has 8 columns" in load.err
    assert "line 3: 4 values, but the header has 8 columns" in load.err
    assert "line 4" not in load.err
    assert IIN not in load.err


def test_empty_optional_cells_take_the_documented_defaults(load) -> None:
    assert load("day.csv", f"{HEADER}\nAB-1,docs,{TODAY},10:00,,,,\n,,,,,,,\n") == 0, load.err
    [b] = load.queued()
    assert (b["slot_minutes"], b["status"], b["version"]) == (15, "active", 1)
    assert "iin_hmac" not in b


@pytest.mark.parametrize("encoding,sep", [("utf-8-sig", ","), ("utf-8-sig", ";"), ("cp1251", ";"),
                                          ("utf-16", "\t"), ("utf-16", ";"), ("utf-8", ";")])
def test_excel_exports_are_read(load, encoding: str, sep: str) -> None:
    """Excel in a Russian or Kazakh locale writes ';', CP1251 ('CSV'), UTF-8 with a BOM
    ('CSV UTF-8') or UTF-16 with tabs ('Unicode text')."""
    text = (HEADER.replace(",", sep) + ",site".replace(",", sep) + "\r\n"
            + sep.join(["AB-1", "docs", TODAY, "10:00", "15", IIN, "active", "1", "demo-ast-01"])
            + "\r\n")
    assert load("day.csv", text.encode(encoding)) == 0, load.err
    [b] = load.queued()
    assert b["code"] == "AB-1" and b["slot_minutes"] == 15 and len(b["iin_hmac"]) == 64


def test_a_cp1251_file_is_read_and_says_so(load) -> None:
    text = f"{HEADER}\r\nAB-1;паспорт;{TODAY};10:00;15;;active;1\r\n".replace(",", ";")
    assert load("day.csv", text.encode("cp1251")) == 1
    assert "read as Windows-1251" in load.err
    assert "line 2, column service: wrong format" in load.err


def test_a_file_without_its_header_row_does_not_print_the_first_row(load) -> None:
    assert load("day.csv", f"AB-1,docs,{TODAY},10:00,15,{IIN},active,1\n") == 1
    assert "unknown column(s)" in load.err and "header row" in load.err
    assert IIN not in load.err and "'docs'" in load.err


def test_a_non_text_file_gets_a_clear_message(load) -> None:
    assert load("day.csv", b"\x00\x01PK\x03\x04" + bytes(range(256)) * 4) == 1
    assert "cannot read bookings" in load.err and "Traceback" not in load.err
    assert load("day.json", '{"bookings": []}'.encode("utf-16")) == 1
    assert "no bookings" in load.err  # a UTF-16 JSON file is read too


def test_header_problems_are_named(load) -> None:
    assert load("day.csv", "code,service,date,slot_minutes\nAB-1,docs,2026-11-23,15\n") == 1
    assert "no column slot_start" in load.err
    assert load("day.csv", "code,service,date,slot_start,code\nAB-1,docs,2026-11-23,10:00,x\n") == 1
    assert "column code appears twice" in load.err


def test_duplicate_codes_in_one_file_are_refused(load) -> None:
    rows = [f"AB-1,docs,{TODAY},10:00,15,,active,1", f"ab-1,docs,{TODAY},11:00,15,,active,1",
            f"AB-2,docs,{TODAY},12:00,15,,active,1"]
    assert load("day.csv", HEADER + "\n" + "\n".join(rows) + "\n") == 1
    assert "line 2, column code: " in load.err and "also on line 3" in load.err
    assert "line 3, column code: " in load.err and "also on line 2" in load.err
    assert load("day.csv", HEADER + "\n" + "\n".join(rows) + "\n", "--skip-bad") == 2
    assert [b["code"] for b in load.queued()] == ["AB-2"]


def test_past_days_unknown_services_other_sites_and_iin_lookalike_codes(load) -> None:
    rows = [f"AB-1,docs,2026-11-22,10:00,15,,active,1",      # yesterday
            f"AB-2,pasport,2026-11-20,10:00,x,,active,1",    # and a past day, bad minutes
            f"AB-3,docs,2026-11-24,10:00,15,,active,1",      # tomorrow: fine
            f"{IIN},docs,{TODAY},10:00,15,,active,1"]        # the IIN in the code column
    text = HEADER + ",site\n" + "\n".join(r + ",demo-ast-01" for r in rows) + "\n"
    text += f"AB-5,docs,{TODAY},10:00,15,,active,1,other-center\n"
    assert load("day.csv", text) == 1
    err = load.err
    assert "line 2, column date: " in err and "before today (2026-11-23" in err
    assert "line 3, column service: " in err and "'pasport'" in err and "docs" in err
    assert "line 3, column date: " in err and "2026-11-20 is before today" in err
    assert "line 3, column slot_minutes: " in err
    assert "line 4" not in err
    assert "line 5, column code: holds an IIN" in err and IIN not in err
    assert "line 6, column site: " in err and "demo-ast-01" in err


def test_slots_outside_the_centers_hours_are_refused(load, tmp_path: Path) -> None:
    cfg = load.config.read_text("utf-8") + (
        '\n[policies.hours]\nmon = { open = "09:00", close = "18:00" }\n'
        'tue = { open = "09:00", close = "18:00" }\n')
    cfg = cfg.replace("[policies]\n", "[policies]\nclosed_dates = [2026-11-24]\n")
    (tmp_path / "hours.toml").write_text(cfg, "utf-8")
    rows = [f"AB-1,docs,{TODAY},08:30,15,,active,1",          # before opening
            f"AB-2,docs,{TODAY},18:00,15,,active,1",          # at closing
            f"AB-3,docs,{TODAY},17:45,15,,active,1",          # fine
            "AB-4,docs,2026-11-24,10:00,15,,active,1",        # a closed date
            "AB-5,docs,2026-11-25,10:00,15,,active,1",        # Wednesday: not in the hours
            "AB-6,docs,2026-11-25,10:00,15,,cancelled,2"]     # a cancellation: fine
    assert load("day.csv", HEADER + "\n" + "\n".join(rows) + "\n",
                config=tmp_path / "hours.toml") == 1, load.err
    err = load.err
    assert "line 2, column slot_start: " in err and "09:00-18:00" in err
    assert "line 3, column slot_start: " in err
    assert "line 5, column date: " in err and "closed_dates" in err
    assert "line 6, column date: " in err and "closed on wed" in err.lower()
    assert "line 4" not in err and "line 7" not in err


def test_json_errors_name_the_item_and_field(load) -> None:
    items = [booking("AB-1"), booking("AB-2", slot_minutes="15"), booking("AB-3", slot_minutes=True),
             booking("AB-4", iin=int(IIN)), booking("AB-5", slot_minutes=15.0),
             {**booking("AB-6"), IIN: "x"}]
    assert load("day.json", json.dumps({"bookings": items})) == 1
    err = load.err
    assert "item 2 (bookings[1]), field slot_minutes: " in err
    assert "item 3 (bookings[2]), field slot_minutes: " in err
    assert "item 4 (bookings[3]), field iin: " in err and "text" in err and IIN not in err
    assert "item 6 (bookings[5]), field (a key of digits): not a booking field" in err
    assert "item 5" not in err and "item 1" not in err and IIN not in err


def test_a_huge_file_is_refused_before_it_is_read(load) -> None:
    row = f"AB-{{}},docs,{TODAY},10:00,15,,active,1\n"
    text = HEADER + "\n" + "".join(row.format(i) for i in range(20_001))
    assert load("day.csv", text) == 1
    assert "20001 bookings" in load.err and "at most 20000" in load.err
    assert load("big.csv", b"code\n" + b"x" * (9 * 1024 * 1024)) == 1
    assert "MB" in load.err and "split" in load.err


def test_central_booking_entries_are_strict_too(make_center) -> None:
    """The engine's check (central's path) took "15", true (1 minute) and a date-time."""
    center = make_center()
    rows = (booking("AB-1", slot_minutes="15"), booking("AB-2", slot_minutes=True),
            booking("AB-3", day="2026-11-23T00:00:00"), booking("AB-4", version="2"),
            booking("AB-5", slot_minutes=15.0), booking("AB-6", rebooked_to="not a code!"))
    reply = center.call(c.LoadBookings(rows, 1)).reply
    items = {i["index"]: i["reason"] for i in reply.data["rejected_items"]}
    assert sorted(items) == [0, 1, 2, 3, 5], items
    assert items[0].startswith("slot_minutes: ") and items[2].startswith("date: ")
    assert set(center.engine.state.bookings) == {"AB-5"}


def test_the_inbox_never_half_loads_a_file(make_center, tmp_path: Path, caplog) -> None:
    """A file with one entry the engine refuses was loaded in part and deleted: the
    refused entry was lost. Now the whole file is set aside, with every reason."""
    center = make_center()
    write_inbox_file(tmp_path, "a-mixed", [booking("AB-1"), booking("AB-2", service="nope"),
                                           booking("AB-3", slot_minutes="15")])
    write_inbox_file(tmp_path, "b-dupes", [booking("AB-4"), booking("ab-4", slot="11:00")])
    write_inbox_file(tmp_path, "c-clear-iin", [booking("AB-5", iin=IIN)])
    write_inbox_file(tmp_path, "0-good", [booking("AB-6")])
    folder = inbox_path(tmp_path)
    inbox = BookingsInbox(center.controller, folder)
    assert inbox.poll() == 1
    assert set(center.engine.state.bookings) == {"AB-6"}
    assert sorted(p.name for p in (folder / "rejected").glob("*.json")) == [
        "a-mixed.json", "b-dupes.json", "c-clear-iin.json"]
    assert inbox.health()["rejected_files"] == 3
    assert not list(folder.glob("*.json"))
    assert "bookings load" in inbox.health()["error"] and IIN not in inbox.health()["error"]
    reasons = caplog.text
    assert "bookings[1]: service" in reasons and "bookings[2]: slot_minutes" in reasons
    assert "bookings[1]: code: the same booking code as bookings[0]" in reasons
    assert IIN not in reasons


def test_an_iin_in_a_text_field_is_refused_alike_by_the_cli_the_inbox_and_the_engine(
        load, make_center, tmp_path: Path, caplog) -> None:
    """Risk: only a code that *was* an IIN was refused, and only by `kezek bookings load`:
    an IIN inside a code, or in site/service/rebooked_to, was queued, stored and sent."""
    rows = [f"Q-{IIN},docs,{TODAY},10:00,15,,active,1,,",             # line 2
            f"AB-1,{IIN},{TODAY},10:00,15,,active,1,,",                 # 3
            f"AB-2,docs,{TODAY},10:00,15,,active,1,ЦОН {IIN},",         # 4
            f"AB-3,docs,{TODAY},10:00,15,,rebooked,2,,{IIN}",           # 5
            f"AB-4,docs,{TODAY},10:00,15,,rebooked,2,,AB-{IIN_2000S}",  # 6
            f"AB-5,docs,{TODAY},10:00,15,,active,1,,"]                  # 7: fine
    text = HEADER + ",site,rebooked_to\n" + "\n".join(rows) + "\n"
    assert load("day.csv", text, "--skip-bad") == 2
    assert IIN not in load.err and IIN_2000S not in load.err
    assert load.problem_lines()[0].endswith(
        "line 2, column code: holds an IIN (12 digits in a row with a valid check digit), "
        "which is never kept or sent in clear; the visitor's IIN goes only in iin_hmac, as "
        "its keyed hash (in a booking file: in the iin column, hashed when loaded); write "
        "3-32 letters, digits or '-', starting with a letter or digit, e.g. AB-100")
    named = [line.split(": ")[1] for line in load.problem_lines()]
    assert named == ["line 2, column code", "line 3, column service", "line 4, column site",
                     "line 5, column rebooked_to", "line 6, column rebooked_to"], load.err
    assert [b["code"] for b in load.queued()] == ["AB-5"]

    # The inbox (a file put there by hand) and the engine (central's path) say the same.
    center = make_center()
    entries = [booking(f"Q-{IIN}"), booking("AB-1", service=IIN), booking("AB-2", site=IIN),
               booking("AB-3", status="rebooked", rebooked_to=IIN), booking("AB-5")]
    write_inbox_file(tmp_path, "by-hand", entries)
    inbox = BookingsInbox(center.controller, inbox_path(tmp_path))
    assert inbox.poll() == 0
    for where in ("bookings[0]: code: holds an IIN", "bookings[1]: service: holds an IIN",
                  "bookings[2]: site: holds an IIN", "bookings[3]: rebooked_to: holds an IIN"):
        assert where in inbox.health()["error"]
    reply = center.call(c.LoadBookings(tuple(entries), 1)).reply
    items = reply.data["rejected_items"]
    assert [(i["index"], i["code"], i["reason"].split(": ")[0]) for i in items] == [
        (0, None, "code"), (1, "AB-1", "service"), (2, "AB-2", "site"), (3, "AB-3", "rebooked_to")]
    assert set(center.engine.state.bookings) == {"AB-5"}
    assert IIN not in caplog.text + json.dumps(reply.data) + inbox.health()["error"]


def test_secret_is_what_hashes_the_iin(load) -> None:
    """The queued hash is HMAC-SHA256(site secret, IIN): what check-in by IIN computes."""
    import hashlib
    import hmac
    assert load("day.csv", f"{HEADER}\nAB-1,docs,{TODAY},10:00,15,{IIN},active,1\n") == 0
    [b] = load.queued()
    assert b["iin_hmac"] == hmac.new(SECRET.encode(), IIN.encode(), hashlib.sha256).hexdigest()


def test_a_file_the_queue_still_refuses_in_part_is_kept(make_center, tmp_path: Path) -> None:
    """The inbox checks services on the snapshot; a config reload between that check and
    the load can still make the engine refuse an entry. The file is then kept in
    rejected/ (not deleted with the refused booking in it)."""
    from types import SimpleNamespace
    center = make_center()

    class ConfigChangedMeanwhile:
        """The real controller, seen through a snapshot that still lists 'gone'."""
        snapshot = SimpleNamespace(services=[SimpleNamespace(id="docs"), SimpleNamespace(id="gone")])
        call = staticmethod(center.controller.call)

    write_inbox_file(tmp_path, "day", [booking("AB-1"), booking("AB-2", service="gone")])
    folder = inbox_path(tmp_path)
    inbox = BookingsInbox(ConfigChangedMeanwhile(), folder)
    assert inbox.poll() == 0
    assert "AB-1" in center.engine.state.bookings
    assert [p.name for p in (folder / "rejected").glob("*.json")] == ["day.json"]
    assert "bookings[1]: service" in inbox.health()["error"]
