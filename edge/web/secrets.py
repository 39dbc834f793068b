"""Staff secrets (operators' PINs, central's passwords): kept only as slow salted hashes.

Format: `scrypt$<log2 n>$<r>$<p>$<salt, base64>$<hash, base64>`. The cost travels with the
hash, so it can be raised later without breaking what is stored. Defaults: n = 2^14,
r = 8, p = 1 (16 MB and ~50 ms here, a few hundred ms on a Pi 4, once per sign-in);
`kezek operator-hash` makes one. A PIN of a few digits is weak however slowly it is
hashed: the sign-in lockout (edge/web/lockout.py) is what stops guessing on the LAN.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

PREFIX = "scrypt"
DEFAULT_LOG2_N, DEFAULT_R, DEFAULT_P = 14, 8, 1
_FORMAT = re.compile(r"^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9+/=]{16,64})\$"
                     r"([A-Za-z0-9+/=]{40,90})$")


def hash_secret(secret: str, *, log2_n: int = DEFAULT_LOG2_N, r: int = DEFAULT_R,
                p: int = DEFAULT_P) -> str:
    if not secret:
        raise ValueError("an empty secret cannot be hashed")
    salt = os.urandom(16)
    digest = _scrypt(secret, salt, log2_n, r, p)
    return "$".join([PREFIX, str(log2_n), str(r), str(p),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def is_secret_hash(text: str) -> bool:
    """True for a well-formed hash with a cost this machine can verify (not a clear PIN)."""
    m = _FORMAT.match(text)
    return m is not None and 10 <= int(m.group(1)) <= 20 and 1 <= int(m.group(2)) <= 32 \
        and 1 <= int(m.group(3)) <= 16


def verify_secret(secret: str, stored: str) -> bool:
    """Constant-time check of `secret` against a stored hash; a malformed hash is False."""
    m = _FORMAT.match(stored)
    if not m or not is_secret_hash(stored):
        return False
    log2_n, r, p = int(m.group(1)), int(m.group(2)), int(m.group(3))
    salt, want = base64.b64decode(m.group(4)), base64.b64decode(m.group(5))
    got = _scrypt(secret, salt, log2_n, r, p)
    return hmac.compare_digest(got, want)


def _scrypt(secret: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=256 * n * r * p)
