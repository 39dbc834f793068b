"""Central's tests run against both store back-ends: SQLite files and a PostgreSQL cluster
started once per test session (initdb + pg_ctl on a free port, never the machine's own
server), one fresh database per test, torn down at the end."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Iterator

import pytest

from edge.central.localpg import APT_HINT, LocalPgError, LocalPostgres
from edge.central.store import EventStore, open_store
from tests.sync.conftest import broker, edges, probe  # noqa: F401  (fixtures shared with sync)

BACKENDS = ["sqlite", "postgres"]
_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalPostgres]:
    try:
        # fsync off: a test's crash is a process kill, never a power cut (the page cache
        # keeps what was written); commits stay synchronous, so an ack is still true.
        pg = LocalPostgres(fsync=False)
    except LocalPgError as e:
        pytest.fail(f"{e} ({APT_HINT})")
    try:
        pg.start()
        yield pg
    finally:
        pg.cleanup()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a test's central stores: a SQLite file, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        return str(tmp_path / "central.db")
    pg: LocalPostgres = request.getfixturevalue("pg_cluster")
    return pg.create_db(f"t{next(_names)}")


@pytest.fixture
def store(store_target: str) -> Iterator[EventStore]:
    s = open_store(store_target)
    yield s
    s.close()


def reopen(target: str) -> Any:
    return open_store(target)
