#!/usr/bin/env bash
# make test-arm64: the edge on the Raspberry Pi's architecture (arm64), under qemu-user emulation.
#
# 1. An arm64 Debian bookworm root made with Debian's own debootstrap (into .cache/arm64-bookworm/, kept
#    between runs; ARM64_ROOTFS=… puts it elsewhere), executed through qemu-user-static and binfmt-support.
# 2. The edge installed in it by the commands of docs/install-edge.md, section 1, read from that page and run
#    as they stand (apt-get, the onestop user, git clone, the venv, `pip install -e ".[edge]"` from PyPI's
#    aarch64 wheels), then the configuration check of section 2. Two substitutions, both printed: the clone
#    comes from a bundle of this working tree, and python3-lgpio is left out of the apt-get line (it is in
#    Raspberry Pi OS's archive, not Debian's).
# 3. Inside the root: each model on one real frame and the desk agent of the example configuration on
#    gpiozero's mock pins; the model outputs are compared with the same run on this host (x86-64) within a
#    stated tolerance (scripts/arm64_check.py).
#
# A correctness check only: emulated speed says nothing about a Pi's. Needs root (debootstrap, chroot) and a
# kernel that lets it register qemu-aarch64 with binfmt_misc (a privileged host or VM); where it cannot, it
# fails and says why, it never passes without having run. Usage: scripts/test_arm64.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOTFS="${ARM64_ROOTFS:-${ROOT}/.cache/arm64-bookworm}"
PY="${ROOT}/.venv/bin/python"
DOC="${ROOT}/docs/install-edge.md"
STAGE=/var/tmp/onestop-arm64  # inside the root: the repository bundle, the check's inputs and outputs

fail() { echo "test-arm64: FAILED: $*" >&2; exit 1; }
step() { echo "== [$(date -u +%H:%M:%S), ${SECONDS} s] $*"; }

if [[ "$(id -u)" -ne 0 ]]; then  # as scripts/setup.sh does: root through sudo
    command -v sudo >/dev/null || fail "needs root (debootstrap, chroot, binfmt_misc) and there is no sudo"
    exec sudo --preserve-env=ARM64_ROOTFS,PIP_INDEX_URL "$0" "$@"
fi

# The Debian mirror the host's apt uses (so that the script names no host of its own).
MIRROR="$(sed -n 's/^URIs: *\(\S*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
MIRROR="${MIRROR:-$(awk '/^deb / && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)}"
[[ -n "${MIRROR}" ]] || fail "no Debian mirror found in the host's apt sources"

step "Debian's tools: debootstrap, qemu-user-static, binfmt-support"
# Installed here rather than by scripts/setup.sh: only this target needs them.
if ! command -v debootstrap >/dev/null || ! command -v qemu-aarch64-static >/dev/null \
    || ! command -v update-binfmts >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap qemu-user-static binfmt-support
fi
if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
        || fail "cannot mount binfmt_misc: this host cannot run arm64 binaries (an unprivileged container?)"
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
[[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] \
    || fail "the binfmt handler qemu-aarch64 is not registered (update-binfmts --enable qemu-aarch64 failed)"

if [[ ! -e "${ROOTFS}/.debootstrap-complete" ]]; then
    step "debootstrap arm64 bookworm into ${ROOTFS} (several minutes under emulation)"
    rm -rf "${ROOTFS}"
    # python3 and sudo: Raspberry Pi OS has both, Debian's minimal root does not.
    debootstrap --arch=arm64 --variant=minbase --include=python3,sudo,ca-certificates \
        bookworm "${ROOTFS}" "${MIRROR}"
    touch "${ROOTFS}/.debootstrap-complete"  # an interrupted debootstrap is started again, not reused
else
    step "arm64 root kept from an earlier run: ${ROOTFS} (delete it for a fresh one)"
fi

mountpoint -q "${ROOTFS}/proc" || mount -t proc proc "${ROOTFS}/proc"
# No /sys: with the host's sysfs, onnxruntime's cpuinfo reads x86 CPU details under emulation and crashes;
# without it, it warns that it cannot list the CPUs and runs.
trap 'umount "${ROOTFS}/proc" 2>/dev/null || true' EXIT

in_root() {  # a clean environment: the host's pip settings name paths that do not exist in the root
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive chroot "${ROOTFS}" /bin/sh -ec "$1"
}

machine="$(in_root 'uname -m')" || fail "the arm64 root does not run (qemu-user through binfmt_misc)"
[[ "${machine}" == aarch64 ]] || fail "the root reports machine ${machine}, not aarch64"

step "this working tree as a git repository to clone, and the check's frames, into the root"
rm -rf "${ROOTFS}${STAGE}"
mkdir -p "${ROOTFS}${STAGE}/check"
tree="$(mktemp -d)"
(cd "${ROOT}" && git ls-files -z | xargs -0 -I{} sh -c '[ ! -e "$1" ] || cp --parents -- "$1" "$2"' _ {} "${tree}")
git -C "${tree}" -c init.defaultBranch=main init -q
git -C "${tree}" add -A -f
git -C "${tree}" -c user.name=test-arm64 -c user.email=test-arm64@localhost commit -q \
    -m "working tree of $(git -C "${ROOT}" rev-parse --short HEAD)"
git -C "${tree}" bundle create -q "${ROOTFS}${STAGE}/onestop.bundle" HEAD main
rm -rf "${tree}"
"${PY}" "${ROOT}/scripts/arm64_check.py" --write-inputs "${ROOTFS}${STAGE}/check"
chmod -R a+rX "${ROOTFS}${STAGE}"

# A machine as Raspberry Pi OS leaves it: its gpio group, its host name in /etc/hosts (for sudo), no earlier
# install of the edge.
in_root 'groupadd -f gpio; userdel -r onestop 2>/dev/null || true; rm -rf /opt/onestop /etc/onestop
    grep -qs "[[:space:]]$(uname -n)\$" /etc/hosts || echo "127.0.1.1 $(uname -n)" >> /etc/hosts'
# A network that needs its own certificate authority (a proxy that inspects TLS) needs it on the Pi too: the
# root trusts the local CAs the host trusts (Debian's /usr/local/share/ca-certificates), none when it has none.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "${ROOTFS}/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "${ROOTFS}/usr/local/share/ca-certificates/"
    in_root 'update-ca-certificates >/dev/null'
fi
if [[ -n "${PIP_INDEX_URL:-}" ]]; then  # a host that reaches PyPI through a mirror: the root uses it too
    printf '[global]\nindex-url = %s\n' "${PIP_INDEX_URL}" > "${ROOTFS}/etc/pip.conf"
fi

step "docs/install-edge.md, section 1, as it stands"
commands="$(awk '/^## 1\. Install/ {section = 1} section && /^```sh$/ {block = 1; next} block && /^```$/ {exit} block' "${DOC}")"
grep -q "<the project's repository>" <<<"${commands}" || fail "install-edge.md: no '<the project's repository>' to clone"
grep -q "apt-get install .* python3-lgpio" <<<"${commands}" || fail "install-edge.md: no python3-lgpio on the apt-get line"
commands="${commands//<the project\'s repository>/${STAGE}/onestop.bundle}"
commands="${commands/ python3-lgpio/}"
echo "${commands}" | sed 's/^/    /'
in_root "set -x
${commands}" 2>&1 | tee "${ROOTFS}${STAGE}/install.log"
built="$(sed -n 's/^ *Building wheel for \(\S*\).*/\1/p' "${ROOTFS}${STAGE}/install.log" | grep -v '^onestop' || true)"
echo "built from source on the emulated Pi: ${built:-nothing (every dependency came as an aarch64 wheel)}"
for wheel in onnxruntime opencv_python_headless numpy; do
    grep -m1 -Eo "${wheel}-[^ ]*aarch64[^ ]*\.whl" "${ROOTFS}${STAGE}/install.log" \
        || fail "${wheel}: no aarch64 wheel in pip's output"
done

step "docs/install-edge.md, section 2: the configuration check"
in_root '
    mkdir -p /etc/onestop
    cp /opt/onestop/src/config/edge.example.yaml /etc/onestop/edge.yaml
    /opt/onestop/.venv/bin/onestop-edge --config /etc/onestop/edge.yaml --validate-config
'

step "each model on one real frame and the agent on mock pins (arm64, emulated)"
in_root "
    cd /opt/onestop/src
    GPIOZERO_PIN_FACTORY=mock /opt/onestop/.venv/bin/python scripts/arm64_check.py --run ${STAGE}/check arm64.json
"
step "the same on this host (x86-64) and the comparison"
GPIOZERO_PIN_FACTORY=mock "${PY}" "${ROOT}/scripts/arm64_check.py" --run "${ROOTFS}${STAGE}/check" x86.json
"${PY}" "${ROOT}/scripts/arm64_check.py" --compare "${ROOTFS}${STAGE}/check"
step "done"
