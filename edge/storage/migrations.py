"""Versioned schema migrations of the queue database (PRAGMA user_version)."""

from __future__ import annotations

# Each entry upgrades the schema from version N-1 to N. Never edit a released entry:
# add a new one. A database newer than the last entry is refused (see store.open_store).
MIGRATIONS: list[list[str]] = [
    # 1: the queue core
    [
        """CREATE TABLE tickets (
            id INTEGER PRIMARY KEY,
            day TEXT NOT NULL,
            service TEXT NOT NULL,
            number INTEGER NOT NULL,
            label TEXT NOT NULL,
            category TEXT NOT NULL,
            state TEXT NOT NULL,
            visit TEXT NOT NULL,
            arrival INTEGER NOT NULL,
            tier INTEGER NOT NULL,
            window INTEGER,
            recalls INTEGER NOT NULL DEFAULT 0,
            issued_ms INTEGER NOT NULL,
            queued_ms INTEGER NOT NULL,
            called_ms INTEGER,
            serving_ms INTEGER,
            finished_ms INTEGER,
            origin_service TEXT,
            booking TEXT,
            print_state TEXT NOT NULL DEFAULT 'none',
            printer TEXT,
            extra TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX tickets_day ON tickets(day)",
        "CREATE INDEX tickets_open ON tickets(state) WHERE state NOT IN ('done', 'no_show', 'voided')",
        """CREATE TABLE windows (
            number INTEGER PRIMARY KEY,
            state TEXT NOT NULL,
            ticket_id INTEGER,
            last_done_ticket_id INTEGER,
            last_done_ms INTEGER
        )""",
        """CREATE TABLE counters (
            service TEXT PRIMARY KEY,
            day TEXT NOT NULL,
            last_number INTEGER NOT NULL
        )""",
        """CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            type TEXT NOT NULL,
            ts_ms INTEGER NOT NULL,
            mono_ms INTEGER NOT NULL,
            boot TEXT NOT NULL,
            clock_synced INTEGER NOT NULL,
            data TEXT NOT NULL
        )""",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ],
    # 2: bookings (issue 5). No IIN column: only its keyed hash (docs/bookings.md).
    [
        """CREATE TABLE bookings (
            code TEXT PRIMARY KEY,
            service TEXT NOT NULL,
            day TEXT NOT NULL,
            slot_start TEXT NOT NULL,
            slot_minutes INTEGER NOT NULL,
            status TEXT NOT NULL,
            version INTEGER NOT NULL,
            iin_hmac TEXT,
            site TEXT,
            rebooked_to TEXT,
            ticket_id INTEGER,
            checked_in_ms INTEGER
        )""",
        "CREATE INDEX bookings_day ON bookings(day)",
        "CREATE INDEX bookings_iin ON bookings(iin_hmac)",
    ],
    # 3: meta and counters WITHOUT ROWID (issue 8). A TEXT primary key on a rowid table is
    # a second b-tree: every command wrote two pages per table where one will do.
    [
        "CREATE TABLE meta_v3 (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        "INSERT INTO meta_v3 (key, value) SELECT key, value FROM meta",
        "DROP TABLE meta",
        "ALTER TABLE meta_v3 RENAME TO meta",
        """CREATE TABLE counters_v3 (
            service TEXT PRIMARY KEY,
            day TEXT NOT NULL,
            last_number INTEGER NOT NULL
        ) WITHOUT ROWID""",
        "INSERT INTO counters_v3 (service, day, last_number) SELECT service, day, last_number FROM counters",
        "DROP TABLE counters",
        "ALTER TABLE counters_v3 RENAME TO counters",
    ],
    # 4: the visitor page's token of each ticket (the QR on the paper; docs/central.md).
    # Tickets issued before have none: their paper carries no QR.
    [
        "ALTER TABLE tickets ADD COLUMN token TEXT",
    ],
]

LATEST = len(MIGRATIONS)
