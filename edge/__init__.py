"""Kezek Edge: the offline-first ticket queue controller for public service centers."""

__version__ = "0.1.0"
