#!/usr/bin/env bash
#: The project's test command (README, `.ci/run`): installs what the tests need on a fresh
#: Debian machine, then checks formatting and lints and runs every test of the workspace,
#: including the end-to-end tests against the real lab targets, then fuzzes every parser of
#: hostile input for a few seconds each (fuzz/afl.sh; fails on a crash or a hang). Needs root
#: (apt, namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/lab/install-prereqs.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace
cargo test --workspace
# 18 targets x 8 s plus AFL++'s start-up: about 3 minutes on 2 CPUs.
bash fuzz/afl.sh 8
