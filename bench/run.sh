#!/usr/bin/env bash
# bench/run.sh: the benchmarks of vmcert, one command (as root, after
# tests/lab/install-prereqs.sh): builds the release binary, prepares a Python venv with
# pytest-testinfra + paramiko OUTSIDE the repo (BENCH_VENV, default /var/tmp/vmcert-bench-venv),
# then bench/bench.py starts lab VMs, measures, stops every VM it started (also on failure or
# Ctrl-C) and writes bench/BENCHMARKS.md (figures also in bench/results.json; `bash bench/run.sh
# --only single|fleet|report|windows|image` re-measures one part and keeps the others).
#
# Knobs: BENCH_RUNS (runs per single-target and Windows figure, default 5), BENCH_FLEET_RUNS (runs per fleet
# size, default 3), BENCH_FLEET_SIZES (default "1 10 50 100"), BENCH_RTT_MS (round-trip times added
# for the single-target figures besides none, default "30 80").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
if [ "$(id -u)" != 0 ]; then
  echo "bench/run.sh: run as root (lab VMs need namespaces and mounts)" >&2
  exit 2
fi
target_dir=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && CARGO_TARGET_DIR=$target_dir cargo build --release -p vmcert)
venv=${BENCH_VENV:-/var/tmp/vmcert-bench-venv}
if [ ! -x "$venv/bin/pytest" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet pytest-testinfra paramiko
fi
exec python3 "$here/bench.py" --vmcert "$target_dir/release/vmcert" --venv "$venv" \
  --out "$here/BENCHMARKS.md" "$@"
