# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034
#: defects-ssh: sshd and provisioning as Debian ships them, agent provisioning without key
#: regeneration. sshd_config keeps Debian's commented `#ClientAliveInterval 0`;
#: waagent.conf says Provisioning.Agent=waagent with RegenerateSshHostKeyPair=n; the kernel
#: command line lacks earlyprintk (and /etc/default/grub agrees).
#: The agent formats the temp disk (ResourceDisk.Format=y), but the disk mounted at
#: /mnt/resource (a tmpfs here) lacks the agent's DATALOSS_WARNING_README.txt and lost+found.
#: Defects: ssh-client-alive-interval (missing: Fail), ssh-host-keys-regenerated (Warning),
#: kernel-boot-parameters (earlyprintk missing: Warning), resource-disk (Warning).

# shellcheck source=golden.sh
. "$LAB_DIR/scenarios/golden.sh"
SSH_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8 rootdelay=300 scsi_mod.use_blk_mq=Y"
CMDLINE="BOOT_IMAGE=/boot/vmlinuz-$(uname -r) root=PARTUUID=6b1c6f6e-01 ro $SSH_CMDLINE_LINUX quiet"

plant() {
  plant_golden
  grub_default "$SSH_CMDLINE_LINUX"
  sed -i -E 's/^ClientAliveInterval .*/#ClientAliveInterval 0/' "$R/etc/ssh/sshd_config"
  conf_set /etc/waagent.conf Provisioning.Agent waagent
  conf_set /etc/waagent.conf Provisioning.RegenerateSshHostKeyPair n
  conf_set /etc/waagent.conf ResourceDisk.Format y
  temp_disk bare
}
