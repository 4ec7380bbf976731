# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034
#: defects-accounts: an image generalized carelessly. root has a password; a build account
#: `builder` with a password and an SSH key was left behind, and so was a key in root's
#: authorized_keys; shell histories were not cleared; sudoers has `Defaults targetpw`.
#: azureuser gets cloud-init's NOPASSWD rule: with targetpw and a password rule sudo would ask
#: for root's password and no probe needing root could run.
#: Defects: bash-history-cleared, root-password-locked, no-other-password-hashes,
#: no-leftover-authorized-keys, sudoers-no-targetpw (all Fail).

# shellcheck source=golden.sh
. "$LAB_DIR/scenarios/golden.sh"
SUDO=nopasswd

plant() {
  plant_golden
  printf 'root:%s\n' "$(random_secret)" | in_root chpasswd
  in_root useradd -m -s /bin/bash -c "image builder" builder
  printf 'builder:%s\n' "$(random_secret)" | in_root chpasswd
  ssh-keygen -q -t ed25519 -N '' -C "builder@buildhost" -f "$STATE/keys/leftover_ed25519"
  install -d -m 700 "$R/home/builder/.ssh"
  install -m 600 "$STATE/keys/leftover_ed25519.pub" "$R/home/builder/.ssh/authorized_keys"
  in_root chown -R builder:builder /home/builder/.ssh
  cat "$STATE/keys/leftover_ed25519.pub" >>"$R/root/.ssh/authorized_keys"
  # Histories of the build session: well over 1024 bytes each, so they fail under both profiles.
  local i
  for i in $(seq 1 30); do
    printf 'sudo apt-get install -y --no-install-recommends build-essential libssl-dev # step %s\n' "$i"
  done >"$R/root/.bash_history"
  chmod 600 "$R/root/.bash_history"
  for i in $(seq 1 30); do
    printf 'curl -fsS http://10.0.0.4:8080/config/app-%s.yaml -o /etc/app/app.yaml\n' "$i"
  done >"$R/home/$VM_USER/.bash_history"
  in_root chown "$VM_USER:$VM_USER" "/home/$VM_USER/.bash_history"
  chmod 600 "$R/home/$VM_USER/.bash_history"
  printf 'Defaults targetpw\n' >"$R/etc/sudoers.d/10-targetpw"
  chmod 440 "$R/etc/sudoers.d/10-targetpw"
}
