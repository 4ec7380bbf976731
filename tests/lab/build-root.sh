#!/usr/bin/env bash
#: Builds (once) and caches the Debian bookworm root that every lab VM boots from.
#: The root is a real debootstrapped Debian with openssh-server, sudo, systemd (for offline
#: `systemctl is-enabled`), cloud-init, grub's default config and the real `waagent` package,
#: upgraded from bookworm-security/-updates with the package lists kept (gzip-compressed), so that
#: `apt-get -s upgrade` has real data. The packages that the upgrade replaced are kept as .debs in
#: ROOT.debs/ so a scenario can downgrade to them and get real pending security updates.
#: VMs never write to the root: each one mounts an overlay over it (tests/lab/vm.sh).
#: Needs root and network access to the Debian mirror. Idempotent: a finished root is marked by
#: .vmcert-root-ok holding the recipe version; an older recipe is rebuilt. Prints the root's path.
set -euo pipefail
CACHE=${VMCERT_LAB_CACHE:-/var/cache/vmcert-lab}
ROOT="$CACHE/bookworm-root"
# Bump RECIPE whenever the package list or the steps below change: roots of older recipes are rebuilt.
RECIPE=2
PKGS=openssh-server,sudo,waagent,iproute2,procps,kmod,iptables,nftables,ca-certificates,systemd,cloud-init,python3-cffi-backend,grub2-common,util-linux
if [ "$(cat "$ROOT/.vmcert-root-ok" 2>/dev/null)" = "recipe $RECIPE" ] && [ -d "$ROOT.debs" ]; then
  echo "$ROOT"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "build-root.sh: must run as root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || {
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
}
MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=$(awk '/^URIs:/ && /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
T="$ROOT.tmp"
rm -rf "$T" "$T.debs"
mkdir -p "$CACHE" "$T.debs"
# python3-cffi-backend: debootstrap does not resolve the virtual python3-cffi-backend-api-* that cloud-init needs.
debootstrap --variant=minbase --include="$PKGS" bookworm "$T" "$MIRROR" >&2

# apt inside the root: never start services, keep lists compressed, know the security suite.
printf '#!/bin/sh\nexit 101\n' >"$T/usr/sbin/policy-rc.d"
chmod +x "$T/usr/sbin/policy-rc.d"
cat >"$T/etc/apt/apt.conf.d/50vmcert-lab-gzip-indexes" <<'EOF'
Acquire::GzipIndexes "true";
Acquire::CompressionTypes::Order:: "gz";
Acquire::Languages "none";
EOF
cat >"$T/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY bookworm-security main
EOF
cp /etc/resolv.conf "$T/etc/resolv.conf"
rm -rf "$T"/var/lib/apt/lists/*
chroot "$T" apt-get update -qq >&2
# Keep the versions that the upgrade replaces: the `security-updates-pending` defect reinstalls them.
chroot "$T" apt-get -s upgrade | awk '/^Inst /{print $2}' >"$T.debs/upgraded-packages"
# shellcheck disable=SC2016 # ${Version} is dpkg-query's field syntax, not a shell expansion
while read -r pkg; do
  ver=$(chroot "$T" dpkg-query -W -f '${Version}' "$pkg")
  arch=$(chroot "$T" dpkg-query -W -f '${Architecture}' "$pkg")
  deb="$T/var/cache/apt/archives/${pkg}_${ver//:/%3a}_${arch}.deb"
  if [ -f "$deb" ]; then cp "$deb" "$T.debs/"; fi
done <"$T.debs/upgraded-packages"
DEBIAN_FRONTEND=noninteractive chroot "$T" apt-get -y -qq -o Dpkg::Options::=--force-confold upgrade >&2
rm -f "$T/usr/sbin/policy-rc.d" "$T/etc/resolv.conf"
# Drop the downloaded .debs but keep apt's binary caches: without them every VM's first
# `apt-get -s upgrade` would write 80 MB of fresh caches into its overlay.
rm -f "$T"/var/cache/apt/archives/*.deb
chroot "$T" apt-get -s upgrade >/dev/null
# The image ships without host keys, like a generalized image: every lab VM generates its own.
rm -f "$T"/etc/ssh/ssh_host_*
echo "recipe $RECIPE" >"$T/.vmcert-root-ok"
rm -rf "$ROOT" "$ROOT.debs"
mv "$T.debs" "$ROOT.debs"
mv "$T" "$ROOT"
echo "$ROOT"
