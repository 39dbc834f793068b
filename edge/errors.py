"""The one exception hierarchy of Kezek Edge: every message names the thing and the fix."""

from __future__ import annotations


class KezekError(Exception):
    """Base of every error Kezek Edge raises on purpose."""


class ConfigError(KezekError):
    """The configuration file is missing, malformed or inconsistent.

    `problems` holds one line per problem, each naming the key path and what is expected.
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: invalid configuration:\n{lines}")


class CommandError(KezekError):
    """A command cannot be applied to the queue as it is now; nothing was changed.

    `code` is a stable machine-readable reason (for events and the kiosk), the message
    is for people.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class DeviceError(KezekError):
    """A hardware device cannot do what was asked: the message names the device and a fix."""

    def __init__(self, device: str, problem: str, hint: str = "") -> None:
        self.device = device
        self.problem = problem
        self.hint = hint
        text = f"{device}: {problem}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class PrinterError(DeviceError):
    """A ticket printer cannot print now (offline, out of paper, cover open, unplugged)."""


class StorageError(KezekError):
    """The local database cannot be opened, migrated or written.

    `kind` names the fault for alarms and exit codes: "full" (no space left), "readonly"
    (the file system or the file cannot be written), "corrupt" (the file is damaged),
    "io" (the card reports errors, or a file vanished), "busy", or "" when unknown.
    """

    def __init__(self, message: str, kind: str = "") -> None:
        self.kind = kind
        super().__init__(message)
