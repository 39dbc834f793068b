"""Offline-first sync of the outbox and downlink with central over MQTT (docs/sync.md)."""
