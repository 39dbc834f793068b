"""The edge's storage: the SQLite store, its migrations, checkpoints and faults, the outbox."""
