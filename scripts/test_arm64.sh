#!/usr/bin/env bash
# make test-arm64: the edge on the Raspberry Pi's architecture (arm64), under qemu-user emulation.
#
# 1. An arm64 Debian bookworm root made with Debian's own debootstrap (into .cache/arm64-bookworm/, kept
#    between runs), executed through qemu-user-static and binfmt-support.
# 2. The edge installed in it as docs/install-edge.md says (a venv, `pip install ".[edge]"`), from the aarch64
#    wheels of PyPI (downloaded on the host with pip's --platform, then installed offline inside the root).
# 3. Inside the root: the edge's config check, the agent's sensors with gpiozero's mock pins, and each model
#    on one real frame; the outputs are compared with the same run on the host (x86) within a stated
#    tolerance (scripts/arm64_check.py).
#
# A correctness check only: emulated speed says nothing about a Pi's.
# Needs root (debootstrap, chroot, binfmt). Usage: scripts/test_arm64.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${ROOT}/.cache"
ROOTFS="${ARM64_ROOTFS:-${CACHE}/arm64-bookworm}"
WHEELS="${CACHE}/arm64-wheels"
PY="${ROOT}/.venv/bin/python"
# The Debian mirror the host's apt uses (so that the script names no host of its own).
MIRROR="$(sed -n 's/^URIs: *\(\S*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
MIRROR="${MIRROR:-$(awk '/^deb / && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)}"
[[ -n "${MIRROR}" ]] || { echo "no Debian mirror found in the host's apt sources" >&2; exit 1; }

# Debian's own tools, installed here rather than by scripts/setup.sh: only this target needs them.
if ! command -v debootstrap >/dev/null || ! command -v qemu-aarch64-static >/dev/null \
    || ! command -v update-binfmts >/dev/null; then
    apt-get install -y -q debootstrap qemu-user-static binfmt-support
fi
if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
[[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] || { echo "binfmt handler qemu-aarch64 is not registered" >&2; exit 1; }

if [[ ! -x "${ROOTFS}/usr/bin/python3" ]]; then
    echo "== debootstrap arm64 bookworm into ${ROOTFS} (several minutes under emulation)"
    rm -rf "${ROOTFS}"
    debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "${ROOTFS}" "${MIRROR}"
fi

echo "== aarch64 wheels for Python 3.11 (downloaded on the host)"
mkdir -p "${WHEELS}"
"${PY}" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 --platform manylinux_2_17_aarch64 \
    --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none \
    -d "${WHEELS}" -r <("${PY}" - "${ROOT}/pyproject.toml" <<'PYEOF'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["edge"] + ["setuptools>=68", "wheel"]))
PYEOF
)
ls "${WHEELS}"/onnxruntime-*aarch64*.whl "${WHEELS}"/opencv_python_headless-*aarch64*.whl >/dev/null

echo "== the project and its test frame into the root"
rm -rf "${ROOTFS}/opt/onestop"
mkdir -p "${ROOTFS}/opt/onestop/src" "${ROOTFS}/opt/onestop/wheels" "${ROOTFS}/opt/onestop/check"
git -C "${ROOT}" ls-files -z | grep -z -v -E '^(tests|docs|dashboards|bench)/' \
    | (cd "${ROOT}" && xargs -0 cp --parents -t "${ROOTFS}/opt/onestop/src")
cp "${ROOT}/scripts/arm64_check.py" "${ROOTFS}/opt/onestop/src/scripts/"  # also before it is committed
cp "${WHEELS}"/*.whl "${ROOTFS}/opt/onestop/wheels/"
"${PY}" "${ROOT}/scripts/arm64_check.py" --write-inputs "${ROOTFS}/opt/onestop/check"

mountpoint -q "${ROOTFS}/proc" || mount -t proc proc "${ROOTFS}/proc"
# No /sys: with the host's sysfs, onnxruntime's cpuinfo reads x86 CPU details under emulation and crashes;
# without it, it warns that it cannot list the CPUs and runs.
trap 'umount "${ROOTFS}/proc" 2>/dev/null || true' EXIT

in_root() {  # a clean environment: the host's pip settings name paths that do not exist in the root
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        chroot "${ROOTFS}" /bin/sh -ec "$1"
}

echo "== install the edge as docs/install-edge.md says (venv, pip install \".[edge]\"), offline from the wheels"
in_root '
    cd /opt/onestop/src
    python3 -m venv --system-site-packages /opt/onestop/.venv
    /opt/onestop/.venv/bin/pip install --quiet --no-index --find-links /opt/onestop/wheels ".[edge]"
    /opt/onestop/.venv/bin/python -c "import platform; print(\"arm64 root:\", platform.machine())"
'

echo "== each model on one real frame, the agent's config check and mock pins (arm64, emulated)"
in_root '
    cd /opt/onestop/src
    GPIOZERO_PIN_FACTORY=mock /opt/onestop/.venv/bin/python scripts/arm64_check.py --run /opt/onestop/check arm64.json
'
echo "== the same on this host (x86-64) and the comparison"
"${PY}" "${ROOT}/scripts/arm64_check.py" --run "${ROOTFS}/opt/onestop/check" x86.json
"${PY}" "${ROOT}/scripts/arm64_check.py" --compare "${ROOTFS}/opt/onestop/check"
