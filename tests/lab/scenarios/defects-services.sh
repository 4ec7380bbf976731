# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034
#: defects-services: an image whose packages and services drifted. Security updates are pending
#: (the packages that bookworm-security updated are downgraded to the .debs build-root.sh kept),
#: an old OMI package is installed (a package record `omi 1.6.6.0`, no files), firewall rules
#: are loaded at boot (/etc/iptables/rules.v4), the agent's service is disabled,
#: ClientAliveInterval 180 is set only in a drop-in, and ResourceDisk.EnableSwap=y while
#: cloud-init provisions.
#: cloud-init logged warnings while provisioning (/var/log/cloud-init.log).
#: Defects: security-updates-pending, firewall-no-rules, no-swap-on-os-disk,
#: ssh-client-alive-interval, cloud-init-clean (Warning); omi-not-vulnerable,
#: linux-agent-enabled (Fail).

# shellcheck source=golden.sh
. "$LAB_DIR/scenarios/golden.sh"
FIREWALL_RULES=/etc/iptables/rules.v4

plant() {
  plant_golden
  printf '%s\n' \
    "2024-07-29 10:02:11,532 - util.py[DEBUG]: Cloud-init v. 22.4.2 running 'init-local' at Mon, 29 Jul 2024 10:02:11 +0000. Up 6.12 seconds." \
    "2024-07-29 10:02:13,220 - DataSourceAzure.py[WARNING]: No lease found; using default endpoint: a8:3f:81:10" \
    >"$R/var/log/cloud-init.log"
  # Pending security updates: reinstall the versions the root had before its upgrade, for the
  # packages whose .deb has no maintainer scripts (libraries: dpkg takes a second for them,
  # while downgrading python3.11 or perl-base takes a minute).
  [ -d "$ROOT.debs" ] || die "no $ROOT.debs (rebuild the root: tests/lab/build-root.sh)"
  mkdir -p "$R/tmp/old-debs"
  # The control members are listed first and matched after: `... | tar -t | grep -q` under
  # pipefail failed whenever grep quit before tar had written everything (tar died of SIGPIPE),
  # and then a library WITH maintainer scripts was downgraded too (libpython3.11-minimal, whose
  # exact-version dependents apt then calls unmet): the occasional Error of this scenario's
  # security-updates-pending under load.
  # A library that another installed package pins with `(= version)` is left alone too: its
  # dependent keeps the new version (it has maintainer scripts, or is not a library), so the
  # downgrade would leave apt with unmet dependencies (libpam-modules pins libpam-modules-bin,
  # python3.11 pins libpython3.11-stdlib) and the probe would end in Error.
  local deb members pkg pinned
  pinned=$(awk '/^(Pre-)?Depends:/ { n = split($0, d, ","); for (i = 1; i <= n; i++)
    if (d[i] ~ /\(= /) { sub(/^(Pre-)?Depends: */, "", d[i]); sub(/^ */, "", d[i]);
      sub(/[ :].*/, "", d[i]); print d[i] } }' "$R/var/lib/dpkg/status")
  for deb in "$ROOT.debs"/lib*.deb; do
    [ -e "$deb" ] || continue
    case $deb in */libapt-pkg*) continue ;; esac
    pkg=$(dpkg-deb --field "$deb" Package) || die "cannot read the package name of $deb"
    grep -qxF "$pkg" <<<"$pinned" && continue
    members=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t) || die "cannot list the control files of $deb"
    grep -qE 'inst$|rm$' <<<"$members" || cp "$deb" "$R/tmp/old-debs/"
  done
  [ -n "$(ls "$R/tmp/old-debs")" ] || die "no library with a security update in $ROOT.debs"
  in_root sh -c 'dpkg -i /tmp/old-debs/*.deb' >/dev/null || die "downgrading to $ROOT.debs failed"
  rm -rf "$R/tmp/old-debs"
  # OMI below 1.6.8.1 (OMIGOD), as dpkg knows it.
  local omi="$STATE/omi"
  mkdir -p "$omi/DEBIAN"
  cat >"$omi/DEBIAN/control" <<'CONTROL'
Package: omi
Version: 1.6.6.0
Architecture: amd64
Maintainer: vmcert lab <lab@vmcert.invalid>
Description: Open Management Infrastructure (vmcert lab: package record only)
CONTROL
  dpkg-deb --build --root-owner-group "$omi" "$R/tmp/omi.deb" >/dev/null
  in_root dpkg -i /tmp/omi.deb >/dev/null
  rm -f "$R/tmp/omi.deb"
  # Firewall rules, loaded by the lab's boot like netfilter-persistent would.
  mkdir -p "$R/etc/iptables"
  cat >"$R/etc/iptables/rules.v4" <<'RULES'
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 3306 -j DROP
-A INPUT -s 10.0.0.0/8 -p tcp -m tcp --dport 8080 -j ACCEPT
COMMIT
RULES
  in_root systemctl disable walinuxagent.service 2>/dev/null
  sed -i -E 's/^ClientAliveInterval .*/#ClientAliveInterval 0/' "$R/etc/ssh/sshd_config"
  printf 'ClientAliveInterval 180\n' >"$R/etc/ssh/sshd_config.d/60-keepalive.conf"
  conf_set /etc/waagent.conf ResourceDisk.EnableSwap y
}
