# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034
#: keyonly: golden provisioned with an SSH key only (as Azure does without a password):
#: azureuser's password is locked and sudo is cloud-init's NOPASSWD rule. PASSWORD is empty
#: in the facts. Every check is as in golden.

# shellcheck source=golden.sh
. "$LAB_DIR/scenarios/golden.sh"
LOGIN_PASSWORD=no
SUDO=nopasswd
