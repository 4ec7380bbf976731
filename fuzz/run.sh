#!/usr/bin/env bash
# Runs vmcert's hostile-input tests (issue 17) longer than CI does. First the property tests,
# CASES cases each (default 20000; `cargo test` runs a few dozen to a few hundred): every test
# named `props::...`. In vmcert-checks: every check's parser of probe output (tests/check_props.rs),
# the check packs, waivers and questionnaire answers (tests/toml_props.rs), the VHD footer, MBR,
# GPT and rules (src/vhd/props.rs), versions, SAS URLs and redaction. In the agent: the frame
# parsers (sh and PowerShell), the report zip reader, the fleet inventory, known_hosts, key files,
# the ssh:// and winrm:// targets, host key fingerprints, sudo's output and the blob service's
# error replies. In vmcert-tests (tests/winrm_props.rs): the vendored winrm-rs's SOAP, NTLM
# challenge and sealed-body parsers. Then the coverage-guided fuzzer (fuzz/afl.sh: AFL++ through
# cargo-afl) on every target for SECONDS each (default 60; CI runs 8).
#
# A property failure prints the smallest input proptest found, a fuzzer crash the input: make it
# a regression test in the crate that owns the parser (and save a fuzzer's input as
# fuzz/corpus/<target>/regression-<what>), then fix the bug.
#
# Usage: bash fuzz/run.sh [SECONDS] [CASES]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
cases=${2:-20000}
export VMCERT_PROPTEST_CASES=$cases
nice -n 5 cargo test --release -p vmcert-checks props
nice -n 5 cargo test --release -p vmcert --lib props
nice -n 5 cargo test --release -p vmcert-tests --test winrm_props
bash fuzz/afl.sh "$secs"
