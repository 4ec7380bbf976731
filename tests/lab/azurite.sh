#!/usr/bin/env bash
#: Azurite (Microsoft's Azure Storage emulator, blob service only) for the upload and VHD-over-SAS
#: tests: install it once into a cache outside the repository, start it on loopback recording the
#: real server PID (node runs main.js directly, not the .bin shim), stop it by that PID.
#:
#:   azurite.sh install                    npm install azurite@3.35.0 into $CACHE (idempotent)
#:   azurite.sh start PORT [OWNER_PID]     start on 127.0.0.1:PORT, wait until it answers, print its PID;
#:                                         with OWNER_PID, a watchdog stops it by PID once OWNER_PID exits
#:   azurite.sh stop PID                   stop the server started with that PID
#:
#: 3.35.0 is pinned: 3.36+ need node >= 21 and Debian 12 ships node 20 (research/feasibility.md §4).
set -euo pipefail
VERSION=3.35.0
CACHE=${VMCERT_LAB_CACHE:-/var/cache/vmcert-lab}/azurite
MAIN="$CACHE/node_modules/azurite/dist/src/blob/main.js"

die() { echo "azurite.sh: $*" >&2; exit 1; }

install() {
  command -v node >/dev/null || die "node is missing (apt-get install nodejs npm)"
  command -v npm >/dev/null || die "npm is missing (apt-get install npm)"
  if [ -f "$MAIN" ] && [ "$(node -p "require('$CACHE/node_modules/azurite/package.json').version")" = "$VERSION" ]; then
    return 0
  fi
  mkdir -p "$CACHE"
  (cd "$CACHE" && npm install --no-audit --no-fund --loglevel=error "azurite@$VERSION" >&2)
  [ -f "$MAIN" ] || die "npm install azurite@$VERSION did not produce $MAIN"
}

start() {
  local port=${1:?usage: azurite.sh start PORT [OWNER_PID]} owner=${2:-}
  command -v node >/dev/null || die "node is missing (apt-get install nodejs)"
  [ -f "$MAIN" ] || die "Azurite is not installed in $CACHE: run tests/lab/install-prereqs.sh (or tests/lab/azurite.sh install)"
  local log
  log=$(mktemp -t vmcert-azurite.XXXXXX.log)
  node "$MAIN" --blobHost 127.0.0.1 --blobPort "$port" --inMemoryPersistence --silent \
    --disableTelemetry --skipApiVersionCheck --loose </dev/null >"$log" 2>&1 &
  local pid=$!
  if [ -n "$owner" ]; then
    # Watchdog: the test binary may panic or be killed; Azurite must not outlive it.
    ( while kill -0 "$owner" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 0.5; done
      kill "$pid" 2>/dev/null || true ) </dev/null >/dev/null 2>&1 &
  fi
  local _
  for _ in $(seq 1 200); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
      rm -f "$log"
      echo "$pid"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; rm -f "$log"; die "Azurite exited before answering on port $port"; }
    sleep 0.05
  done
  kill "$pid" 2>/dev/null || true
  cat "$log" >&2; rm -f "$log"
  die "Azurite did not answer on 127.0.0.1:$port within 10 s"
}

stop() {
  local pid=${1:?usage: azurite.sh stop PID}
  kill "$pid" 2>/dev/null || return 0
  local _
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) die "usage: azurite.sh install | start PORT [OWNER_PID] | stop PID" ;;
esac
