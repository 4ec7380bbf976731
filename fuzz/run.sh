#!/usr/bin/env bash
# Runs vmcert's property tests of hostile input (issue 17) longer than `cargo test` does, CASES
# cases each (default 20000; `cargo test` runs a few dozen to a few hundred): every test named
# `props::...`. In vmcert-checks: every check's parser of probe output (tests/check_props.rs), the
# check packs, waivers and questionnaire answers (tests/toml_props.rs), the VHD footer, MBR, GPT
# and rules (src/vhd/props.rs), versions, SAS URLs and redaction. In the agent: the frame parsers
# (sh and PowerShell), the report zip reader, the fleet inventory, known_hosts, key files, the
# ssh:// and winrm:// targets, host key fingerprints, sudo's output and the blob service's error
# replies. In vmcert-tests (tests/winrm_props.rs): the vendored winrm-rs's SOAP, NTLM challenge
# and sealed-body parsers. A failure prints the smallest input proptest found; make it a regression test next to
# the property.
#
# Usage: bash fuzz/run.sh [CASES]
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-20000}
export VMCERT_PROPTEST_CASES=$cases
nice -n 5 cargo test --release -p vmcert-checks props
nice -n 5 cargo test --release -p vmcert --bin vmcert props
nice -n 5 cargo test --release -p vmcert-tests --test winrm_props
