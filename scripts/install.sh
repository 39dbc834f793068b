#!/usr/bin/env bash
# Install or update Kezek Edge as a systemd service on Raspberry Pi OS Bookworm.
# Safe to run again: it updates the code and keeps the config, the secrets and the data.
# See docs/install.md.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: sudo scripts/install.sh [--config FILE] [options]

  --config FILE     the center's config, installed as /etc/kezek/kezek.toml (needed on
                    the first install; a later one replaces the file, keeping the old one
                    as kezek.toml.previous). Checked first with `kezek check-config`: an
                    invalid file is refused and nothing in /etc/kezek changes
  --root DIR        install into DIR instead of / (an image, a test tree); implies
                    --no-systemctl except for `systemctl --root enable`. DESTDIR works too.
  --no-systemctl    do not reload, enable or start anything (also automatic when the
                    machine was not booted with systemd)
  --no-start        enable the unit but do not (re)start it now
  --python PATH     the Python 3.11+ to build the venv with (default /usr/bin/python3)
  --pip-args "ARGS" extra pip arguments, e.g. "--no-index --find-links /media/usb/wheels"
  -h, --help        this text
TXT
}

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="${DESTDIR:-}"
CONFIG=""
USE_SYSTEMCTL=1
START=1
PYTHON=/usr/bin/python3
PIP_ARGS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --config) CONFIG="$2"; shift 2 ;;
    --root) ROOT="$2"; shift 2 ;;
    --no-systemctl) USE_SYSTEMCTL=0; shift ;;
    --no-start) START=0; shift ;;
    --python) PYTHON="$2"; shift 2 ;;
    --pip-args) PIP_ARGS="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

ROOT="${ROOT%/}"
if [ -n "$ROOT" ]; then
  ROOT="$(cd "$ROOT" && pwd)"
  USE_SYSTEMCTL=0
fi
if [ "$USE_SYSTEMCTL" = 1 ] && [ ! -d /run/systemd/system ]; then
  echo "note: not booted with systemd; the unit is installed but not started"
  USE_SYSTEMCTL=0
fi

USER_NAME=kezek
# audio: ALSA's /dev/snd/* (the speaker for announcements) belong to group audio.
GROUPS_WANTED="gpio dialout lp audio"
OPT="$ROOT/opt/kezek"
VENV="$OPT/venv"
ETC="$ROOT/etc/kezek"
UNIT_DIR="$ROOT/etc/systemd/system"
UDEV_DIR="$ROOT/etc/udev/rules.d"

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "kezek install: $*"; }

[ "$(id -u)" = 0 ] || die "run it as root (sudo scripts/install.sh ...): it creates a system user"
[ -f "$SRC/pyproject.toml" ] || die "$SRC does not look like the Kezek Edge source tree"
[ -x "$PYTHON" ] || command -v "$PYTHON" >/dev/null || die "no Python at $PYTHON (apt install python3 python3-venv)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$PYTHON is older than 3.11; Raspberry Pi OS Bookworm ships 3.11"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
  || die "$PYTHON cannot build a venv: apt install python3-venv"
if [ -n "$CONFIG" ]; then
  [ -f "$CONFIG" ] || die "--config $CONFIG: no such file"
elif [ ! -f "$ETC/kezek.toml" ]; then
  die "first install: pass --config FILE with the center's config (start from $SRC/config/demo.toml)"
fi

# --- user and groups ----------------------------------------------------------------
# With --root the account databases inside ROOT are edited (useradd --prefix), not ours.
PREFIX_ARGS=()
if [ -n "$ROOT" ]; then
  [ -f "$ROOT/etc/passwd" ] && [ -f "$ROOT/etc/group" ] \
    || die "--root $ROOT: needs etc/passwd and etc/group (a debootstrap'd tree or a copy of /etc)"
  PREFIX_ARGS=(--prefix "$ROOT")
fi
has_group() { grep -q "^$1:" "$ROOT/etc/group"; }
has_user() { grep -q "^$1:" "$ROOT/etc/passwd"; }
gid_of() { awk -F: -v n="$1" '$1 == n { print $3 }' "$ROOT/etc/group"; }
uid_of() { awk -F: -v n="$1" '$1 == n { print $3 }' "$ROOT/etc/passwd"; }

for g in $GROUPS_WANTED; do
  # Raspberry Pi OS has them all; a plain Debian has no gpio group until created.
  has_group "$g" || { groupadd "${PREFIX_ARGS[@]}" --system "$g"; say "created group $g"; }
done
has_group "$USER_NAME" || groupadd "${PREFIX_ARGS[@]}" --system "$USER_NAME"
in_group() { awk -F: -v g="$1" -v u="$2" '$1 == g { n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) f = 1 } END { exit !f }' "$ROOT/etc/group"; }
if has_user "$USER_NAME"; then
  for g in $GROUPS_WANTED; do
    in_group "$g" "$USER_NAME" || { usermod "${PREFIX_ARGS[@]}" --append --groups "$g" "$USER_NAME"; say "added $USER_NAME to group $g"; }
  done
else
  useradd "${PREFIX_ARGS[@]}" --system --gid "$USER_NAME" --groups "${GROUPS_WANTED// /,}" \
    --home-dir /var/lib/kezek --no-create-home --shell /usr/sbin/nologin \
    --comment "Kezek Edge queue controller" "$USER_NAME"
  say "created system user $USER_NAME"
fi
KEZEK_GID="$(gid_of "$USER_NAME")"

# --- files ----------------------------------------------------------------------------
# put SRC DST MODE [GROUP]: copy only when the content differs (a re-run changes nothing),
# then set mode and owner every time (a hand-edited mode is put right).
put() {
  local src="$1" dst="$2" mode="$3" group="${4:-0}"
  mkdir -p "$(dirname "$dst")"
  if ! cmp -s "$src" "$dst"; then
    cp "$src" "$dst.tmp.$$" && mv -f "$dst.tmp.$$" "$dst"
    say "wrote ${dst#"$ROOT"}"
  fi
  chown "0:$group" "$dst"
  chmod "$mode" "$dst"
}

install -d -m 0755 "$OPT" "$ROOT/etc" "$UNIT_DIR" "$UDEV_DIR"
install -d -m 0755 -o 0 -g 0 "$ETC"

# --- the venv (PEP 668: never pip into the system Python) ------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  say "created venv ${VENV#"$ROOT"}"
fi
# Build from a copy: pip's in-tree build would leave build/ and *.egg-info in the checkout.
BUILD="$(mktemp -d)"
trap 'rm -rf "$BUILD"' EXIT
cp -r "$SRC/pyproject.toml" "$SRC/edge" "$BUILD/"
[ -f "$SRC/README.md" ] && cp "$SRC/README.md" "$BUILD/"
find "$BUILD" -name __pycache__ -prune -exec rm -rf {} +
# shellcheck disable=SC2086  # PIP_ARGS is a list of words on purpose
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade $PIP_ARGS "$BUILD[pi]"
# pip records the temporary build path; it means nothing once the directory is gone.
for record in "$VENV"/lib/python3*/site-packages/kezek_edge-*.dist-info/RECORD; do
  rm -f "$(dirname "$record")/direct_url.json"
  sed -i '/direct_url\.json/d' "$record"
done
say "installed kezek-edge $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("kezek-edge"))') into ${VENV#"$ROOT"}"

# --- check the new config with the code just installed -------------------------------------
# Before anything in /etc/kezek or the service is touched: an invalid file would make the
# service exit 78 at once, and a second bad try would overwrite kezek.toml.previous.
if [ -n "$CONFIG" ]; then
  if ! problems="$("$VENV/bin/kezek" check-config "$CONFIG" 2>&1)"; then
    echo "$problems" >&2
    die "--config $CONFIG is not a valid config (problems above); nothing was installed from it: /etc/kezek/kezek.toml, kezek.toml.previous and the service are unchanged. Fix the file, check it with ${VENV#"$ROOT"}/bin/kezek check-config $CONFIG, and run install.sh again"
  fi
  say "$problems"
  # The service, `kezek doctor` and `kezek bookings load` must all find one state folder:
  # a relative storage.state_dir would be a different folder for each working directory.
  state_dir="$("$VENV/bin/python" -c 'import sys; from edge.config import load_config; print(load_config(sys.argv[1]).storage.state_dir)' "$CONFIG")"
  case "$state_dir" in
    /*) ;;
    *) die "--config $CONFIG: storage.state_dir = \"$state_dir\" is a relative path; on the box the service and every kezek command must find the same folder: remove the line (the default is /var/lib/kezek) or give an absolute path. Nothing was installed from it." ;;
  esac
fi

# Docs beside the code: the unit's Documentation= points here.
for doc in "$SRC"/docs/*.md; do
  [ -f "$doc" ] && put "$doc" "$OPT/docs/$(basename "$doc")" 0644
done
# The example configs: `kezek demo` on the box runs config/demo.toml from here, and they
# are the starting point for the center's own file.
for example in "$SRC"/config/*.toml; do
  [ -f "$example" ] && put "$example" "$OPT/config/$(basename "$example")" 0644
done

# --- config and secrets -------------------------------------------------------------------
if [ -n "$CONFIG" ]; then
  if [ -f "$ETC/kezek.toml" ] && ! cmp -s "$CONFIG" "$ETC/kezek.toml"; then
    cp -p "$ETC/kezek.toml" "$ETC/kezek.toml.previous"
    say "kept the old config as /etc/kezek/kezek.toml.previous"
  fi
  put "$CONFIG" "$ETC/kezek.toml" 0640 "$KEZEK_GID"
else
  chown "0:$KEZEK_GID" "$ETC/kezek.toml"; chmod 0640 "$ETC/kezek.toml"
  say "kept /etc/kezek/kezek.toml"
fi
if [ ! -f "$ETC/secrets.env" ]; then
  # Read by systemd (as root) before the service starts: root-only, never in the config.
  umask 077
  cat > "$ETC/secrets.env" <<'TXT'
# Kezek Edge secrets, passed to the service as environment variables (EnvironmentFile=).
# Mode 0600, owner root. One NAME=value per line; no quotes needed. See docs/install.md.
# (Or use systemd credentials instead: docs/install.md, "Secrets".)
#KEZEK_MQTT_PASSWORD=
#KEZEK_IIN_SECRET=
TXT
  umask 022
  say "wrote /etc/kezek/secrets.env (fill in the MQTT password and keys)"
fi
chown 0:0 "$ETC/secrets.env"
chmod 0600 "$ETC/secrets.env"

# --- systemd unit and udev rule --------------------------------------------------------------
put "$SRC/systemd/kezek.service" "$UNIT_DIR/kezek.service" 0644
put "$SRC/systemd/99-kezek-printers.rules" "$UDEV_DIR/99-kezek-printers.rules" 0644

if [ "$USE_SYSTEMCTL" = 1 ]; then
  systemctl daemon-reload
  if command -v udevadm >/dev/null; then
    udevadm control --reload-rules
    udevadm trigger --subsystem-match=usb --action=change
  fi
  systemctl enable kezek.service
  if [ "$START" = 1 ]; then
    systemctl restart kezek.service
    say "kezek.service (re)started; see: systemctl status kezek, kezek status"
  fi
else
  # Enabling is only a symlink: do it in the tree so the unit starts on the next boot.
  wants="$UNIT_DIR/multi-user.target.wants"
  mkdir -p "$wants"
  ln -sfn /etc/systemd/system/kezek.service "$wants/kezek.service"
  say "kezek.service enabled for the next boot (systemctl not used)"
fi
say "done. Check the hardware with: sudo -u kezek /opt/kezek/venv/bin/kezek doctor --config /etc/kezek/kezek.toml"
