"""What both central back-ends give the ledger: a transaction (`Tx`), the writes a wave of
batches sends together (`Pending`), and what storing a batch answers (`StoreResult`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from pydantic import TypeAdapter

if TYPE_CHECKING:
    from edge.central.ledger import LedgerStore


@dataclass(frozen=True)
class StoreResult:
    acked_seq: int
    inserted: int
    duplicates: int
    conflicts: int
    resend_from: int | None   # set when this batch starts beyond a gap
    copies: int = 0           # events a twin stream already holds (see Forks)


# A write whose result is not needed at once: (sql, args, many). A back-end may send
# several in one round trip (PostgreSQL's pipeline mode).
Write = tuple[str, Any, bool]


class Tx(Protocol):
    """One open transaction (or read) of a back-end, SQL with `?` placeholders."""

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def run(self, sql: str, args: Sequence[Any] = ()) -> int: ...

    def run_many(self, sql: str, rows: list[Sequence[Any]]) -> None: ...

    def run_all(self, writes: list[Write]) -> None: ...

    def rows_many(self, queries: list[tuple[str, Sequence[Any]]]) -> list[list[tuple[Any, ...]]]:
        ...


# pydantic-core writes compact UTF-8 JSON (what json.dumps(ensure_ascii=False,
# separators=(",", ":")) writes) about 4x faster: one call per stored event.
_DATA = TypeAdapter(dict[str, Any])


def data_json(data: dict[str, Any]) -> str:
    return _DATA.dump_json(data).decode("utf-8")


class Pending:
    """Writes not sent yet. Events and day roll-up rows are kept apart so that a whole
    wave of batches inserts its events in one statement and its roll-up in another."""

    def __init__(self, store: "LedgerStore") -> None:
        self.store = store
        self.writes: list[Write] = []
        self.events: list[tuple[Any, ...]] = []
        self.roll: dict[tuple[str, Any, str, str], list[int]] = {}

    def merge(self, other: "Pending") -> None:
        self.writes += other.writes
        self.events += other.events
        for key, (n, total) in other.roll.items():
            cell = self.roll.setdefault(key, [0, 0])
            cell[0] += n
            cell[1] += total

    def flush(self, tx: Tx) -> None:
        head: list[Write] = []
        if self.events:
            head.append(self.store._events_write(self.events))
        if self.roll:
            head.append(("INSERT INTO daily(site, day, type, service, n, total) "
                         "VALUES (?,?,?,?,?,?) ON CONFLICT(site, day, type, service) DO UPDATE "
                         "SET n = daily.n + excluded.n, total = daily.total + excluded.total",
                         [(*key, n, total) for key, (n, total) in self.roll.items()], True))
        tx.run_all(head + self.writes)
        self.writes, self.events, self.roll = [], [], {}
