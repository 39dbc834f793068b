"""Staff secrets, sign-in lockout and sessions: the parts every staff page shares."""

from __future__ import annotations

import sqlite3

from edge.web.lockout import Lockout, RateLimit
from edge.web.secrets import hash_secret, is_secret_hash, verify_secret
from edge.web.sessions import SessionStore, csrf_ok


def test_a_secret_is_kept_only_as_a_salted_slow_hash():
    """Risk: a PIN readable in the config or a backup; two operators with one PIN share a hash."""
    a, b = hash_secret("4821", log2_n=10), hash_secret("4821", log2_n=10)
    assert a != b and "4821" not in a and a.startswith("scrypt$10$8$1$")
    assert is_secret_hash(a)
    assert verify_secret("4821", a) and not verify_secret("4822", a)
    for bad in ("4821", "", "scrypt$10$8$1$short$short", a.replace("$10$", "$40$"),
                "bcrypt$" + a[7:]):
        assert not is_secret_hash(bad)
        assert not verify_secret("4821", bad)


def test_wrong_secrets_lock_the_account_for_a_while_then_it_may_try_again():
    """Risk: a PIN of four digits guessed from a PC on the LAN in minutes."""
    now = [0.0]
    lock = Lockout(max_failures=3, window_s=60, lock_s=120, clock=lambda: now[0])
    assert lock.failed("op:aigul", "ip:10.0.0.5") == 0
    assert lock.failed("op:aigul", "ip:10.0.0.5") == 0
    assert lock.failed("op:aigul", "ip:10.0.0.5") == 120
    assert lock.locked_for("op:aigul") == 120 and lock.locked_for("ip:10.0.0.5") == 120
    assert lock.locked_for("op:marat") == 0
    now[0] = 119.0
    assert lock.locked_for("op:aigul") == 1.0
    now[0] = 120.0
    assert lock.locked_for("op:aigul") == 0
    # Failures spread wider than the window never lock.
    for i in range(5):
        now[0] = 1000.0 + i * 61
        assert lock.failed("op:marat") == 0


def test_a_right_secret_forgets_earlier_failures():
    lock = Lockout(max_failures=2, clock=lambda: 0.0)
    lock.failed("op:a")
    lock.succeeded("op:a")
    assert lock.failed("op:a") == 0


def test_rate_limit_allows_a_burst_then_the_rate():
    now = [0.0]
    limit = RateLimit(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limit.allow("ip") for _ in range(4)] == [True, True, True, False]
    assert limit.allow("other")
    now[0] = 0.5
    assert limit.allow("ip") and not limit.allow("ip")


def test_sessions_survive_a_restart_end_when_idle_or_expired_and_store_no_token(tmp_path):
    """Risk: a panel signed out by a controller restart; a stolen backup of the session file
    that opens every operator's session; a session that never ends."""
    now = [1_000_000]
    path = tmp_path / "sessions.db"
    store = SessionStore(path, idle_s=600, clock_ms=lambda: now[0])
    token, s = store.create("aigul", "operator", "3", "kk", expires_ms=now[0] + 3_600_000)
    assert store.get(token) == s
    store.close()
    raw = sqlite3.connect(path).execute("SELECT * FROM sessions").fetchall()
    assert token not in repr(raw)
    store = SessionStore(path, idle_s=600, clock_ms=lambda: now[0])
    now[0] += 599_000
    again = store.get(token)
    assert again is not None and again.subject == "aigul" and again.place == "3"
    assert csrf_ok(again, s.csrf) and not csrf_ok(again, "forged") and not csrf_ok(again, None)
    now[0] += 601_000                       # idle too long
    assert store.get(token) is None
    token, s = store.create("aigul", "operator", "3", "kk", expires_ms=now[0] + 1000)
    now[0] += 1000                          # the end of the day
    assert store.get(token) is None
    token, s = store.create("marat", "manager", None, "ru", expires_ms=now[0] + 10_000)
    assert store.end_subject("marat") == 1 and store.get(token) is None
    assert store.get("") is None and store.get("x" * 500) is None
    store.close()
