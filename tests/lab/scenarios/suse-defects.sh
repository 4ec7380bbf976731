# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034
#: suse-defects: SLES 15 SP5 built from generic media and never registered: no repository at
#: all, DHCLIENT_SET_HOSTNAME="yes" as the media ship it, and auto-update turned off by an
#: inline-commented line (the agent cuts the value at `#` and reads n).
#: Defects: package-repositories, dhcp-hostname-option (Fail); agent-auto-update (Warning).

# shellcheck source=suse.sh
. "$LAB_DIR/scenarios/suse.sh"

plant() {
  plant_golden
  present_as sles15
  suse_dhcp yes
  sed -i -E 's/^AutoUpdate\.Enabled=.*/AutoUpdate.Enabled=n # pinned by the image team/' "$R/etc/waagent.conf"
}
