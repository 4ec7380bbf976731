#!/usr/bin/env bash
#: Installs everything the tests and the lab need on a fresh Debian 12 machine (idempotent):
#: apt packages, the WS-Man test server's Python venv, then the cached lab root. Needs root.
set -euo pipefail
need=()
for pkg in debootstrap openssh-server openssh-client sshpass iproute2; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# python3 with venv for the WS-Man test server (tests/winrm/venv.sh); a pyenv python has both.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need+=(python3 python3-venv)
fi
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
