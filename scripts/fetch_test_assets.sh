#!/usr/bin/env bash
# Fetch the third-party test images and video the camera tests and the evaluation set read.
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

fetch_wheel() {
    if [[ -s "${WHEEL}" ]] && "${PYTHON}" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).testzip()" "${WHEEL}"; then
        echo "test assets present: ${WHEEL}"
        return
    fi
    mkdir -p "${DEST}"
    # pip's own download keeps registry settings (index, proxy) as configured on this machine.
    "${PYTHON}" -m pip download --no-deps --only-binary=:all: --disable-pip-version-check --quiet \
        "ultralytics==${ULTRALYTICS_VERSION}" -d "${DEST}"
    test -s "${WHEEL}" || { echo "expected ${WHEEL} after pip download" >&2; exit 1; }
    echo "test assets fetched: ${WHEEL}"
}

# The real-footage evaluation set (models/eval/) reads the sample photos and the pedestrian clip vtest.avi
# of Debian's opencv-doc package (Apache-2.0 AND BSD-3-Clause). Only examples/data/ is unpacked, into
# .cache/test-assets/opencv-doc/ (git-ignored); the .deb itself is deleted afterwards.
fetch_opencv_doc() {
    local data="${OPENCV_DOC_DIR}/usr/share/doc/opencv-doc/examples/data"
    if [[ -s "${data}/vtest.avi" && -s "${OPENCV_DOC_DIR}/VERSION" ]] \
        && [[ "$(cat "${OPENCV_DOC_DIR}/VERSION")" == "${OPENCV_DOC_VERSION}" ]]; then
        echo "test assets present: ${data}"
        return
    fi
    local work
    work="$(mktemp -d)"
    chmod 755 "${work}"  # apt's sandbox user must be able to write the .deb here
    (cd "${work}" && apt-get download -q "opencv-doc=${OPENCV_DOC_VERSION}") \
        || { echo "cannot download opencv-doc ${OPENCV_DOC_VERSION} (run apt-get update?)" >&2; exit 1; }
    rm -rf "${OPENCV_DOC_DIR}"
    mkdir -p "${OPENCV_DOC_DIR}"
    dpkg-deb --fsys-tarfile "${work}"/opencv-doc_*.deb \
        | tar -x -C "${OPENCV_DOC_DIR}" ./usr/share/doc/opencv-doc/examples/data ./usr/share/doc/opencv-doc/copyright
    rm -rf "${work}"
    echo "${OPENCV_DOC_VERSION}" > "${OPENCV_DOC_DIR}/VERSION"
    echo "test assets fetched: ${data}"
}

# More photos of the evaluation set ship inside PyPI packages' archives; like the ultralytics wheel they are
# downloaded once into .cache/test-assets/ and read from the archive in place (models/eval/evaluate.py).
# The platform-specific wheels are asked for by platform, so any host can fetch the same file.
fetch_archive() {
    local requirement="$1" file="$2"
    shift 2
    if [[ -s "${DEST}/${file}" ]]; then
        echo "test assets present: ${DEST}/${file}"
        return
    fi
    mkdir -p "${DEST}"
    "${PYTHON}" -m pip download --no-deps --disable-pip-version-check --quiet "$@" "${requirement}" -d "${DEST}"
    test -s "${DEST}/${file}" || { echo "expected ${DEST}/${file} after pip download" >&2; exit 1; }
    echo "test assets fetched: ${DEST}/${file}"
}

PLATFORM_WHEEL=(--only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp)

OPENCV_DOC_VERSION="4.6.0+dfsg-12"
OPENCV_DOC_DIR="${DEST}/opencv-doc"
fetch_wheel
fetch_opencv_doc
fetch_archive "matplotlib==3.11.2" matplotlib-3.11.2-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl \
    "${PLATFORM_WHEEL[@]}"
fetch_archive "mahotas==1.4.18" mahotas-1.4.18-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl \
    "${PLATFORM_WHEEL[@]}"
fetch_archive "scikit-learn==1.7.2" scikit_learn-1.7.2-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl \
    "${PLATFORM_WHEEL[@]}"
fetch_archive "insightface==2.1" insightface-2.1.tar.gz --no-binary=:all:
