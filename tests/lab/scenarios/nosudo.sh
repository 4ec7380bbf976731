# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034
#: nosudo: golden, but azureuser may not use sudo. Probes that need root (shadow, histories,
#: authorized_keys, sudoers, sshd -T, firewall) fail with permission denied, so their checks must
#: end in Error, never in Pass or Fail.

# shellcheck source=golden.sh
. "$LAB_DIR/scenarios/golden.sh"
SUDO=none
