# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034
#: defects-agent: a stripped image. Python 3 and OpenSSL were removed with apt-get remove, and
#: with them their dependents, among them the waagent and cloud-init packages. Removed, not
#: purged: conffiles such as /etc/waagent.conf and the agent's SysV init script stay; the
#: service was disabled too, so `systemctl is-enabled walinuxagent` answers `disabled` through
#: systemd-sysv-install. waagent.conf keeps Debian's AutoUpdate.Enabled=n and
#: Provisioning.Agent=cloud-init.
#: Defects: linux-agent-version, python-version, openssl-version (missing: Fail),
#: linux-agent-enabled (disabled: Fail),
#: agent-auto-update (n: Warning), ssh-host-keys-regenerated (cloud-init named, not installed:
#: Warning). Starting it takes seconds: dpkg removes about 40 packages.

# shellcheck source=golden.sh
. "$LAB_DIR/scenarios/golden.sh"

plant() {
  plant_golden
  conf_set /etc/waagent.conf AutoUpdate.Enabled n
  DEBIAN_FRONTEND=noninteractive in_root apt-get remove -y -qq python3-minimal python3.11-minimal openssl >/dev/null
  in_root systemctl disable walinuxagent.service 2>/dev/null
}
