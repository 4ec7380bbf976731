# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034
#: suse: golden presenting as a certifiable SLES 15 SP5 PAYG image: SLES's os-release, the Pool
#: and Updates repositories SUSE's public cloud registration writes, and
#: DHCLIENT_SET_HOSTNAME="no" in /etc/sysconfig/network/dhcp (Microsoft's SLES guide).
#: Every LISA-parity check that applies to SUSE passes.

# shellcheck source=golden.sh
. "$LAB_DIR/scenarios/golden.sh"

plant() {
  plant_golden
  present_as sles15
  suse_repos Pool Updates
  suse_dhcp no
}

# zypper repository files as SUSE's cloud registration writes them, one per kind given.
suse_repos() {
  mkdir -p "$R/etc/zypp/repos.d"
  local kind
  for kind in "$@"; do
    printf '[SUSE_Linux_Enterprise_Server_x86_64:SLES15-SP5-%s]\nname=SLES15-SP5-%s\nenabled=1\nautorefresh=1\nbaseurl=plugin:/susecloud?path=/repo/SUSE/%s/SLE-Product-SLES/15-SP5/x86_64/\nservice=SUSE_Linux_Enterprise_Server_x86_64\n' \
      "$kind" "$kind" "$kind" >"$R/etc/zypp/repos.d/SUSE_Linux_Enterprise_Server_x86_64:SLES15-SP5-$kind.repo"
  done
}

# /etc/sysconfig/network/dhcp with DHCLIENT_SET_HOSTNAME set to $1.
suse_dhcp() {
  mkdir -p "$R/etc/sysconfig/network"
  printf '## Path:\tNetwork/DHCP/DHCP client\n## Type:\tlist(yes,no,)\n#\n# Should the DHCPv4 client set the hostname? (yes|no|"")\n#\nDHCLIENT_SET_HOSTNAME="%s"\nDHCLIENT_SET_DEFAULT_ROUTE="yes"\n' \
    "$1" >"$R/etc/sysconfig/network/dhcp"
}
