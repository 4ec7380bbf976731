#!/usr/bin/env bash
# Runs vmcert's property tests of hostile input (issue 17) longer than `cargo test` does: the
# frame parsers (sh and PowerShell), the SAS redaction, the report zip reader and the vendored
# winrm-rs's SOAP, NTLM challenge and sealed-body parsers, CASES cases each
# (default 20000; `cargo test` runs a few hundred). A failure prints the smallest input proptest
# found; make it a regression test next to the property.
#
# Usage: bash fuzz/run.sh [CASES]
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-20000}
export VMCERT_PROPTEST_CASES=$cases
nice -n 5 cargo test --release -p vmcert-checks props
nice -n 5 cargo test --release -p vmcert --bin vmcert props
nice -n 5 cargo test --release -p vmcert-tests --test winrm_props
