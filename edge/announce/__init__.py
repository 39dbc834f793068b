"""Spoken announcements of calls, chained from pre-recorded clips."""
