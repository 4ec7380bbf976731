#!/usr/bin/env bash
# Runs vmcert's hostile-input tests (issue 17) longer than CI does: first the property tests
# (proptest) of the frame parsers (sh and PowerShell), the SAS redaction and the report zip
# reader, CASES cases each (default 20000; `cargo test` runs a few hundred), then the
# coverage-guided fuzzer (fuzz/afl.sh: AFL++ through cargo-afl) on every target for SECONDS each
# (default 60; CI runs 8). A property failure prints the smallest input proptest found; a fuzzer
# crash prints the input. Make either a regression test in the crate that owns the parser (and
# save a fuzzer's input as fuzz/corpus/<target>/regression-<what>), then fix the bug.
#
# Usage: bash fuzz/run.sh [SECONDS] [CASES]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
cases=${2:-20000}
export VMCERT_PROPTEST_CASES=$cases
nice -n 5 cargo test --release -p vmcert-checks props
nice -n 5 cargo test --release -p vmcert --lib props
bash fuzz/afl.sh "$secs"
