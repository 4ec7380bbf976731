# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034
#: golden: a clean, certifiable Debian 12 image as Azure's cloud-init provisioning leaves it.
#: Every Linux check that can vary inside a namespace VM must Pass here (see expected.toml).
#: Sourced by vm.sh (top level: variables only); plant() runs inside the VM's root ($R) after
#: the base setup (hostname, hosts, host keys, azureuser with keys and password).

# The Hyper-V KVP daemon runs (emulated: no init starts services in a lab VM); scenarios set no.
KVP_DAEMON=yes
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
  # The running kernel's build configuration (uname -r is the host's): the lines LISA's
  # verify_essential_kernel_modules reads, as Debian's cloud kernel has them.
  kernel_config "CONFIG_WATCHDOG=y" "CONFIG_CIFS=m"
  # Package sources on Debian's CDN, which LISA's verify_repository_installed expects. The root
  # takes the build host's mirror; add a deb.debian.org line only when that mirror is another.
  if ! grep -qs 'deb.debian.org' "$R/etc/apt/sources.list"; then
    echo "deb http://deb.debian.org/debian bookworm main" >"$R/etc/apt/sources.list.d/debian-cdn.list"
  fi
  if [ "$KVP_DAEMON" = yes ]; then emulate_daemon hv_kvp_daemon; fi
}

# /boot/config-$(uname -r) with the given CONFIG_ lines.
kernel_config() {
  printf '# Linux kernel configuration (lab: the lines vmcert reads)\n' >"$R/boot/config-$(uname -r)"
  printf '%s\n' "$@" >>"$R/boot/config-$(uname -r)"
}

# A process named $1 running in the VM (a copy of sleep: the checks read /proc/*/comm).
emulate_daemon() {
  cp "$R/usr/bin/sleep" "$R/usr/sbin/$1"
  in_root "/usr/sbin/$1" infinity </dev/null >/dev/null 2>&1 &
}

# /etc/os-release of another distribution (os/NAME under this directory), replacing Debian's.
present_as() {
  rm -f "$R/etc/os-release"
  cp "$LAB_DIR/scenarios/os/$1" "$R/etc/os-release"
}

plant() {
  plant_golden
}

# A tmpfs at /mnt/resource in place of the Azure temp disk: `readme` adds what the agent writes
# on it after formatting, `bare` leaves it empty.
temp_disk() {
  mkdir -p "$R/mnt/resource"
  mount -t tmpfs -o size=1m,mode=755 tmpfs "$R/mnt/resource"
  if [ "${1:-}" = readme ]; then
    mkdir -m 700 "$R/mnt/resource/lost+found"
    printf 'WARNING: THIS IS A TEMPORARY DISK.\n\nAny data stored on this drive is SUBJECT TO LOSS and THERE IS NO WAY TO RECOVER IT.\n' \
      >"$R/mnt/resource/DATALOSS_WARNING_README.txt"
  fi
}
