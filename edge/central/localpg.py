"""A throwaway PostgreSQL cluster on a free port: for the tests and `kezek central fleet`.

Uses Debian's server binaries (package `postgresql`: initdb, pg_ctl, postgres), found on
PATH or in /usr/lib/postgresql/<version>/bin, newest first. Never touches the machine's
own server: its own data folder, its own port on 127.0.0.1, its socket in its folder.
PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user
(Debian's package makes it) or else `nobody`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

APT_HINT = "install PostgreSQL's server: apt-get install postgresql"


class LocalPgError(RuntimeError):
    pass


def pg_bin_dir() -> Path | None:
    """The folder with initdb and pg_ctl: PATH first, then Debian's versioned folders."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    for d in reversed(dirs):
        if os.access(f"{d}/pg_ctl", os.X_OK) and os.access(f"{d}/initdb", os.X_OK):
            return Path(d)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    """initdb + pg_ctl start on a free port; url(db) names a database in it."""

    def __init__(self, base: Path | None = None, *, fsync: bool = True,
                 settings: dict[str, str] | None = None) -> None:
        bindir = pg_bin_dir()
        if bindir is None:
            raise LocalPgError(f"no initdb/pg_ctl found: {APT_HINT}")
        self.bin = bindir
        self.port = free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    pwd.getpwnam(name)
                    self.user = name
                    break
                except KeyError:
                    continue
        # Its own folder, which the server's user must be able to reach: a fresh one in
        # the temporary directory (pytest's own folders are private to the user running it).
        self.dir = Path(tempfile.mkdtemp(prefix="kezek-pg-", dir=base))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.settings = {"listen_addresses": "'127.0.0.1'", "port": str(self.port),
                         "unix_socket_directories": f"'{self.dir}'", "max_connections": "200",
                         "fsync": "on" if fsync else "off", "shared_buffers": "128MB",
                         **(settings or {})}
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "kezek",
                   "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as f:
            for k, v in self.settings.items():
                f.write(f"{k} = {v}\n")

    def _run(self, args: list[str], check: bool = True, timeout: float = 120) -> Any:
        kwargs: dict[str, Any] = {}
        if self.user:
            kwargs["user"] = self.user
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                              cwd=str(self.dir), **kwargs)
        if check and done.returncode != 0:
            raise LocalPgError(f"{' '.join(args[:2])} failed: {done.stderr.strip()}")
        return done

    def start(self) -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                   "-w", "-t", "60", "start"])
        self._wait()

    def _wait(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise LocalPgError(f"PostgreSQL did not listen on {self.port}: {self.log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"],
                  check=False)

    def restart(self, mode: str = "immediate") -> None:
        """Stop (immediate = as after a crash: no checkpoint, recovery at start) and start."""
        self.stop(mode)
        self.start()

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://kezek@127.0.0.1:{self.port}/{dbname}"

    def create_db(self, name: str) -> str:
        import psycopg
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def cleanup(self) -> None:
        self.stop("immediate")   # thrown away: no need for a shutdown checkpoint
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "LocalPostgres":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()
