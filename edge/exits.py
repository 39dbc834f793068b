"""The service's exit codes, as the systemd unit reads them (systemd/kezek.service)."""

from __future__ import annotations

# EX_CONFIG: systemd's unit does not restart on it (RestartPreventExitStatus=78), so a bad
# config is reported once instead of restart-looping.
CONFIG_EXIT = 78
# EX_IOERR: the state folder or the database cannot be used and only a person can fix it (a
# card the kernel turned read-only, a damaged file, a folder without permission).
# Restarting every 3 s cannot fix it; the unit does not restart on it
# (RestartPreventExitStatus=78 74). Once fixed: systemctl restart kezek.
STORAGE_EXIT = 74
# EX_TEMPFAIL: a storage fault that can pass by itself (another program's lock, a full card
# someone is clearing, an I/O error, a state folder on a USB stick not mounted yet), or the
# database files replaced under a running service. The unit restarts on it every
# RestartSec: a center must not stay without its queue once it passed.
STORAGE_RETRY_EXIT = 75
