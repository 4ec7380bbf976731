#!/usr/bin/env bash
#: Installs everything the tests and the lab need on a fresh Debian 12 machine (idempotent):
#: apt packages, the WS-Man test server's Python venv, Azurite, then the cached lab root
#: (build-root.sh: about 2 minutes the first time, then instant). Needs root.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "install-prereqs.sh: must run as root" >&2; exit 1; }
need=()
# fdisk: sfdisk partitions the OS-disk VHD fixtures; qemu-utils: qemu-img makes every VHD fixture;
# nodejs/npm/curl: Azurite (tests/lab/azurite.sh).
# sudo, procps: the sshd fixture and the lab use real sudo and ps.
# python3-jsonschema (+ sarif-schema.sh: the official SARIF 2.1.0 schema from npm): the test that
# validates vmcert's SARIF output.
# chromium: the e2e test that renders report.html in a real browser; tmux: the one that reads the
# fleet's live display off a terminal's screen.
# Lab VMs (vm.sh): debootstrap builds the root, iproute2 (ip netns, veth) and util-linux (unshare,
# setarch, flock) run them, openssh-client and sshpass are the real clients of the lab tests, and
# the lab scripts are linted with shellcheck. ntfs-3g: mkntfs formats the Windows-layout disk of
# the image e2e tests (tests/e2e/image.rs), ntfscp and its libntfs-3g write files into it;
# python3-hivex: those tests write the image's registry hives (tests/e2e/fixtures/make_hive.py).
# packer (bookworm's 1.6.6): tests/e2e/packer.rs builds examples/packer/ with its null builder.
# make, gcc: `cargo install cargo-afl` (fuzz/afl.sh) builds AFL++ from the source in the crate.
for pkg in debootstrap openssh-server openssh-client sshpass iproute2 util-linux shellcheck fdisk \
  qemu-utils curl sudo procps chromium tmux python3-jsonschema ntfs-3g python3-hivex packer make gcc; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# python3 with venv for the WS-Man test server (tests/winrm/venv.sh); a pyenv python has both.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need+=(python3 python3-venv)
fi
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
updated=
apt_install() {
  [ -n "$updated" ] || { apt-get update -qq; updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi
# The QEMU VM of tests/qemu/ (build-image.sh, vm.sh): the emulator, sfdisk, mkfs.ext4 -d and
# debugfs, zstd for the cached root. Installing bookworm's qemu-system-x86 REMOVES a newer
# preinstalled qemu-utils (a backport that conflicts with it), so qemu-utils is put back after it:
# both qemu-system-x86_64 and qemu-img must work afterwards.
need=()
for pkg in qemu-system-x86 fdisk e2fsprogs zstd; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then apt_install --no-install-recommends "${need[@]}"; fi
command -v qemu-img >/dev/null || apt_install --no-install-recommends qemu-utils
# The WS-Man test server's venv (pinned pywinrm, pyspnego, cryptography), outside the repository.
bash "$(dirname "$0")/../winrm/venv.sh" >/dev/null
bash "$(dirname "$0")/azurite.sh" install
bash "$(dirname "$0")/sarif-schema.sh"
grep -qw overlay /proc/filesystems || modprobe overlay
bash "$(dirname "$0")/build-root.sh" >/dev/null
