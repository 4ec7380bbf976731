#!/usr/bin/env bash
#: Stops the WS-Man test server that start.sh started in --state-dir DIR, by its recorded PID
#: (only if that PID is still our serve.py): SIGTERM, then SIGKILL after 5 s. Idempotent.
set -euo pipefail
if [ "${1:-}" != "--state-dir" ] || [ -z "${2:-}" ]; then
  echo "usage: stop.sh --state-dir DIR" >&2
  exit 2
fi
pidfile="$2/pid"
[ -s "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
if ! grep -qa "serve.py" "/proc/$pid/cmdline" 2>/dev/null; then
  rm -f "$pidfile"
  exit 0
fi
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 50); do
  kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; exit 0; }
  sleep 0.1
done
kill -KILL "$pid" 2>/dev/null || true
rm -f "$pidfile"
