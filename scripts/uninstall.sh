#!/usr/bin/env bash
# Remove the Kezek Edge service and what install.sh set up around it. Keeps the config
# (/etc/kezek), the database (/var/lib/kezek) and the users unless --purge is given.
# See docs/install.md.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: sudo scripts/uninstall.sh [--purge] [--root DIR] [--no-systemctl]

  --purge           also delete /etc/kezek (config, secrets), /var/lib/kezek (the queue
                    database and its backups: unsent events are lost), the kezek user, the
                    TV's kiosk user, the groups install.sh created (gpio on plain Debian),
                    its journald setting and its line in /etc/fstab; the Debian packages it
                    installed are named with the command that removes them
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
if [ -n "$ROOT" ]; then
  # Never fall back to this machine's / when DIR is wrong.
  [ -d "$ROOT" ] || { echo "uninstall.sh: --root $ROOT: no such folder" >&2; exit 1; }
  ROOT="$(cd "$ROOT" && pwd)"; USE_SYSTEMCTL=0
fi
[ -d /run/systemd/system ] || USE_SYSTEMCTL=0
[ "$(id -u)" = 0 ] || { echo "uninstall.sh: run it as root" >&2; exit 1; }
say() { echo "kezek uninstall: $*"; }
PREFIX_ARGS=()
[ -z "$ROOT" ] || PREFIX_ARGS=(--prefix "$ROOT")
RECORD="$ROOT/etc/kezek/installed.list"
recorded() { if [ -f "$RECORD" ]; then awk -v k="$1" '$1 == k { print $2 }' "$RECORD"; fi; }

if [ "$USE_SYSTEMCTL" = 1 ]; then
  # Stopping lets the printer finish its ticket and the service save its state.
  systemctl disable --now kezek.service 2>/dev/null || true
fi
rm -f "$ROOT/etc/systemd/system/multi-user.target.wants/kezek.service" \
      "$ROOT/etc/systemd/system/kezek.service" \
      "$ROOT/etc/udev/rules.d/99-kezek-printers.rules"
rm -rf "$ROOT/opt/kezek" "$ROOT/usr/local/lib/kezek"
[ -L "$ROOT/usr/local/bin/kezek" ] && rm -f "$ROOT/usr/local/bin/kezek"
# The TV: without the service it would show an error page; the console gets its login back.
if [ -e "$ROOT/etc/systemd/system/getty@tty1.service.d/kezek-autologin.conf" ]; then
  rm -f "$ROOT/etc/systemd/system/getty@tty1.service.d/kezek-autologin.conf" "$ROOT/etc/kezek/tv.env"
  rmdir "$ROOT/etc/systemd/system/getty@tty1.service.d" 2>/dev/null || true
  say "the TV's console is back to a login prompt"
fi
for target in $(recorded default-target); do
  if [ -z "$ROOT" ]; then systemctl set-default "$target" >/dev/null 2>&1 || true
  else ln -sfn "/lib/systemd/system/$target" "$ROOT/etc/systemd/system/default.target"; fi
  say "default target is $target again (the desktop's login screen)"
done
if [ "$USE_SYSTEMCTL" = 1 ]; then
  systemctl daemon-reload
  command -v udevadm >/dev/null && udevadm control --reload-rules
  systemctl restart getty@tty1.service 2>/dev/null || true
fi
say "removed the unit, the udev rule, /opt/kezek and kezek from PATH"

if [ "$PURGE" = 1 ]; then
  PACKAGES="$(recorded package | tr '\n' ' ')"
  TV_USERS="$(recorded user)"
  GROUPS_MADE="$(recorded group)"
  for line in $(recorded cmdline); do
    for cmdline in "$ROOT/boot/firmware/cmdline.txt" "$ROOT/boot/cmdline.txt"; do
      [ -f "$cmdline" ] && sed -i "s/ $line\b//" "$cmdline"
    done
  done
  if [ -n "$(recorded fstab)" ]; then
    sed -i '\:[[:space:]]/var/lib/kezek[[:space:]].*# kezek state partition:d' "$ROOT/etc/fstab"
    say "removed the state partition's line from /etc/fstab (the partition itself is left as it is)"
  fi
  rm -f "$ROOT/etc/systemd/journald.conf.d/kezek.conf"
  rm -rf "$ROOT/etc/kezek" "$ROOT/var/lib/private/kezek"
  if mountpoint -q "$ROOT/var/lib/kezek" 2>/dev/null; then
    find "$ROOT/var/lib/kezek" -mindepth 1 -delete
  else
    rm -rf "$ROOT/var/lib/kezek"
  fi
  for u in kezek $TV_USERS; do
    if grep -q "^$u:" "$ROOT/etc/passwd"; then
      home="$(awk -F: -v u="$u" '$1 == u { print $6 }' "$ROOT/etc/passwd")"
      [ -n "$ROOT" ] || pkill -u "$u" 2>/dev/null || true  # the kiosk session, before userdel
      userdel "${PREFIX_ARGS[@]}" "$u"
      case "$home" in /home/kezek-*) rm -rf "${ROOT}$home" ;; esac
    fi
    if grep -q "^$u:" "$ROOT/etc/group"; then groupdel "${PREFIX_ARGS[@]}" "$u"; fi
  done
  for g in $GROUPS_MADE; do
    grep -q "^$g:" "$ROOT/etc/group" && groupdel "${PREFIX_ARGS[@]}" "$g"
    say "removed group $g (install.sh created it)"
  done
  say "purged the config, the secrets, the database, the journald setting and the users kezek${TV_USERS:+ and $TV_USERS}"
  if [ -n "$PACKAGES" ]; then
    say "Debian packages install.sh installed are still there; to remove them: apt-get remove $PACKAGES"
  fi
else
  say "kept /etc/kezek, /var/lib/kezek and the users (--purge removes them)"
fi
