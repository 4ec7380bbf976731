#!/usr/bin/env bash
#: Builds (once) and caches the Debian bookworm root that every lab VM boots from.
#: The root is a real debootstrapped Debian with openssh-server, sudo and the real `waagent`
#: package; scenarios later copy it and plant defects. Needs root. Idempotent: a finished root is
#: marked by .vmcert-root-ok and reused. Prints the root's path on stdout.
set -euo pipefail
CACHE=${VMCERT_LAB_CACHE:-/var/cache/vmcert-lab}
ROOT="$CACHE/bookworm-root"
PKGS=openssh-server,sudo,waagent,iproute2,procps,kmod,iptables,nftables,ca-certificates
if [ -f "$ROOT/.vmcert-root-ok" ]; then echo "$ROOT"; exit 0; fi
command -v debootstrap >/dev/null || { apt-get update -qq >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2; }
MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
rm -rf "$ROOT.tmp"; mkdir -p "$CACHE"
debootstrap --variant=minbase --include="$PKGS" bookworm "$ROOT.tmp" "$MIRROR" >&2
chroot "$ROOT.tmp" apt-get clean
rm -rf "$ROOT.tmp"/var/lib/apt/lists/*
touch "$ROOT.tmp/.vmcert-root-ok"
rm -rf "$ROOT"; mv "$ROOT.tmp" "$ROOT"
echo "$ROOT"
