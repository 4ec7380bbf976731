# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034
#: rhel-family: golden presenting as a certifiable RHEL 9 image, as Microsoft's RHEL preparation
#: guide leaves it: RHEL's os-release, the RHUI repositories of Red Hat's Azure images,
#: /etc/sysconfig/network with NETWORKING=yes and ifcfg-eth0 (DEVICE=eth0, BOOTPROTO=dhcp,
#: ONBOOT=yes), a BLS boot layout (grubenv kernelopts, loader entries) with Azure's parameters,
#: and the Azure Linux Agent provisioning and formatting the temp disk (a tmpfs at
#: /mnt/resource with the agent's DATALOSS_WARNING_README.txt and lost+found).
#: Every LISA-parity check that applies to the RHEL family passes.

# shellcheck source=golden.sh
. "$LAB_DIR/scenarios/golden.sh"

plant() {
  plant_golden
  present_as rhel9
  rhel_network_files
  mkdir -p "$R/etc/yum.repos.d"
  local r
  for r in baseos appstream; do
    for v in "" -debug -source; do
      cat >>"$R/etc/yum.repos.d/rh-cloud-base.repo" <<REPO
[rhel-9-for-x86_64-$r$v-rhui-rpms]
name=Red Hat Enterprise Linux 9 for x86_64 - $r from RHUI
baseurl=https://rhui4-1.microsoft.com/pulp/repos/content/dist/rhel9/rhui/\$releasever/x86_64/$r/os
enabled=$([ -z "$v" ] && echo 1 || echo 0)
gpgcheck=1

REPO
    done
  done
  printf '[rhui-microsoft-azure-rhel9]\nname=Microsoft Azure RPMs for RHEL 9\nbaseurl=https://rhui4-1.microsoft.com/pulp/repos/unprotected/microsoft-azure-rhel9\nenabled=1\n' \
    >"$R/etc/yum.repos.d/rhui-microsoft-azure-rhel9.repo"
  bls_boot "$GOLDEN_CMDLINE_LINUX"
  conf_set /etc/waagent.conf Provisioning.Agent waagent
  conf_set /etc/waagent.conf ResourceDisk.Format y
  temp_disk readme
}

# /etc/sysconfig/network and ifcfg-eth0 as Microsoft's RHEL preparation guide writes them.
rhel_network_files() {
  mkdir -p "$R/etc/sysconfig/network-scripts"
  printf 'NETWORKING=yes\nHOSTNAME=localhost.localdomain\n' >"$R/etc/sysconfig/network"
  printf '%s\n' DEVICE=eth0 ONBOOT=yes BOOTPROTO=dhcp TYPE=Ethernet USERCTL=no PEERDNS=yes \
    IPV6INIT=no NM_CONTROLLED=yes >"$R/etc/sysconfig/network-scripts/ifcfg-eth0"
}

# RHEL 8+'s boot layout: kernelopts in /boot/grub2/grubenv, a BLS entry that uses it.
bls_boot() {
  mkdir -p "$R/boot/grub2" "$R/boot/loader/entries"
  printf '# GRUB Environment Block\nkernelopts=root=/dev/mapper/rootvg-rootlv ro %s\nboot_success=0\n' "$1" \
    >"$R/boot/grub2/grubenv"
  printf 'title Red Hat Enterprise Linux (5.14.0-427.13.1.el9_4.x86_64) 9.4 (Plow)\nlinux /vmlinuz-5.14.0-427.13.1.el9_4.x86_64\ninitrd /initramfs-5.14.0-427.13.1.el9_4.x86_64.img\noptions %s\n' "\$kernelopts" \
    >"$R/boot/loader/entries/lab-5.14.0-427.13.1.el9_4.x86_64.conf"
}
