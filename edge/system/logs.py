"""Log set-up for the journal: <N> level prefixes, and a filter that hides IINs.

stderr of a systemd service goes to the journal; a line starting with `<N>` (a syslog
priority) gets that level there. Every record passes the IIN filter before it is
written, whatever module logged it and whatever its arguments or traceback hold.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import IO

# A visitor's IIN is 12 digits; anything that looks like one (also written 6+6 with a
# space or dash) is masked. Longer digit runs (timestamps in ms have 13) are left alone.
IIN_PATTERN = re.compile(r"(?<![0-9])[0-9]{6}[ -]?[0-9]{6}(?![0-9])")
IIN_MASK = "<IIN>"

# syslog priorities (sd-daemon.h): the journal reads them from the `<N>` prefix.
_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6,
             logging.DEBUG: 7}


def redact(text: str) -> str:
    """The text with every IIN-looking number replaced by <IIN>."""
    return IIN_PATTERN.sub(IIN_MASK, text)


class RedactIIN(logging.Filter):
    """Rewrites the record so that neither its message nor its traceback holds an IIN.

    Attached to the handler (not a logger) so records of every module pass it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Format the traceback now so the exception's message can be cleaned too.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            # Formatters reuse the cached exc_text, so the cleaned text is what is written.
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JournalFormatter(logging.Formatter):
    """`<N>logger: message`: journald adds the time and reads the level from <N>."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_PRIORITY.get(record.levelno, _nearest(record.levelno))}>"
        # Every line of a multi-line record (a traceback) carries the prefix, or the
        # journal would file the continuation lines at the default level.
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def _nearest(levelno: int) -> int:
    for level in sorted(_PRIORITY, reverse=True):
        if levelno >= level:
            return _PRIORITY[level]
    return 7


def stderr_is_journal(stream: IO[str] | None = None) -> bool:
    """True when `stream` (stderr) is the journal's stream ($JOURNAL_STREAM = dev:inode)."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    if not expected:
        return False
    try:
        st = os.fstat((stream or sys.stderr).fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return expected == f"{st.st_dev}:{st.st_ino}"


def setup_logging(level: str = "info", fmt: str = "auto",
                  stream: IO[str] | None = None) -> logging.Handler:
    """Configure the root logger once for the service; returns the handler it installed.

    `fmt` is 'journal', 'plain' or 'auto' (journal when stderr is the journal's stream).
    Calling it again (SIGHUP reload) replaces the handler instead of adding a second one.
    """
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "journal" if stderr_is_journal(stream) else "plain"
    handler = logging.StreamHandler(stream)
    handler.set_name("kezek")
    handler.addFilter(RedactIIN())
    if fmt == "journal":
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    # The service owns the log output: replace our earlier handler and a plain stream
    # handler (logging.basicConfig's), or every line would be written twice. Subclasses
    # (pytest's capture handlers, a file handler) stay.
    for old in [h for h in root.handlers
                if h.get_name() == "kezek" or type(h) is logging.StreamHandler]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
