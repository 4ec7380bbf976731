#!/usr/bin/env bash
#: The README's first command: certifies a real Linux VM end to end on this machine.
#: Installs the prerequisites (install-prereqs.sh: apt packages, QEMU, the cached Debian 12 lab
#: root), builds vmcert in release mode (target/release/vmcert), then certifies one of two VMs:
#:
#:   qemu (default when the machine can run it): a real VM under QEMU (TCG, no KVM needed), booted
#:     by GRUB from the very fixed VHD a publisher would upload, built by tests/qemu/build-image.sh
#:     (cached layers; the first build on a machine debootstraps for about 3 minutes). The VHD is
#:     checked with `vmcert vhd inspect`, the VM is booted (about a minute under TCG) and certified
#:     over SSH on a forwarded loopback port. It shows what only a real disk and kernel can show.
#:   lab: a namespace lab VM (tests/lab/vm.sh, the `defects-ssh` scenario): a Debian 12 root in
#:     network/PID/mount namespaces sharing this machine's kernel. Starts in about a second: the
#:     fast path. Chosen when asked, or when the machine cannot run the QEMU VM (not x86_64, no
#:     qemu-system-x86_64, too little free memory or disk), with a message saying why.
#:
#: Either way: `vmcert connect` shows what it finds, `vmcert run` certifies the VM over SSH with
#: a key and the answers in demo-answers.toml, the summary and the report path are printed, every
#: stage says how long it took, and the VM is stopped by its PID on exit, failure or Ctrl-C.
#:
#:   sudo bash tests/lab/demo.sh                     # run as root on Debian 12, from anywhere
#:   sudo VMCERT_DEMO_VM=lab bash tests/lab/demo.sh  # the namespace lab: the fast path
#:
#: Environment:
#:   VMCERT_DEMO_VM       auto (default: qemu when the machine can run it, else lab) | qemu | lab
#:   VMCERT_DEMO_VARIANT  qemu image variant (default first-partition-1024; build-image.sh --list)
#:   VMCERT_DEMO_SCENARIO lab scenario (default defects-ssh; any file of tests/lab/scenarios/)
#:   VMCERT_DEMO_OUT      report path (default ./vmcert-demo_<time>.zip in the current directory)
#:   CARGO_TARGET_DIR; the QEMU scripts' own variables (ACCEL, MEM, VMCERT_QEMU_CACHE,
#:   VMCERT_QEMU_OUT: tests/qemu/README.md) and the lab's (tests/lab/README.md).
set -euo pipefail

die() {
  echo "demo.sh: $*" >&2
  exit 1
}

start_dir=$PWD
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
[ "$(id -u)" = 0 ] || die "must run as root (apt, QEMU, network namespaces, overlay mounts): sudo bash tests/lab/demo.sh"
command -v cargo >/dev/null ||
  die "cargo is not installed: install Rust 1.95 or newer (https://rustup.rs), then run this again"
mode=${VMCERT_DEMO_VM:-auto}
case $mode in auto | qemu | lab) ;; *) die "VMCERT_DEMO_VM must be auto, qemu or lab, not '$mode'" ;; esac
# first-partition-1024: the golden image with one disk-layout defect (the first partition starts
# at sector 1024, inside the first MiB Azure reserves). It reads better than golden, which passes
# everything but one Warning: `vhd inspect` fails the VHD itself (vhd-first-mib-free) before any
# VM runs, `vmcert run` fails os-disk-first-mib-free on the booted VM, a check the namespace lab
# cannot evaluate, and the rest is the clean image's Pass and its one Warning (apt lists removed,
# so pending security updates cannot be told).
variant=${VMCERT_DEMO_VARIANT:-first-partition-1024}
scenario=${VMCERT_DEMO_SCENARIO:-defects-ssh}
out=${VMCERT_DEMO_OUT:-$start_dir/vmcert-demo_$(date +%Y%m%d-%H%M%S).zip}

# Stage timing: `stage LABEL HEADLINE` closes the previous stage (printing its time) and opens the
# next; `stage ""` closes the last one.
t_start=$(date +%s)
t_stage=$t_start
stage_label=
timings=()
stage() {
  local now
  now=$(date +%s)
  if [ -n "$stage_label" ]; then
    echo "   ($stage_label: $((now - t_stage)) s)"
    timings+=("$(printf '%5d s  %s' $((now - t_stage)) "$stage_label")")
  fi
  t_stage=$now
  stage_label=$1
  [ -z "$1" ] || echo "== $2"
}

# The VM to stop on exit: set once something was started, so the trap is safe (set -u) on every
# path, including a failure or Ctrl-C before or while the VM starts.
qemu_dir=
lab_name=
cleanup() {
  if [ -n "$qemu_dir" ]; then
    echo "== Stopping the QEMU VM ($qemu_dir)"
    bash tests/qemu/vm.sh stop "$qemu_dir" >/dev/null 2>&1 || true
  fi
  if [ -n "$lab_name" ]; then
    echo "== Stopping the lab VM $lab_name"
    bash tests/lab/vm.sh stop "$lab_name" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stage prerequisites "Prerequisites (tests/lab/install-prereqs.sh; the first time about 2-5 minutes: apt, the lab root)"
bash tests/lab/install-prereqs.sh

stage "vmcert build" "Building vmcert (release build: ${CARGO_TARGET_DIR:-target}/release/vmcert; a few minutes the first time)"
cargo build --release -p vmcert
vmcert="${CARGO_TARGET_DIR:-$repo/target}/release/vmcert"
[ -x "$vmcert" ] || die "the build did not produce $vmcert"

# Why this machine cannot run the QEMU VM (empty when it can). TCG needs no KVM, but the image is
# x86_64, the VM takes 1 GiB of RAM (MEM) plus QEMU's own, and a build about 2 GiB of disk (3 GiB
# the first time, with the cached root) in the cache and in the output directory.
qemu_cache=${VMCERT_QEMU_CACHE:-/var/cache/vmcert-lab/qemu}
qemu_dir_wanted=${VMCERT_QEMU_OUT:-/var/tmp/vmcert-qemu}/demo
free_mib() { # free MiB on the filesystem holding $1 (or its nearest existing parent)
  local d=$1
  while [ ! -d "$d" ]; do d=$(dirname "$d"); done
  df -Pm "$d" | awk 'NR == 2 { print $4 }'
}
why_no_qemu() {
  local mem need_mem=$((${MEM:-1024} + 512))
  [ "$(uname -m)" = x86_64 ] || { echo "this machine is $(uname -m), the QEMU image is x86_64"; return; }
  command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 is not installed"; return; }
  qemu-system-x86_64 -accel help 2>/dev/null | grep -x tcg >/dev/null || { echo "qemu-system-x86_64 has no TCG accelerator"; return; }
  command -v qemu-img >/dev/null || { echo "qemu-img is not installed"; return; }
  mem=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
  [ "$mem" -ge "$need_mem" ] || { echo "only $mem MiB of memory available, the VM needs $need_mem MiB"; return; }
  [ "$(free_mib "$qemu_cache")" -ge 3072 ] || { echo "less than 3 GiB free for $qemu_cache"; return; }
  [ "$(free_mib "$qemu_dir_wanted")" -ge 3072 ] || { echo "less than 3 GiB free for $qemu_dir_wanted"; return; }
}
stage ""
if [ "$mode" != lab ]; then
  why=$(why_no_qemu)
  if [ -n "$why" ]; then
    [ "$mode" = auto ] || die "VMCERT_DEMO_VM=qemu, but this machine cannot run the QEMU VM: $why"
    echo "demo.sh: this machine cannot run the QEMU VM ($why): certifying a namespace lab VM instead"
    mode=lab
  else
    mode=qemu
  fi
fi

auth=()
if [ "$mode" = qemu ]; then
  stage "image build" "Building the QEMU image '$variant' (tests/qemu/build-image.sh: seconds when cached, about 3 minutes the first time)"
  image=$(bash tests/qemu/build-image.sh --out "$qemu_dir_wanted" "$variant" | tail -n 1)
  vhd="$qemu_dir_wanted/disk.vhd"
  [ -f "$vhd" ] || die "build-image.sh did not produce $vhd: $image"

  stage "vhd inspect" "Checking the VHD before upload: vmcert vhd inspect $vhd"
  inspect=0
  "$vmcert" vhd inspect "$vhd" --role os --os linux || inspect=$?
  case $inspect in
    0) echo "Exit 0: the VHD is acceptable." ;;
    1) echo "Exit 1: the VHD breaks a rule (the '$variant' image's planted defect shows on the disk itself)." ;;
    *) echo "Exit $inspect: vhd inspect could not read the VHD." ;;
  esac

  stage "boot" "Booting it under QEMU (TCG: about a minute until sshd answers; console: $qemu_dir_wanted/console.log)"
  qemu_dir=$qemu_dir_wanted
  # VM_OWNER_PID: a watcher stops qemu should this script die without running its trap.
  vm=$(VM_OWNER_PID=$$ bash tests/qemu/vm.sh start "$qemu_dir" | tail -n 1)
  json() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$2"; }
  target="ssh://$(json user "$image")@127.0.0.1:$(json port "$vm")"
  auth=(--known-hosts "$(json known_hosts "$vm")" --identity "$(json key "$image")")
  name="demo-qemu-$variant"
  echo "VM up at $target after $(json boot_seconds "$vm") s (qemu pid $(json pid "$vm"), key-only login, passwordless sudo)"
else
  stage "lab VM start" "Starting a namespace lab VM (scenario $scenario)"
  lab_name="demo-$$"
  export VMCERT_LAB_OWNER=$$
  facts=$(bash tests/lab/vm.sh start "$scenario" "$lab_name")
  fact() {
    sed -n "s/^$1=//p" <<<"$facts"
  }
  target="ssh://$(fact USER)@$(fact HOST):$(fact PORT)"
  # The sudo password travels in an environment variable, never on a command line.
  VMCERT_DEMO_SUDO_PASSWORD=$(fact PASSWORD)
  export VMCERT_DEMO_SUDO_PASSWORD
  auth=(--known-hosts "$(fact KNOWN_HOSTS)" --identity "$(fact KEY_ED25519)")
  [ -z "$VMCERT_DEMO_SUDO_PASSWORD" ] || auth+=(--sudo-password-env VMCERT_DEMO_SUDO_PASSWORD)
  name="demo-$scenario"
  echo "VM $lab_name is up at $target (host key $(fact HOST_KEY_FINGERPRINT))"
fi

stage connect "Test Connection: vmcert connect --target $target"
"$vmcert" connect --target "$target" "${auth[@]}" || true

stage run "Certifying: vmcert run --target $target --answers tests/lab/demo-answers.toml"
code=0
# --timeout 300: under TCG the slowest probe (apt's upgrade simulation) can pass the default 60 s.
"$vmcert" run --target "$target" "${auth[@]}" --answers tests/lab/demo-answers.toml \
  --non-interactive --timeout 300 --name "$name" --out "$out" || code=$?
[ -f "$out" ] || die "vmcert exited $code without writing the report"
stage ""
echo
case $mode:$code in
  *:0) echo "Exit 0: no check failed." ;;
  qemu:1) echo "Exit 1: some checks failed (the planted defect of the '$variant' image)." ;;
  lab:1) echo "Exit 1: some checks failed (the planted defects)." ;;
  lab:*) echo "Exit $code: some checks are in Error; in a lab VM single-root-partition and os-disk-first-mib-free cannot be evaluated (it has no disk of its own)." ;;
  *) echo "Exit $code: some checks are in Error (see the report)." ;;
esac
echo "Report: $out"
[ "$mode" = lab ] || echo "VHD: $qemu_dir_wanted/disk.vhd (kept; the VM ran on a throwaway overlay)"
echo "Time per stage ($mode VM):"
printf '%s\n' "${timings[@]}"
printf '%5d s  total\n' $(($(date +%s) - t_start))
