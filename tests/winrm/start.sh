#!/usr/bin/env bash
#: Starts the WS-Man test server (a stand-in for a Windows Server's WinRM service) on
#: 127.0.0.1 and waits until it answers. Usage:
#:   start.sh --state-dir DIR [serve.py options: --port N --scheme http|https --auth basic,ntlm
#:            --user NAME:PASSWORD ... --machine PROFILE.json --handler MODULE ...]
#: Creates the venv first if needed (venv.sh). Prints the server's server.json on one line
#: (pid, url, port, ca_file, stats_file ...); the PID is the real python process, for stop.sh.
#: Logs go to DIR/server.log. Exit 1 with the log's tail when the server does not come up.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "--state-dir" ] && [ $((i + 1)) -lt ${#args[@]} ]; then state=${args[$((i + 1))]}; fi
done
if [ -z "$state" ]; then
  echo "start.sh: --state-dir DIR is required" >&2
  exit 2
fi
py=$("$here/venv.sh")
mkdir -p "$state"
state=$(cd "$state" && pwd)
rm -f "$state/server.json" "$state/pid"
cd "$here"
"$py" "$here/serve.py" "$@" </dev/null >"$state/server.out" 2>"$state/server.log" &
pid=$!
echo "$pid" >"$state/pid"
for _ in $(seq 1 300); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "start.sh: the server exited during start; $state/server.log:" >&2
    tail -n 20 "$state/server.log" >&2
    exit 1
  fi
  if [ -s "$state/server.json" ] &&
    "$py" - "$state/server.json" "$pid" <<'PY' 2>/dev/null; then
import json, ssl, sys, urllib.request
info = json.load(open(sys.argv[1]))
assert info["pid"] == int(sys.argv[2])
ctx = ssl.create_default_context(cafile=info["ca_file"]) if info["ca_file"] else None
urllib.request.urlopen(info["stats_url"], timeout=2, context=ctx).read()
print(json.dumps(info))
PY
    exit 0
  fi
  sleep 0.1
done
echo "start.sh: the server did not answer within 30 s; $state/server.log:" >&2
tail -n 20 "$state/server.log" >&2
kill "$pid" 2>/dev/null || true
exit 1
