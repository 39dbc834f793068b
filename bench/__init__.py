"""Kezek Edge benchmarks: the controller measured against the machine it runs on (issue 8)."""
