# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034
#: rhel-family-defects: an AlmaLinux 9 image built from the ISO and customised, with the defects
#: LISA finds on such images and vmcert used to miss: network configured by NetworkManager
#: keyfiles only (no /etc/sysconfig/network, no ifcfg-eth0), a private package mirror instead of
#: AlmaLinux's baseos repository (its URL carries credentials and a token, masked on the VM),
#: reserve=0x1f0,0x8 only in grubenv's kernelopts, the build account's history in
#: .ksh_history and in a sub-directory of its home, a kernel configuration without CIFS.
#: Parity cases that must not fail: azureuser's own history (the connecting user), the
#: persistent-net generator masked with a /dev/null symlink.
#: Defects: network-config-files, package-repositories, grub-no-forbidden-params,
#: bash-history-cleared, kernel-config-essentials (Fail).

# shellcheck source=rhel-family.sh
. "$LAB_DIR/scenarios/rhel-family.sh"

plant() {
  plant_golden
  present_as alma9
  mkdir -p "$R/etc/NetworkManager/system-connections"
  printf '[connection]\nid=Wired connection 1\ntype=ethernet\ninterface-name=eth0\n[ipv4]\nmethod=auto\n' \
    >"$R/etc/NetworkManager/system-connections/Wired connection 1.nmconnection"
  chmod 600 "$R/etc/NetworkManager/system-connections/Wired connection 1.nmconnection"
  mkdir -p "$R/etc/yum.repos.d"
  printf '[corp-el9-os]\nname=Corp mirror of EL9\nbaseurl=https://builder:Zm9vYmFy@mirror.corp.example/el9/os/?token=abc123\nenabled=1\n' \
    >"$R/etc/yum.repos.d/corp.repo"
  printf '[baseos]\nname=AlmaLinux %s - BaseOS\nmirrorlist=https://mirrors.almalinux.org/mirrorlist/%s/baseos\nenabled=0\n' \
    "\$releasever" "\$releasever" >"$R/etc/yum.repos.d/almalinux-baseos.repo"
  bls_boot "$GOLDEN_CMDLINE_LINUX reserve=0x1f0,0x8"
  in_root useradd -m -s /bin/ksh builder
  printf 'export DB_PASSWORD=lab-secret-ksh\n' >"$R/home/builder/.ksh_history"
  mkdir -p "$R/home/builder/work"
  printf 'curl -u admin:lab-secret-sub https://build.example/artifact\n' >"$R/home/builder/work/.bash_history"
  printf 'sudo dnf update\n' >"$R/home/$VM_USER/.bash_history"
  in_root chown "$VM_USER:$VM_USER" "/home/$VM_USER/.bash_history"
  mkdir -p "$R/etc/udev/rules.d"
  ln -s /dev/null "$R/etc/udev/rules.d/75-persistent-net-generator.rules"
  kernel_config "CONFIG_WATCHDOG=y" "# CONFIG_CIFS is not set"
}
