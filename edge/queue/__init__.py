"""The ticket queue: domain model, the pure engine, and its SQLite store."""
