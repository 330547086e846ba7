#!/usr/bin/env bash
# Installs everything One-Stop Monitor needs on a fresh Debian 12 / Raspberry Pi OS (Bookworm) machine:
# Debian packages (Mosquitto, the Python venv module), a virtual environment at .venv/ and the package
# with its extras. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the browser tests drive Debian's Chromium through Playwright (no browser is downloaded).
# victoria-metrics: speaks the InfluxDB v2 write API; the tests of the hub's InfluxDB sink write to it and read back.
# fonts-dejavu-core: the Vietnamese font embedded in PDF reports; poppler-utils: the tests render their pages.
# postgresql: the record for several hub workers; the tests start a private server (devtools/postgres.py).
APT_PACKAGES=(mosquitto python3-venv python3-dev gcc chromium victoria-metrics fonts-dejavu-core poppler-utils espeak-ng
  postgresql systemd)  # systemd: systemd-analyze verify for the shipped units (tests/integration/test_deploy.py)
EXTRAS="${ONESTOP_EXTRAS:-hub,edge,dev}"

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The broker is started by the demo and the tests with their own configuration: a system-wide
# Mosquitto on port 1883 is neither needed nor touched.

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml | sha1sum | cut -c1-12)-$EXTRAS
if [ ! -f "$stamp" ]; then
  echo "setup: installing onestop-monitor[$EXTRAS] into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[$EXTRAS]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
