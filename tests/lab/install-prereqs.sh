#!/usr/bin/env bash
#: Installs everything the tests and the lab need on a fresh Debian 12 machine (idempotent):
#: apt packages, then the cached lab root. Needs root.
set -euo pipefail
need=()
# chromium: the e2e test that renders report.html in a real browser.
for pkg in debootstrap openssh-server openssh-client sshpass iproute2 chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
