#!/usr/bin/env bash
# Fetch the third-party test images the camera tests read.
#
# bus.jpg and zidane.jpg ship only inside the ultralytics wheel (AGPL-3.0). They are never copied into this
# repository: the tests read them straight out of the wheel zip (tests/edge/camera/conftest.py). The wheel is
# downloaded once into .cache/test-assets/ (git-ignored); later runs skip the download.
#
# Usage: scripts/fetch_test_assets.sh [PYTHON]   (default: .venv/bin/python if present, else python3)
set -euo pipefail

ULTRALYTICS_VERSION="8.4.190"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${ROOT}/.cache/test-assets"
WHEEL="${DEST}/ultralytics-${ULTRALYTICS_VERSION}-py3-none-any.whl"

if [[ $# -ge 1 ]]; then
    PYTHON="$1"
elif [[ -x "${ROOT}/.venv/bin/python" ]]; then
    PYTHON="${ROOT}/.venv/bin/python"
else
    PYTHON="python3"
fi

if [[ -s "${WHEEL}" ]] && "${PYTHON}" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).testzip()" "${WHEEL}"; then
    echo "test assets present: ${WHEEL}"
    exit 0
fi

mkdir -p "${DEST}"
# pip's own download keeps registry settings (index, proxy) as configured on this machine.
"${PYTHON}" -m pip download --no-deps --only-binary=:all: --disable-pip-version-check --quiet \
    "ultralytics==${ULTRALYTICS_VERSION}" -d "${DEST}"
test -s "${WHEEL}" || { echo "expected ${WHEEL} after pip download" >&2; exit 1; }
echo "test assets fetched: ${WHEEL}"
