#!/usr/bin/env bash
#: The README's first command: certifies a real Linux VM end to end on this machine.
#: Installs the prerequisites (install-prereqs.sh: apt packages and the cached Debian 12 lab root),
#: builds vmcert in release mode (target/release/vmcert), starts a lab VM of the `defects-ssh`
#: scenario (a clean image with a few planted defects, so the report shows Pass, Warning and Fail),
#: shows what `vmcert connect` finds, certifies the VM over SSH with a key (sudo password from an
#: environment variable) and the answers in demo-answers.toml, prints the summary and the report
#: path, and stops the VM (also on failure or Ctrl-C).
#:
#:   sudo bash tests/lab/demo.sh            # run as root on Debian 12, from anywhere
#:
#: Environment: VMCERT_DEMO_SCENARIO (default defects-ssh; any file of tests/lab/scenarios/),
#: VMCERT_DEMO_OUT (report path, default ./vmcert-demo_<time>.zip in the current directory),
#: CARGO_TARGET_DIR, and the lab's own variables (tests/lab/README.md).
set -euo pipefail

die() {
  echo "demo.sh: $*" >&2
  exit 1
}

start_dir=$PWD
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
[ "$(id -u)" = 0 ] || die "must run as root (apt, network namespaces, overlay mounts): sudo bash tests/lab/demo.sh"
command -v cargo >/dev/null ||
  die "cargo is not installed: install Rust 1.95 or newer (https://rustup.rs), then run this again"
scenario=${VMCERT_DEMO_SCENARIO:-defects-ssh}
out=${VMCERT_DEMO_OUT:-$start_dir/vmcert-demo_$(date +%Y%m%d-%H%M%S).zip}

echo "== 1/5 Prerequisites (tests/lab/install-prereqs.sh; the lab root takes about 2 minutes the first time)"
bash tests/lab/install-prereqs.sh

echo "== 2/5 Building vmcert (release build: ${CARGO_TARGET_DIR:-target}/release/vmcert)"
cargo build --release -p vmcert
vmcert="${CARGO_TARGET_DIR:-$repo/target}/release/vmcert"
[ -x "$vmcert" ] || die "the build did not produce $vmcert"

echo "== 3/5 Starting a lab VM (scenario $scenario)"
name="demo-$$"
export VMCERT_LAB_OWNER=$$
trap 'echo "== Stopping the lab VM $name"; bash tests/lab/vm.sh stop "$name" >/dev/null 2>&1 || true' EXIT
facts=$(bash tests/lab/vm.sh start "$scenario" "$name")
fact() {
  sed -n "s/^$1=//p" <<<"$facts"
}
target="ssh://$(fact USER)@$(fact HOST):$(fact PORT)"
known_hosts=$(fact KNOWN_HOSTS)
key=$(fact KEY_ED25519)
# The sudo password travels in an environment variable, never on a command line.
VMCERT_DEMO_SUDO_PASSWORD=$(fact PASSWORD)
export VMCERT_DEMO_SUDO_PASSWORD
auth=(--known-hosts "$known_hosts" --identity "$key")
[ -n "$VMCERT_DEMO_SUDO_PASSWORD" ] && auth+=(--sudo-password-env VMCERT_DEMO_SUDO_PASSWORD)
echo "VM $name is up at $target (host key $(fact HOST_KEY_FINGERPRINT))"

echo "== 4/5 Test Connection: vmcert connect --target $target"
"$vmcert" connect --target "$target" "${auth[@]}" || true

echo "== 5/5 Certifying: vmcert run --target $target --answers tests/lab/demo-answers.toml"
code=0
"$vmcert" run --target "$target" "${auth[@]}" --answers tests/lab/demo-answers.toml \
  --non-interactive --name "demo-$scenario" --out "$out" || code=$?
[ -f "$out" ] || die "vmcert exited $code without writing the report"
echo
case $code in
  0) echo "Exit 0: no check failed." ;;
  1) echo "Exit 1: some checks failed (the planted defects)." ;;
  *) echo "Exit $code: some checks are in Error; in a lab VM single-root-partition and os-disk-first-mib-free cannot be evaluated (it has no disk of its own)." ;;
esac
echo "Report: $out"
