# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034
#: ubuntu-cloudinit: golden presenting as Canonical's Ubuntu 22.04 Azure image, provisioned by
#: cloud-init while waagent.conf says Provisioning.Agent=auto (the agent defers to cloud-init,
#: which is installed): Ubuntu's os-release, apt sources on azure.archive.ubuntu.com with the
#: -updates and -security suites, a clean cloud-init.log. LISA parity cases that must pass:
#: the serial console enabled by the kernel (SPCR: `console [ttyS0] enabled` in syslog) while
#: the command line has no console=, and the connecting user's own shell history.

# shellcheck source=golden.sh
. "$LAB_DIR/scenarios/golden.sh"
UBUNTU_CMDLINE_LINUX="earlyprintk=ttyS0 rootdelay=300 nvme_core.io_timeout=240"
CMDLINE="BOOT_IMAGE=/boot/vmlinuz-$(uname -r) root=PARTUUID=6b1c6f6e-01 ro $UBUNTU_CMDLINE_LINUX quiet"

plant() {
  plant_golden
  present_as ubuntu2204
  grub_default "$UBUNTU_CMDLINE_LINUX"
  conf_set /etc/waagent.conf Provisioning.Agent auto
  rm -f "$R/etc/apt/sources.list.d/debian-cdn.list"
  local s
  for s in jammy jammy-updates jammy-security; do
    echo "deb http://azure.archive.ubuntu.com/ubuntu/ $s main restricted" >>"$R/etc/apt/sources.list.d/azure-ubuntu.list"
  done
  printf '%s\n' \
    "2024-07-29 10:02:11,532 - util.py[DEBUG]: Cloud-init v. 22.4.2 running 'init-local' at Mon, 29 Jul 2024 10:02:11 +0000. Up 6.12 seconds." \
    "2024-07-29 10:02:25,118 - handlers.py[DEBUG]: finish: modules-final: SUCCESS: running modules for final" \
    >"$R/var/log/cloud-init.log"
  printf '%s\n' \
    "2024-07-29T10:02:01.124200+00:00 ubuntu kernel: [    0.013002] ACPI: SPCR 0x000000003FFEF000 000050 (v02 VRTUAL MICROSFT 00000001 MSFT 00000001)" \
    "2024-07-29T10:02:01.124201+00:00 ubuntu kernel: [    0.176317] printk: console [ttyS0] enabled" \
    >"$R/var/log/syslog"
  printf 'ls /var/lib/waagent\n' >"$R/home/$VM_USER/.bash_history"
  in_root chown "$VM_USER:$VM_USER" "/home/$VM_USER/.bash_history"
}
