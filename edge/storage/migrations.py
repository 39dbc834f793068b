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
    # 4: the operator signed in at each window (issue 19): queue state, so a restart keeps
    # who works where.
    [
        "ALTER TABLE windows ADD COLUMN operator TEXT",
    ],
    # 5: the visitor page's token of each ticket (the QR on the paper; docs/central.md).
    # Tickets issued before have none: their paper carries no QR.
    [
        "ALTER TABLE tickets ADD COLUMN token TEXT",
    ],
    # 6: visit stages (issue 19): one row per stage of a visit (a ticket's time in one
    # service), written with the events that change it (edge/storage/stages.py), so the
    # manager's figures of the day come from the file and survive restarts. A database
    # from before gets one stage per ticket from what the tickets table still knows (no
    # operator, no rating, a transferred ticket's earlier stages are gone).
    [
        """CREATE TABLE visit_stages (
            id INTEGER PRIMARY KEY,
            day TEXT NOT NULL,
            ticket_id INTEGER NOT NULL,
            stage INTEGER NOT NULL,
            label TEXT NOT NULL,
            visit TEXT NOT NULL,
            service TEXT NOT NULL,
            category TEXT NOT NULL,
            window INTEGER,
            operator TEXT,
            issued_ms INTEGER NOT NULL,
            queued_ms INTEGER NOT NULL,
            called_ms INTEGER,
            started_ms INTEGER,
            ended_ms INTEGER,
            outcome TEXT NOT NULL,
            waited_ms INTEGER,
            served_ms INTEGER,
            sla_breached INTEGER NOT NULL DEFAULT 0,
            rating INTEGER
        )""",
        "CREATE INDEX visit_stages_day ON visit_stages(day)",
        "CREATE UNIQUE INDEX visit_stages_ticket ON visit_stages(ticket_id, stage)",
        """INSERT INTO visit_stages (day, ticket_id, stage, label, visit, service, category,
                window, issued_ms, queued_ms, called_ms, started_ms, ended_ms, outcome,
                waited_ms, served_ms)
            SELECT day, id, 1, label, visit, service, category, window, issued_ms, queued_ms,
                called_ms, serving_ms,
                CASE WHEN state IN ('done', 'no_show', 'voided') THEN finished_ms END,
                CASE WHEN state IN ('done', 'no_show', 'voided') THEN state ELSE 'open' END,
                CASE WHEN called_ms IS NOT NULL THEN max(0, called_ms - queued_ms) END,
                CASE WHEN state = 'done' AND finished_ms IS NOT NULL
                     AND coalesce(serving_ms, called_ms) IS NOT NULL
                     THEN max(0, finished_ms - coalesce(serving_ms, called_ms)) END
            FROM tickets ORDER BY id""",
    ],
]

LATEST = len(MIGRATIONS)
