#!/usr/bin/env bash
# Issue 17 item 10, output amplification: a check pack of 30 probes each printing 9 MB of base64
# on stdout and on stderr (over the 8 MiB per-stream cap), run with `vmcert run --local`. Prints
# the zip's size, the uncompressed size of its entries, the peak RSS and wall time of the run
# (/usr/bin/time -v) and whether `vmcert report verify` accepts the zip. Usage:
#   bash bench/output_budget.sh [VMCERT_BINARY]   (default: target/release/vmcert)
# The figures go into bench/BENCHMARKS.md by hand (section "Output budget").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../target/release/vmcert}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq -w 0 29); do
  printf '[[check]]\nid = "flood-%s"\ntitle = "flood %s"\nos = "linux"\ncommand = "base64 /dev/urandom | head -c 9000000; base64 /dev/urandom | head -c 9000000 >&2"\n\n' "$i" "$i"
done >"$work/flood.toml"
set +e
/usr/bin/time -v "$bin" run --local --check-pack "$work/flood.toml" --non-interactive \
  --allow-unanswered --out "$work/r.zip" >"$work/run.out" 2>"$work/run.err"
echo "run exit status: $? (2 expected: the floods are Error)"
set -e
grep -E 'Maximum resident|Elapsed' "$work/run.err"
python3 - "$work/r.zip" <<'PY'
import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
print(f"zip: {os.path.getsize(sys.argv[1])} bytes, {len(z.infolist())} entries, "
      f"{sum(i.file_size for i in z.infolist())} bytes uncompressed, "
      f"report.html {z.getinfo('report.html').file_size} bytes")
PY
"$bin" report verify "$work/r.zip" | head -1
