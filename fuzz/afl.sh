#!/usr/bin/env bash
# Coverage-guided fuzzing of vmcert's parsers of hostile input (issue 17) with AFL++ through
# cargo-afl, on the stable toolchain (cargo-fuzz needs nightly). Runs each target of
# fuzz/src/lib.rs for SECONDS from its seeds in fuzz/corpus/<target>/, prints executions and
# executions per second, and fails if any target crashed or hung: each crashing input is printed
# (base64) with the panic it causes, reproduced by the plain build of the harness.
#
# Usage: bash fuzz/afl.sh SECONDS [TARGET...]      (every target when none is named)
#   tests/run.sh (CI) runs it for a few seconds per target; fuzz/run.sh for longer.
#
# What it needs, installed here when missing (so a fresh CI machine can run it): cargo-afl
# 0.18.2 from crates.io into $VMCERT_FUZZ_TOOLS (default /var/cache/vmcert-fuzz), whose install
# builds AFL++ (bundled in the crate, no download) under ~/.local/share/afl.rs with make and cc.
# The instrumented build goes to target/afl (profile `fuzz`: optimized, overflow checks on), the
# fuzzer's findings to target/afl/out/<target> (new inputs in queue/, crashes in crashes/).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:?usage: fuzz/afl.sh SECONDS [TARGET...]}
shift
root=$PWD
tools=${VMCERT_FUZZ_TOOLS:-/var/cache/vmcert-fuzz}
afl_version=0.18.2
export PATH="$tools/bin:$PATH"

case "$(cargo afl --version 2>/dev/null || true)" in
  "cargo-afl $afl_version "*) ;;
  *)
    echo "fuzz: installing cargo-afl $afl_version into $tools (builds AFL++)"
    cargo install --locked --quiet --version "$afl_version" cargo-afl --root "$tools"
    ;;
esac
data=${XDG_DATA_HOME:-$HOME/.local/share}/afl.rs
if ! compgen -G "$data/rustc-*/afl.rs-$afl_version/afl/bin/afl-fuzz" >/dev/null; then
  echo "fuzz: building AFL++ for this toolchain"
  cargo afl config --build --force
fi

echo "fuzz: building the instrumented harness (target/afl) and the reproducer (target/debug)"
CARGO_TARGET_DIR=target/afl nice -n 5 cargo afl build --quiet --profile fuzz -p vmcert-fuzz --features afl
nice -n 5 cargo build --quiet -p vmcert-fuzz
harness=$root/target/afl/fuzz/vmcert-fuzz
repro=$root/target/debug/vmcert-fuzz

if [ $# -eq 0 ]; then
  # The harness lists its targets when given none.
  read -r -a targets < <("$repro" 2>&1 </dev/null | sed -n 's/^targets: //p')
else
  targets=("$@")
fi

# No UI (a log instead), no CPU pinning or frequency check on a shared machine, and a machine
# whose core dumps go to a handler still reports crashes (the harness aborts on a panic).
export AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_FAST_CAL=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SUPPRESS_DICTIONARY=1 AFL_NO_WARN_INSTABILITY=1
# The fuzzed code runs with no RUST_LOG (tracing stays off) and no backtraces to slow it.
unset RUST_LOG RUST_BACKTRACE

stat() { sed -n "s/^$1 *: *//p" "$2" 2>/dev/null | head -1; }

failed=()
printf '%-16s %6s %12s %10s %7s %7s %6s\n' target seconds execs execs/s corpus crashes hangs
for t in "${targets[@]}"; do
  [ -d "fuzz/corpus/$t" ] || { echo "fuzz: no corpus fuzz/corpus/$t (unknown target?)" >&2; exit 2; }
  out=target/afl/out/$t
  rm -rf "$out"
  mkdir -p "$out"
  # -V: stop after SECONDS; -t: an input taking over 2 s is a hang.
  if ! cargo afl fuzz -V "$secs" -t 2000 -i "fuzz/corpus/$t" -o "$out" -- "$harness" "$t" \
    >"$out/afl.log" 2>&1; then
    echo "fuzz: afl-fuzz failed on $t; its log:" >&2
    tail -n 30 "$out/afl.log" >&2
    failed+=("$t")
    continue
  fi
  s=$out/default/fuzzer_stats
  crashes=("$out"/default/crashes/id:*)
  hangs=("$out"/default/hangs/id:*)
  [ -e "${crashes[0]}" ] || crashes=()
  [ -e "${hangs[0]}" ] || hangs=()
  printf '%-16s %6s %12s %10s %7s %7s %6s\n' "$t" "$(stat run_time "$s")" "$(stat execs_done "$s")" \
    "$(stat execs_per_sec "$s")" "$(stat corpus_count "$s")" "${#crashes[@]}" "${#hangs[@]}"
  for c in "${crashes[@]}"; do
    echo "fuzz: $t crashed on $c (base64 below); reproduce: $repro $t < FILE" >&2
    base64 -w 100 "$c" | head -n 40 >&2
    RUST_BACKTRACE=0 "$repro" "$t" <"$c" 2>&1 | tail -n 5 >&2 || true
    failed+=("$t")
  done
  # A hang is confirmed by the plain build: over 20 s for one input, on any machine load.
  for h in "${hangs[@]}"; do
    if ! timeout 20 "$repro" "$t" <"$h" >/dev/null 2>&1; then
      echo "fuzz: $t hangs (over 20 s) on $h (base64 below)" >&2
      base64 -w 100 "$h" | head -n 40 >&2
      failed+=("$t")
    fi
  done
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (save each input as fuzz/corpus/<target>/regression-<what>, fix, add a test in the crate that owns the parser)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${secs} s each: no crash, no hang"
