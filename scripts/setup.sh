#!/usr/bin/env bash
# Creates .venv with Kezek Edge and its test tools; installs missing Debian packages when allowed.
# Usage: scripts/setup.sh [--test]    (--test also installs what the test suite needs)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

# Debian packages: the runtime needs venv + a font with Kazakh glyphs; the tests also
# need a real MQTT broker, a browser for the hall page, espeak-ng and aplay for the clip
# set and the speaker, systemd-analyze for the unit check, and PostgreSQL for central.
debs=(python3-venv fonts-dejavu-core libusb-1.0-0)
# The demo speaks its calls with these (espeak-ng makes the clip set, aplay plays it); it
# runs without them, so they are installed when allowed and otherwise only named.
optional=(espeak-ng alsa-utils)
if [ "$want_test" = 1 ]; then
  debs+=(mosquitto chromium espeak-ng systemd alsa-utils postgresql)
  optional=()
fi

have_cmd() { command -v "$1" >/dev/null 2>&1; }
libs_have() {
  local libs
  libs=$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true)
  [[ "$libs" == *"$1"* ]]
}
is_missing() {
  case "$1" in
    python3-venv) ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1 ;;
    fonts-dejavu-core) [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] ;;
    # Not `ldconfig -p | grep -q`: grep stops at the first match, ldconfig dies of SIGPIPE
    # and under pipefail the pipeline reads as failed: "missing" although installed.
    libusb-1.0-0) ! libs_have "libusb-1.0.so" ;;
    mosquitto) ! have_cmd mosquitto && [ ! -x /usr/sbin/mosquitto ] ;;
    chromium) ! have_cmd chromium ;;
    espeak-ng) ! have_cmd espeak-ng ;;
    systemd) ! have_cmd systemd-analyze ;;
    alsa-utils) ! have_cmd aplay ;;
    # The tests start their own server (initdb, pg_ctl), never the machine's service.
    postgresql) ! compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null ;;
    *) echo "setup: no check for $1" >&2; exit 2 ;;
  esac
}
missing=()
for pkg in "${debs[@]}"; do is_missing "$pkg" && missing+=("$pkg"); done
missing_optional=()
for pkg in "${optional[@]}"; do is_missing "$pkg" && missing_optional+=("$pkg"); done
wanted=("${missing[@]}" "${missing_optional[@]}")

if [ "${#wanted[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && have_cmd apt-get; then
    echo "setup: installing Debian packages: ${wanted[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
  elif have_cmd sudo && sudo -n true 2>/dev/null; then
    echo "setup: installing Debian packages with sudo: ${wanted[*]}"
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
  else
    # The same command as above, whole: a fresh machine's package lists can be missing or
    # old (then install alone fails), and a plain Debian often has no sudo at all.
    say_install() {
      echo "  apt-get update && apt-get install -y --no-install-recommends ${wanted[*]}"
      if have_cmd sudo; then
        echo "setup: (or with sudo: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${wanted[*]})"
      fi
    }
    if [ "${#missing[@]}" -gt 0 ]; then
      {
        echo "setup: these Debian packages are missing: ${wanted[*]}"
        echo "setup: install them as root, then run this again:"
        say_install
      } >&2
      exit 1
    fi
    echo "setup: the demo will not speak its calls: ${wanted[*]} not installed. To hear them, run as root:"
    say_install
  fi
fi

py=${PYTHON:-python3}
if ! "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "setup: Kezek Edge needs Python 3.11 or newer; $("$py" --version 2>&1) found" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$py" -m venv .venv
extras=""
[ "$want_test" = 1 ] && extras="[test]"

# pip is asked only when something changed: a second run needs no network and takes no
# time. What was installed is recorded in the venv (pyproject.toml's hash, the extras);
# an editable install already follows every change to the code itself.
stamp=.venv/kezek-setup.stamp
project_hash=$(sha256sum pyproject.toml | cut -d' ' -f1)
installed_ok() {
  [ -f "$stamp" ] && [ -x .venv/bin/kezek ] || return 1
  local hash have
  read -r hash have <"$stamp" || return 1
  [ "$hash" = "$project_hash" ] || return 1
  # A venv with the test tools also serves the demo; not the other way round.
  [ -z "$extras" ] || [ "$have" = "[test]" ]
}
if installed_ok; then
  exit 0
fi
rm -f "$stamp"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
echo "$project_hash ${extras:-[]}" >"$stamp"
