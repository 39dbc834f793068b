#!/usr/bin/env bash
# Remove the Kezek Edge service. Keeps the config (/etc/kezek), the database
# (/var/lib/kezek) and the kezek user unless --purge is given. See docs/install.md.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: sudo scripts/uninstall.sh [--purge] [--root DIR] [--no-systemctl]

  --purge           also delete /etc/kezek (config, secrets), /var/lib/kezek (the queue
                    database and its backups: unsent events are lost) and the kezek user
  --root DIR        remove from DIR instead of / (DESTDIR works too)
  --no-systemctl    do not stop or disable the unit with systemctl
TXT
}

ROOT="${DESTDIR:-}"
PURGE=0
USE_SYSTEMCTL=1
while [ $# -gt 0 ]; do
  case "$1" in
    --purge) PURGE=1; shift ;;
    --root) ROOT="$2"; shift 2 ;;
    --no-systemctl) USE_SYSTEMCTL=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
ROOT="${ROOT%/}"
[ -z "$ROOT" ] || { ROOT="$(cd "$ROOT" && pwd)"; USE_SYSTEMCTL=0; }
[ -d /run/systemd/system ] || USE_SYSTEMCTL=0
[ "$(id -u)" = 0 ] || { echo "uninstall.sh: run it as root" >&2; exit 1; }
say() { echo "kezek uninstall: $*"; }

if [ "$USE_SYSTEMCTL" = 1 ]; then
  # Stopping lets the printer finish its ticket and the service save its state.
  systemctl disable --now kezek.service 2>/dev/null || true
fi
rm -f "$ROOT/etc/systemd/system/multi-user.target.wants/kezek.service" \
      "$ROOT/etc/systemd/system/kezek.service" \
      "$ROOT/etc/udev/rules.d/99-kezek-printers.rules"
rm -rf "$ROOT/opt/kezek"
if [ "$USE_SYSTEMCTL" = 1 ]; then
  systemctl daemon-reload
  command -v udevadm >/dev/null && udevadm control --reload-rules
fi
say "removed the unit, the udev rule and /opt/kezek"

if [ "$PURGE" = 1 ]; then
  rm -rf "$ROOT/etc/kezek" "$ROOT/var/lib/kezek" "$ROOT/var/lib/private/kezek"
  PREFIX_ARGS=()
  [ -z "$ROOT" ] || PREFIX_ARGS=(--prefix "$ROOT")
  if grep -q '^kezek:' "$ROOT/etc/passwd"; then
    userdel "${PREFIX_ARGS[@]}" kezek
  fi
  if grep -q '^kezek:' "$ROOT/etc/group"; then
    groupdel "${PREFIX_ARGS[@]}" kezek
  fi
  say "purged the config, the secrets, the database and the kezek user"
else
  say "kept /etc/kezek, /var/lib/kezek and the kezek user (--purge removes them)"
fi
