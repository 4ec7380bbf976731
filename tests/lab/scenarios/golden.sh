# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034
#: golden: a clean, certifiable Debian 12 image as Azure's cloud-init provisioning leaves it.
#: Every Linux check that can vary inside a namespace VM must Pass here (see expected.toml).
#: Sourced by vm.sh (top level: variables only); plant() runs inside the VM's root ($R) after
#: the base setup (hostname, hosts, host keys, azureuser with keys and password).

GOLDEN_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8 earlyprintk=ttyS0 rootdelay=300 scsi_mod.use_blk_mq=Y"
CMDLINE="BOOT_IMAGE=/boot/vmlinuz-$(uname -r) root=PARTUUID=6b1c6f6e-01 ro $GOLDEN_CMDLINE_LINUX quiet"

plant_golden() {
  # Boot line: grub's default file carrying the Azure parameters that the running kernel got.
  grub_default "$GOLDEN_CMDLINE_LINUX"
  # sshd: ClientAliveInterval 180 in the main file, where the portal looks.
  sshd_set ClientAliveInterval 180
  # Agent: automatic updates on; cloud-init (installed, ssh_deletekeys at its default true)
  # provisions and regenerates the host keys, as Provisioning.Agent=cloud-init says.
  conf_set /etc/waagent.conf AutoUpdate.Enabled y
  conf_set /etc/waagent.conf Provisioning.Agent cloud-init
  # Root: the stub cloud-init writes for root (disable_root), which the checks accept.
  install -d -m 700 "$R/root/.ssh"
  printf 'no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command="echo '\''Please login as the user \\"%s\\" rather than the user \\"root\\".'\'';echo;sleep 10;exit 142" %s\n' \
    "$VM_USER" "$(cat "$KEYS/id_ed25519.pub")" >"$R/root/.ssh/authorized_keys"
  chmod 600 "$R/root/.ssh/authorized_keys"
}

plant() {
  plant_golden
}
