#!/usr/bin/env bash
# Install or update Kezek Edge as a whole appliance on Raspberry Pi OS Bookworm or Debian 12:
# the packages, the service in its own venv, the clip set and the sound output, the TV
# (a kiosk session showing the hall page), time sync and the journal.
# Safe to run again: it says what it changed and leaves the rest as it is. docs/install.md.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: sudo scripts/install.sh [--config FILE] [options]

  --config FILE       the center's config, installed as /etc/kezek/kezek.toml (needed on
                      the first install; a later one replaces it, keeping the old one as
                      kezek.toml.previous). Checked first with `kezek check-config`: an
                      invalid file is refused and nothing in /etc/kezek changes
  --audio CHOICE      where calls are spoken: hdmi (the TV), jack (3.5 mm), or an ALSA
                      device (plughw:CARD=Device); checked against the box's sound cards
  --tv | --no-tv      the TV shows the hall page: a kiosk user logged in on tty1, Chromium
                      in kiosk mode, no blanking, no cursor (default: --tv when the config
                      has [hall] enabled on the first install, then as chosen before)
  --tv-session S      auto (labwc where the package exists, else X11), labwc or x11
  --state-partition DEV  mount DEV (e.g. /dev/mmcblk0p3, LABEL=kezek-data) at
                      /var/lib/kezek through /etc/fstab: the state on a partition of its
                      own, for a read-only system (docs/install.md, "The SD card")
  --journal-max SIZE  the journal's cap on the card (default 200M)
  --no-packages       do not apt-get anything (offline); missing packages are named
  --root DIR          build an image tree instead of this machine: the script runs inside
                      DIR (chroot; a foreign architecture under qemu-user), so the venv is
                      made by the image's own Python and runs there. DESTDIR works too
  --no-systemctl      do not reload, enable or start anything (also automatic when the
                      machine was not booted with systemd)
  --no-start          enable the unit but do not (re)start it now
  --python PATH       the Python 3.11+ to build the venv with (default /usr/bin/python3)
  --pip-args "ARGS"   extra pip arguments, e.g. "--no-index --find-links /media/usb/wheels"
  -h, --help          this text
TXT
}

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIG_ARGS=("$@")
ROOT="${DESTDIR:-}"
CONFIG=""
USE_SYSTEMCTL=1
START=1
PYTHON=/usr/bin/python3
PIP_ARGS=""
AUDIO=""
TV=""
TV_SESSION=""
STATE_PARTITION=""
JOURNAL_MAX=""
PACKAGES=1
IN_IMAGE="${KEZEK_IN_IMAGE:-0}"
while [ $# -gt 0 ]; do
  case "$1" in
    --config) CONFIG="$2"; shift 2 ;;
    --root) ROOT="$2"; shift 2 ;;
    --audio) AUDIO="$2"; shift 2 ;;
    --tv) TV=1; shift ;;
    --no-tv) TV=0; shift ;;
    --tv-session) TV_SESSION="$2"; shift 2 ;;
    --state-partition) STATE_PARTITION="$2"; shift 2 ;;
    --journal-max) JOURNAL_MAX="$2"; shift 2 ;;
    --no-packages) PACKAGES=0; shift ;;
    --no-systemctl) USE_SYSTEMCTL=0; shift ;;
    --no-start) START=0; shift ;;
    --python) PYTHON="$2"; shift 2 ;;
    --pip-args) PIP_ARGS="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "kezek install: $*"; }
CHANGES=0
changed() { CHANGES=$((CHANGES + 1)); say "$*"; }

[ "$(id -u)" = 0 ] || die "run it as root (sudo scripts/install.sh ...): it creates system users"
[ -f "$SRC/pyproject.toml" ] || die "$SRC does not look like the Kezek Edge source tree"
case "$TV_SESSION" in ""|auto|labwc|x11) ;; *) die "--tv-session $TV_SESSION: auto, labwc or x11" ;; esac

# --- an image tree: run this same script inside it --------------------------------------
ROOT="${ROOT%/}"
if [ -n "$ROOT" ] && [ "$IN_IMAGE" != 1 ]; then
  [ -d "$ROOT" ] || die "--root $ROOT: no such folder"
  ROOT="$(cd "$ROOT" && pwd)"
  [ -x "$ROOT/bin/sh" ] && [ -f "$ROOT/etc/os-release" ] \
    || die "--root $ROOT: not an operating system tree (no bin/sh, etc/os-release): make it with debootstrap or mount the image's root partition there"
  chroot "$ROOT" /bin/true 2>/dev/null \
    || die "--root $ROOT: its programs cannot run on this machine (another architecture?): apt-get install qemu-user-static binfmt-support, and check /proc/sys/fs/binfmt_misc"
  STAGE="$ROOT/var/tmp/kezek-install"
  rm -rf "$STAGE"; mkdir -p "$STAGE/src"
  for part in pyproject.toml README.md edge scripts systemd docs config; do
    [ -e "$SRC/$part" ] && cp -r "$SRC/$part" "$STAGE/src/"
  done
  find "$STAGE/src" -name __pycache__ -prune -exec rm -rf {} +
  args=()
  skip=0
  for a in "${ORIG_ARGS[@]}"; do
    if [ "$skip" = 1 ]; then skip=0; continue; fi
    case "$a" in
      --root) skip=1 ;;
      *) args+=("$a") ;;
    esac
  done
  if [ -n "$CONFIG" ]; then
    [ -f "$CONFIG" ] || die "--config $CONFIG: no such file"
    cp "$CONFIG" "$STAGE/kezek.toml"
    for i in "${!args[@]}"; do
      [ "${args[$i]}" = "--config" ] && args[$((i + 1))]=/var/tmp/kezek-install/kezek.toml
    done
  fi
  MOUNTED=()
  cleanup_image() {
    for ((i=${#MOUNTED[@]}-1; i>=0; i--)); do umount -l "${MOUNTED[$i]}" 2>/dev/null || true; done
    rm -f "$ROOT/usr/sbin/policy-rc.d"
    [ -f "$ROOT/etc/resolv.conf.kezek-install" ] && mv -f "$ROOT/etc/resolv.conf.kezek-install" "$ROOT/etc/resolv.conf"
    rm -rf "$STAGE"
  }
  trap cleanup_image EXIT
  for m in proc sys dev dev/pts; do
    mkdir -p "$ROOT/$m"
    if ! mountpoint -q "$ROOT/$m"; then
      case "$m" in
        proc) mount -t proc proc "$ROOT/proc" ;;
        *) mount --bind "/$m" "$ROOT/$m" ;;
      esac
      MOUNTED+=("$ROOT/$m")
    fi
  done
  # Packages installed into an image must not start their services on this machine.
  printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"; chmod 755 "$ROOT/usr/sbin/policy-rc.d"
  if [ -e /etc/resolv.conf ]; then
    cp -a "$ROOT/etc/resolv.conf" "$ROOT/etc/resolv.conf.kezek-install" 2>/dev/null || true
    rm -f "$ROOT/etc/resolv.conf"; cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
  fi
  # pip inside the image trusts what pip here trusts (a proxy's certificate, a local index).
  env_pass=(KEZEK_IN_IMAGE=1 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
            DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 HOME=/root)
  if [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ]; then
    cp "$PIP_CERT" "$STAGE/pip-cert.pem"; env_pass+=(PIP_CERT=/var/tmp/kezek-install/pip-cert.pem)
  fi
  for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_DEFAULT_TIMEOUT http_proxy https_proxy; do
    [ -n "${!v:-}" ] && env_pass+=("$v=${!v}")
  done
  say "building the image in $ROOT (inside it: chroot)"
  set +e
  chroot "$ROOT" /usr/bin/env -i "${env_pass[@]}" bash /var/tmp/kezek-install/src/scripts/install.sh --no-systemctl "${args[@]}"
  rc=$?
  set -e
  exit "$rc"
fi
if [ "$IN_IMAGE" = 1 ]; then
  USE_SYSTEMCTL=0
  say "(inside the image: sound cards, the clock and running services are the box's, checked at its first boot by kezek doctor)"
fi
if [ "$USE_SYSTEMCTL" = 1 ] && [ ! -d /run/systemd/system ]; then
  say "not booted with systemd: units are enabled for the next boot, nothing is started"
  USE_SYSTEMCTL=0
fi

# --- where things go ------------------------------------------------------------------------
USER_NAME=kezek
TV_USER=kezek-tv
# audio: ALSA's /dev/snd/* (the speaker for announcements) belong to group audio.
GROUPS_WANTED="gpio dialout lp audio"
OPT=/opt/kezek
RELEASES=$OPT/releases
ETC=/etc/kezek
STATE=/var/lib/kezek
CLIPS=$STATE/clips
LIB=/usr/local/lib/kezek
RECORD=$ETC/installed.list         # what install added, for uninstall.sh --purge
SETTINGS=$ETC/install.conf         # the choices made, kept for the next run

# Read-only system (overlay): everything written now would be gone at the next reboot.
if [ "$IN_IMAGE" != 1 ] && [ "$(findmnt -n -o FSTYPE / 2>/dev/null || true)" = overlay ]; then
  die "the system is read-only (overlay file system): an install now would vanish at reboot. Turn the overlay off (sudo raspi-config nonint disable_overlayfs && sudo reboot), install, then turn it on again (docs/install.md, 'The SD card')"
fi

# Choices of the last run, unless given now.
if [ -f "$SETTINGS" ]; then
  # shellcheck disable=SC1090
  . "$SETTINGS"
  AUDIO="${AUDIO:-${SAVED_AUDIO:-}}"; TV="${TV:-${SAVED_TV:-}}"
  TV_SESSION="${TV_SESSION:-${SAVED_TV_SESSION:-}}"; JOURNAL_MAX="${JOURNAL_MAX:-${SAVED_JOURNAL_MAX:-}}"
fi
TV_SESSION="${TV_SESSION:-auto}"
JOURNAL_MAX="${JOURNAL_MAX:-200M}"

if [ -n "$CONFIG" ]; then
  [ -f "$CONFIG" ] || die "--config $CONFIG: no such file"
elif [ ! -f "$ETC/kezek.toml" ]; then
  die "first install: pass --config FILE with the center's config (write one with kezek init, or start from $SRC/config/demo.toml)"
fi

record() {  # record KIND VALUE: remembered for uninstall.sh --purge
  mkdir -p "$ETC"
  grep -qxF "$1 $2" "$RECORD" 2>/dev/null || echo "$1 $2" >> "$RECORD"
}
put() {  # put SRC DST MODE [OWNER:GROUP]: copy only when the content differs
  local src="$1" dst="$2" mode="$3" owner="${4:-root:root}"
  mkdir -p "$(dirname "$dst")"
  if ! cmp -s "$src" "$dst"; then
    cp "$src" "$dst.tmp.$$" && mv -f "$dst.tmp.$$" "$dst"
    changed "wrote $dst"
  fi
  chown "$owner" "$dst"
  chmod "$mode" "$dst"
}
put_text() {  # put_text DST MODE [OWNER:GROUP] <<< content
  local tmp; tmp="$(mktemp)"; cat > "$tmp"
  put "$tmp" "$@"; rm -f "$tmp"
}
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# --- Debian packages ------------------------------------------------------------------------
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }' | grep -qv '(none)'; }
APT_UPDATED=0
apt_lists() {
  if [ "$APT_UPDATED" = 0 ]; then apt-get update -qq >/dev/null 2>&1 || true; APT_UPDATED=1; fi
}
# fonts-dejavu-core: Kazakh letters on tickets (raster) and the hall page; libusb: USB
# printers; espeak-ng: the first clip set; alsa-utils: aplay speaks the calls.
WANT=(python3 python3-venv fonts-dejavu-core libusb-1.0-0 espeak-ng alsa-utils)
TIME_DAEMON=""
for d in chrony ntp ntpsec openntpd; do installed "$d" && TIME_DAEMON="$d"; done
[ -n "$TIME_DAEMON" ] || WANT+=(systemd-timesyncd)

if [ -z "$TV" ]; then TV=auto; fi
if [ "$TV" != 0 ]; then
  if [ "$TV_SESSION" = auto ]; then
    if installed labwc || { [ "$PACKAGES" = 1 ] && { candidate labwc || { apt_lists; candidate labwc; }; }; }; then
      TV_SESSION=labwc
    else
      TV_SESSION=x11
    fi
  fi
  # Raspberry Pi OS calls it chromium-browser on older images, chromium on newer ones.
  BROWSER_PKG=chromium
  if installed chromium-browser; then BROWSER_PKG=chromium-browser
  elif ! installed chromium && [ "$PACKAGES" = 1 ] && ! candidate chromium; then
    apt_lists; candidate chromium || BROWSER_PKG=chromium-browser
  fi
  TV_PKGS=("$BROWSER_PKG" dbus libpam-systemd)
  if [ "$TV_SESSION" = labwc ]; then TV_PKGS+=(labwc)
  else TV_PKGS+=(xserver-xorg-core xserver-xorg-input-libinput xinit x11-xserver-utils matchbox-window-manager); fi
fi

MISSING=()
for p in "${WANT[@]}"; do installed "$p" || MISSING+=("$p"); done
if [ "$TV" != 0 ]; then for p in "${TV_PKGS[@]}"; do installed "$p" || MISSING+=("$p"); done; fi
if [ ${#MISSING[@]} -gt 0 ]; then
  if [ "$PACKAGES" = 0 ]; then
    die "missing packages: ${MISSING[*]}. Install them (apt-get install ${MISSING[*]}) or run without --no-packages"
  fi
  apt_lists
  say "installing ${MISSING[*]} (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${MISSING[@]}" >"$WORK/apt.log" 2>&1 \
    || { tail -20 "$WORK/apt.log" >&2; die "apt-get install ${MISSING[*]} failed (above); check the network and apt-get update"; }
  for p in "${MISSING[@]}"; do record package "$p"; done
  changed "installed packages: ${MISSING[*]}"
fi
[ -x "$PYTHON" ] || command -v "$PYTHON" >/dev/null || die "no Python at $PYTHON (apt-get install python3 python3-venv)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$PYTHON is older than 3.11; Raspberry Pi OS Bookworm and Debian 12 ship 3.11"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || die "$PYTHON cannot build a venv: apt-get install python3-venv"

# --- user and groups ------------------------------------------------------------------------
has_group() { getent group "$1" >/dev/null; }
in_group() { id -nG "$2" 2>/dev/null | tr ' ' '\n' | grep -qx "$1"; }
for g in $GROUPS_WANTED; do
  # Raspberry Pi OS has them all; a plain Debian has no gpio group until created.
  if ! has_group "$g"; then groupadd --system "$g"; record group "$g"; changed "created group $g"; fi
done
if ! has_group "$USER_NAME"; then groupadd --system "$USER_NAME"; fi
if id "$USER_NAME" >/dev/null 2>&1; then
  for g in $GROUPS_WANTED; do
    in_group "$g" "$USER_NAME" || { usermod --append --groups "$g" "$USER_NAME"; changed "added $USER_NAME to group $g"; }
  done
else
  useradd --system --gid "$USER_NAME" --groups "${GROUPS_WANTED// /,}" \
    --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin \
    --comment "Kezek Edge queue controller" "$USER_NAME"
  changed "created system user $USER_NAME"
fi

# --- the state folder (and its own partition) -----------------------------------------------
if [ -n "$STATE_PARTITION" ]; then
  spec="$STATE_PARTITION"
  if [ -b "$spec" ]; then
    uuid="$(blkid -s UUID -o value "$spec" 2>/dev/null || true)"
    [ -n "$uuid" ] || die "--state-partition $spec has no file system: make one first (sudo mkfs.ext4 -L kezek-data $spec)"
    spec="UUID=$uuid"
  fi
  line="$spec $STATE ext4 defaults,noatime,commit=5 0 2"
  if ! grep -qE "^[^#]*[[:space:]]$STATE[[:space:]]" /etc/fstab; then
    echo "$line  # kezek state partition (install.sh)" >> /etc/fstab
    record fstab "$STATE"
    changed "added $STATE to /etc/fstab ($spec)"
  fi
  mkdir -p "$STATE"
  if [ "$IN_IMAGE" != 1 ] && ! mountpoint -q "$STATE"; then
    if [ -n "$(ls -A "$STATE" 2>/dev/null)" ]; then
      [ "$USE_SYSTEMCTL" = 1 ] && systemctl stop kezek.service 2>/dev/null || true
      mkdir -p "$WORK/part"; mount "$STATE_PARTITION" "$WORK/part"
      cp -a "$STATE/." "$WORK/part/"; umount "$WORK/part"
      changed "copied the state folder onto $STATE_PARTITION"
    fi
    mount "$STATE" && changed "mounted $STATE_PARTITION at $STATE"
  fi
fi
install -d -m 0750 -o "$USER_NAME" -g "$USER_NAME" "$STATE"
install -d -m 0755 "$OPT" "$RELEASES" "$LIB" /etc/systemd/system /etc/udev/rules.d
install -d -m 0755 -o 0 -g 0 "$ETC"

# --- the code: a release venv, /opt/kezek/venv points at the one in service -------------------
# Built from a copy: pip's in-tree build would leave build/ and *.egg-info in the checkout.
cp -r "$SRC/pyproject.toml" "$SRC/edge" "$WORK/"
[ -f "$SRC/README.md" ] && cp "$SRC/README.md" "$WORK/"
mkdir -p "$WORK/src" && mv "$WORK/pyproject.toml" "$WORK/edge" "$WORK/src/" && { [ -f "$WORK/README.md" ] && mv "$WORK/README.md" "$WORK/src/" || true; }
find "$WORK/src" -name __pycache__ -prune -exec rm -rf {} +
# The wheel is built by a throwaway venv's pip (the system pip may not exist: PEP 668).
"$PYTHON" -m venv "$WORK/build-venv"
# shellcheck disable=SC2086  # PIP_ARGS is a list of words on purpose
"$WORK/build-venv/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps $PIP_ARGS -w "$WORK/dist" "$WORK/src" >"$WORK/pip.log" 2>&1 \
  || { tail -20 "$WORK/pip.log" >&2; die "building the kezek-edge wheel failed (above)"; }
WHEEL="$(ls "$WORK"/dist/kezek_edge-*.whl)"
VERSION="$(basename "$WHEEL" | cut -d- -f2)"
SUM="$(sha256sum "$WHEEL" | cut -d' ' -f1)"
# A wheel's bytes carry timestamps: compare the files inside, not the zip.
CONTENT="$("$PYTHON" - "$WHEEL" <<'PY'
import hashlib, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    h = hashlib.sha256()
    for name in sorted(z.namelist()):
        if name.endswith("/RECORD"):
            continue
        h.update(name.encode()); h.update(z.read(name))
print(h.hexdigest())
PY
)"
CURRENT=""
[ -L "$OPT/venv" ] && CURRENT="$(readlink -f "$OPT/venv")"
if [ -n "$CURRENT" ] && grep -q "\"content\": \"$CONTENT\"" "$CURRENT/.kezek-release.json" 2>/dev/null; then
  say "kezek-edge $VERSION unchanged in $CURRENT"
  NEW="$CURRENT"
else
  NEW="$RELEASES/$VERSION"; n=2
  while [ -e "$NEW" ]; do NEW="$RELEASES/$VERSION-$n"; n=$((n + 1)); done
  "$PYTHON" -m venv "$NEW"
  # shellcheck disable=SC2086
  if ! "$NEW/bin/python" -m pip install --quiet --disable-pip-version-check $PIP_ARGS "$WHEEL[pi]" >"$WORK/pip.log" 2>&1; then
    tail -20 "$WORK/pip.log" >&2; rm -rf "$NEW"
    die "pip could not install kezek-edge and its libraries (above); nothing was switched: the service runs as before"
  fi
  printf '{"version": "%s", "wheel": "%s", "sha256": "%s", "content": "%s", "installed": "%s"}\n' \
    "$VERSION" "$(basename "$WHEEL")" "$SUM" "$CONTENT" "$(date +%Y-%m-%dT%H:%M:%S%z)" > "$NEW/.kezek-release.json"
  changed "installed kezek-edge $VERSION into $NEW"
fi
KEZEK="$NEW/bin/kezek"

# --- the config: checked by the code just installed, [announce] wired, then installed -------
INCOMING="${CONFIG:-$ETC/kezek.toml}"
if ! problems="$("$KEZEK" check-config "$INCOMING" 2>&1)"; then
  echo "$problems" >&2
  [ -n "$CONFIG" ] || die "$ETC/kezek.toml is not valid for kezek $VERSION (problems above); fix it, or pass --config FILE"
  die "--config $CONFIG is not a valid config (problems above); nothing was installed from it: /etc/kezek/kezek.toml, kezek.toml.previous and the service are unchanged. Fix the file, check it with $KEZEK check-config $CONFIG, and run install.sh again"
fi
# The service, `kezek doctor` and `kezek bookings load` must all find one state folder:
# a relative storage.state_dir would be a different folder for each working directory.
state_dir="$("$NEW/bin/python" -c 'import sys; from edge.config import load_config; print(load_config(sys.argv[1]).storage.state_dir)' "$INCOMING")"
case "$state_dir" in
  /*) ;;
  *) die "--config $INCOMING: storage.state_dir = \"$state_dir\" is a relative path; on the box the service and every kezek command must find the same folder: remove the line (the default is /var/lib/kezek) or give an absolute path. Nothing was installed from it." ;;
esac

DEVICE_ARGS=()
if [ -n "$AUDIO" ]; then
  check=(); [ "$IN_IMAGE" = 1 ] && check=(--no-check)
  device="$("$KEZEK" box audio "${check[@]}" "$AUDIO")" || die "--audio $AUDIO: see above; nothing was installed from this run's config"
  DEVICE_ARGS=(--device "$device")
fi
"$KEZEK" box wire-announce "$INCOMING" --out "$WORK/kezek.toml" --clips "$CLIPS" "${DEVICE_ARGS[@]}" > "$WORK/wiring" \
  || die "could not wire [announce] into $INCOMING (above)"
grep -v '^clips:' "$WORK/wiring" | while read -r line; do say "$line"; done

# The clip set: made once with espeak-ng, as the service user; existing clips are kept.
if grep -qx 'clips: wanted' "$WORK/wiring"; then
  out="$(setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups "$KEZEK" clips --out "$CLIPS" 2>&1)" \
    || die "making the clip set in $CLIPS failed: $out"
  case "$out" in
    "wrote 0 clips"*) say "announce: clip set in $CLIPS unchanged" ;;
    *) changed "announce: $(echo "$out" | head -1)" ;;
  esac
fi

SERVICE_BEFORE=$CHANGES
if [ -f "$ETC/kezek.toml" ] && ! cmp -s "$WORK/kezek.toml" "$ETC/kezek.toml" && [ -n "$CONFIG" ]; then
  cp -p "$ETC/kezek.toml" "$ETC/kezek.toml.previous"
  changed "kept the old config as /etc/kezek/kezek.toml.previous"
fi
put "$WORK/kezek.toml" "$ETC/kezek.toml" 0640 "root:$USER_NAME"
if [ ! -f "$ETC/secrets.env" ]; then
  # Read by systemd (as root) before the service starts: root-only, never in the config.
  put_text "$ETC/secrets.env" 0600 <<'TXT'
# Kezek Edge secrets, passed to the service as environment variables (EnvironmentFile=).
# Mode 0600, owner root. One NAME=value per line; no quotes needed. See docs/install.md.
# (Or use systemd credentials instead: docs/install.md, "Secrets".)
#KEZEK_MQTT_PASSWORD=
#KEZEK_IIN_SECRET=
TXT
fi
chown 0:0 "$ETC/secrets.env"; chmod 0600 "$ETC/secrets.env"

# Docs beside the code (the unit's Documentation= points here) and the example configs.
for doc in "$SRC"/docs/*.md; do [ -f "$doc" ] && put "$doc" "$OPT/docs/$(basename "$doc")" 0644; done
for example in "$SRC"/config/*.toml; do [ -f "$example" ] && put "$example" "$OPT/config/$(basename "$example")" 0644; done

# --- unit, udev rule, kezek on PATH ------------------------------------------------------------
put "$SRC/systemd/kezek.service" /etc/systemd/system/kezek.service 0644
put "$SRC/systemd/99-kezek-printers.rules" /etc/udev/rules.d/99-kezek-printers.rules 0644
SERVICE_CHANGED=$((CHANGES - SERVICE_BEFORE))
if [ "$(readlink /usr/local/bin/kezek 2>/dev/null)" != "$OPT/venv/bin/kezek" ]; then
  mkdir -p /usr/local/bin
  ln -sfn "$OPT/venv/bin/kezek" /usr/local/bin/kezek
  changed "kezek is on PATH (/usr/local/bin/kezek -> $OPT/venv/bin/kezek)"
fi

# --- journal: kept across reboots, capped -------------------------------------------------------
sed "s/@MAX@/$JOURNAL_MAX/" "$SRC/systemd/tv/journald.conf" > "$WORK/journald.conf"
before=$CHANGES
put "$WORK/journald.conf" /etc/systemd/journald.conf.d/kezek.conf 0644
if [ ! -d /var/log/journal ]; then
  install -d -m 2755 -g systemd-journal /var/log/journal 2>/dev/null || install -d -m 2755 /var/log/journal
  changed "made /var/log/journal (the journal is kept across reboots, at most $JOURNAL_MAX)"
fi
JOURNAL_CHANGED=$((CHANGES - before))

# --- the TV: a kiosk user, logged in on tty1, Chromium on the hall page --------------------------
TV_CHANGED=0
if [ "$TV" = auto ]; then
  if "$KEZEK" box hall-url "$ETC/kezek.toml" >/dev/null 2>&1; then TV=1; else TV=0; fi
fi
HOME_TV=/home/$TV_USER
if [ "$TV" = 1 ]; then
  url="$("$KEZEK" box hall-url "$ETC/kezek.toml")" || die "--tv: turn the hall on in the config ([hall] enabled = true), or pass --no-tv"
  before=$CHANGES
  if ! id "$TV_USER" >/dev/null 2>&1; then
    extra=""; for g in video render input; do has_group "$g" && extra="$extra,$g"; done
    useradd --create-home --home-dir "$HOME_TV" --shell /bin/bash --user-group \
      ${extra:+--groups "${extra#,}"} --comment "Kezek Edge TV (kiosk)" "$TV_USER"
    record user "$TV_USER"
    changed "created the TV's kiosk user $TV_USER"
  fi
  put_text /etc/kezek/tv.env 0644 <<<"KEZEK_HALL_URL=$url"
  put "$SRC/systemd/tv/kezek-tv-browser" "$LIB/kezek-tv-browser" 0755
  put "$SRC/systemd/tv/autologin.conf" /etc/systemd/system/getty@tty1.service.d/kezek-autologin.conf 0644
  if [ "$TV_SESSION" = labwc ]; then
    session='exec labwc'
    put "$SRC/systemd/tv/labwc-autostart" "$HOME_TV/.config/labwc/autostart" 0644 "$TV_USER:$TV_USER"
    put "$SRC/systemd/tv/labwc-environment" "$HOME_TV/.config/labwc/environment" 0644 "$TV_USER:$TV_USER"
    rm -f "$HOME_TV/.xinitrc"
  else
    session='exec startx -- -nocursor -s 0 -dpms >"$HOME/.cache/kezek-tv-x.log" 2>&1'
    put "$SRC/systemd/tv/xinitrc" "$HOME_TV/.xinitrc" 0755 "$TV_USER:$TV_USER"
    rm -rf "$HOME_TV/.config/labwc"
  fi
  put_text "$HOME_TV/.bash_profile" 0644 "$TV_USER:$TV_USER" <<TXT
# Kezek Edge (written by scripts/install.sh): on the TV's console, the kiosk session.
if [ -z "\${WAYLAND_DISPLAY:-}\${DISPLAY:-}" ] && [ "\$(tty)" = /dev/tty1 ]; then
  mkdir -p "\$HOME/.cache"
  $session
fi
TXT
  # An invisible cursor theme: Wayland has no server option to hide the pointer.
  icons="$HOME_TV/.local/share/icons/kezek-hidden"
  if [ ! -f "$icons/cursors/left_ptr" ]; then
    mkdir -p "$icons/cursors"
    "$PYTHON" - "$icons/cursors/left_ptr" <<'PY'
import struct, sys
# Xcursor: header, one table-of-contents entry, one 1x1 fully transparent image.
image = struct.pack("<9I", 36, 0xFFFD0002, 24, 1, 1, 1, 0, 0, 0) + struct.pack("<I", 0)
data = b"Xcur" + struct.pack("<3I", 16, 0x10000, 1) + struct.pack("<3I", 0xFFFD0002, 24, 28) + image
open(sys.argv[1], "wb").write(data)
PY
    for n in default pointer text xterm hand1 hand2 watch wait progress left_ptr_watch crosshair \
             move grab grabbing col-resize row-resize top_left_arrow arrow; do
      ln -sfn left_ptr "$icons/cursors/$n"
    done
    printf '[Icon Theme]\nName=kezek-hidden\nComment=No visible cursor (Kezek Edge TV)\n' > "$icons/index.theme"
    chown -R "$TV_USER:$TV_USER" "$HOME_TV/.local"
    changed "hid the cursor on the TV (cursor theme kezek-hidden)"
  fi
  # put made the folders as root: the session's programs write there too.
  for d in .config .local .cache; do [ -d "$HOME_TV/$d" ] && chown -R "$TV_USER:$TV_USER" "$HOME_TV/$d"; done
  # A desktop image's login screen would take the TV: the kiosk session replaces it.
  if [ -e /etc/systemd/system/display-manager.service ] && [ "$(systemctl get-default 2>/dev/null)" = graphical.target ]; then
    systemctl set-default multi-user.target >/dev/null 2>&1
    record default-target graphical.target
    changed "the desktop's login screen is off (default target multi-user): the TV shows the hall page"
  fi
  # No blanking of the text console before the session starts (the Pi's kernel line).
  for cmdline in /boot/firmware/cmdline.txt /boot/cmdline.txt; do
    if [ -f "$cmdline" ]; then
      if ! grep -qw 'consoleblank=0' "$cmdline"; then
        sed -i '1 s/$/ consoleblank=0/' "$cmdline"; record cmdline consoleblank=0
        changed "added consoleblank=0 to $cmdline"
      fi
      break
    fi
  done
  TV_CHANGED=$((CHANGES - before))
  [ "$TV_CHANGED" = 0 ] && say "TV: $TV_SESSION kiosk session for $TV_USER on tty1 showing $url (unchanged)"
else
  if [ -e /etc/systemd/system/getty@tty1.service.d/kezek-autologin.conf ]; then
    rm -f /etc/systemd/system/getty@tty1.service.d/kezek-autologin.conf "$HOME_TV/.bash_profile"
    rmdir /etc/systemd/system/getty@tty1.service.d 2>/dev/null || true
    TV_CHANGED=1
    changed "TV off: $TV_USER is no longer logged in on tty1 (the user is removed by uninstall.sh --purge)"
  fi
fi

# --- time sync ---------------------------------------------------------------------------------
if [ -n "$TIME_DAEMON" ]; then
  say "time: synchronized by $TIME_DAEMON (already installed)"
elif [ "$USE_SYSTEMCTL" = 1 ]; then
  if ! systemctl is-enabled --quiet systemd-timesyncd 2>/dev/null; then
    systemctl enable --now systemd-timesyncd >/dev/null 2>&1 && changed "time: systemd-timesyncd enabled"
  fi
  timedatectl set-ntp true 2>/dev/null || true
else
  if ! systemctl is-enabled --quiet systemd-timesyncd 2>/dev/null; then
    systemctl enable systemd-timesyncd >/dev/null 2>&1 && changed "time: systemd-timesyncd enabled for the next boot"
  fi
  say "time: systemd-timesyncd is enabled; whether the clock is synchronized is checked on the box (kezek doctor: clock)"
fi
if [ "$USE_SYSTEMCTL" = 1 ]; then
  synced="$(timedatectl show -p NTPSynchronized --value 2>/dev/null || echo no)"
  if [ "$synced" = yes ]; then
    say "time: the clock is synchronized ($(date '+%Y-%m-%d %H:%M %Z'))"
  else
    say "time: NOT synchronized yet (the Pi has no clock battery): check the network; timedatectl timesync-status shows why. The queue works meanwhile; events say clock_synced=false"
  fi
fi

# --- the service: switch to the new release, (re)start --------------------------------------------
{ echo "# Kezek Edge: the choices install.sh made; a later run keeps them unless told otherwise."
  echo "SAVED_AUDIO='$AUDIO'"; echo "SAVED_TV='$TV'"; echo "SAVED_TV_SESSION='$TV_SESSION'"
  echo "SAVED_JOURNAL_MAX='$JOURNAL_MAX'"; } > "$WORK/install.conf"
put "$WORK/install.conf" "$SETTINGS" 0644 >/dev/null

if [ "$USE_SYSTEMCTL" = 1 ]; then
  systemctl daemon-reload
  if command -v udevadm >/dev/null; then
    udevadm control --reload-rules
    udevadm trigger --subsystem-match=usb --action=change
  fi
  systemctl enable --quiet kezek.service
  [ "$JOURNAL_CHANGED" != 0 ] && { systemctl restart systemd-journald 2>/dev/null || true; }
  [ "$TV_CHANGED" != 0 ] && { systemctl restart getty@tty1.service 2>/dev/null || true; }
else
  systemctl enable --quiet kezek.service >/dev/null 2>&1 || {
    mkdir -p /etc/systemd/system/multi-user.target.wants
    ln -sfn /etc/systemd/system/kezek.service /etc/systemd/system/multi-user.target.wants/kezek.service; }
fi

if [ "$NEW" != "$CURRENT" ]; then
  if [ -n "$CURRENT" ] && [ "$USE_SYSTEMCTL" = 1 ] && [ "$START" = 1 ] && systemctl is-active --quiet kezek.service; then
    # The running service is updated as `kezek update` does: back by itself if not ready.
    "$KEZEK" update --release "$NEW" --config "$ETC/kezek.toml" \
      || die "kezek $VERSION did not start; the previous version runs again (kezek update --show)"
    CHANGES=$((CHANGES + 1))
  else
    if [ -d "$OPT/venv" ] && [ ! -L "$OPT/venv" ]; then
      rm -rf "$OPT/venv"   # the single venv of an older install.sh
      changed "replaced the old $OPT/venv folder by releases"
    fi
    ln -sfn "releases/$(basename "$NEW")" "$OPT/venv.new" && mv -T "$OPT/venv.new" "$OPT/venv"
    changed "kezek-edge $VERSION is the release in service ($OPT/venv -> releases/$(basename "$NEW"))"
    if [ "$USE_SYSTEMCTL" = 1 ] && [ "$START" = 1 ]; then
      systemctl restart kezek.service
      say "kezek.service (re)started; see: systemctl status kezek, kezek status"
    fi
  fi
elif [ "$USE_SYSTEMCTL" = 1 ] && [ "$START" = 1 ] && [ "$SERVICE_CHANGED" -gt 0 ] && systemctl is-active --quiet kezek.service; then
  systemctl restart kezek.service
  say "kezek.service restarted (its config or unit changed)"
elif [ "$USE_SYSTEMCTL" = 1 ] && [ "$START" = 1 ] && ! systemctl is-active --quiet kezek.service; then
  systemctl start kezek.service
  say "kezek.service started"
fi
# Keep the release in service and the one before it; older ones go.
keep="$(readlink -f "$OPT/venv")"
{ ls -1dt "$RELEASES"/*/ 2>/dev/null || true; } | sed 's:/$::' | { grep -vxF "$keep" || true; } | tail -n +2 \
  | while read -r old; do rm -rf "$old"; say "removed the old release $old"; done

if [ "$CHANGES" = 0 ]; then
  say "nothing to change: the box is as this install.sh sets it up"
else
  say "done ($CHANGES changes). Check the hardware with: sudo -u kezek kezek doctor --config /etc/kezek/kezek.toml"
fi
