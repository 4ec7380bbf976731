#!/usr/bin/env bash
#: Starts, stops and logs into the VM that tests/qemu/build-image.sh built in DIR. The VM boots
#: from the fixed VHD itself (SeaBIOS -> GRUB in the image -> the image's kernel), the way Azure
#: would boot it: there is no -kernel. qemu-system-x86_64 runs daemonized, known by its PID file;
#: SSH is forwarded from a loopback port; the serial console goes to DIR/console.log.
#: By default the VM runs on a throwaway overlay (-snapshot), so DIR/disk.vhd stays exactly as
#: built while and after the VM runs (it can be inspected or uploaded as the artifact under test).
#:
#: Usage: vm.sh start DIR          boot, wait until sshd answers; prints one JSON line (port, pid, ...)
#:        vm.sh stop DIR           stop the VM (SIGTERM, then SIGKILL after 10 s), by its PID
#:        vm.sh ssh DIR [CMD...]   the real OpenSSH client, as the login user, key only (BatchMode)
#: Env:   PORT      loopback port for SSH (default: the first free one from 2522)
#:        ACCEL     tcg (default) | kvm. KVM only when asked: it needs real VT-x/AMD-V (the project
#:                  machine's /dev/kvm is kvm-pvm, on which a stock kernel hangs, see README.md)
#:        CPU (default max with tcg, host with kvm), MEM=1024 (MiB), SMP=2, SNAPSHOT=1,
#:        TIMEOUT=300   seconds to wait for sshd before failing with the console's tail
#:        VM_OWNER_PID  when set, a watcher stops the VM once that process is gone (a test binary
#:                      that was killed never runs its `vm.sh stop`)
set -euo pipefail

die() { printf 'vm.sh: error: %s\n' "$*" >&2; exit 1; }
on_err() { printf 'vm.sh: error: line %s failed: %s\n' "$1" "$BASH_COMMAND" >&2; }
trap 'on_err $LINENO' ERR
usage() { echo "usage: $0 start|stop|ssh DIR [CMD...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
ACTION=$1; DIR=$(cd "$2" 2>/dev/null && pwd) || die "no such directory: $2"; shift 2
PIDF=$DIR/vm.pid; CONSOLE=$DIR/console.log; KNOWN=$DIR/known_hosts; VMJSON=$DIR/vm.json

running() { [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; }

ssh_cmd() {  # the one ssh command line every caller uses (the port comes from vm.json)
  local port user
  [ -f "$VMJSON" ] || die "no VM started from $DIR (vm.sh start $DIR)"
  port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$VMJSON")
  user=$(sed -n 's/.*"user":"\([^"]*\)".*/\1/p' "$DIR/image.json")
  SSH=(ssh -F /dev/null -i "$DIR/id_ed25519" -p "$port" -o BatchMode=yes -o IdentitiesOnly=yes
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KNOWN" -o ConnectTimeout=10
    -o LogLevel=ERROR "$user@127.0.0.1")
}

case $ACTION in
stop)
  running || { rm -f "$PIDF"; exit 0; }
  pid=$(cat "$PIDF"); kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; sleep 0.2; fi
  rm -f "$PIDF"; echo "stopped qemu $pid" >&2; exit 0;;
ssh) ssh_cmd; exec "${SSH[@]}" "$@";;
start) ;;
*) usage;;
esac

# start
[ "$(id -u)" = 0 ] || die "must run as root"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing (run tests/lab/install-prereqs.sh)"
command -v ssh >/dev/null || die "ssh (OpenSSH client) is missing (run tests/lab/install-prereqs.sh)"
{ [ -f "$DIR/disk.vhd" ] && [ -f "$DIR/image.json" ]; } || die "$DIR has no built image (tests/qemu/build-image.sh --out $DIR VARIANT)"
running && die "a VM is already running from $DIR (pid $(cat "$PIDF"))"

port_free() { [ -z "$(ss -Htln "sport = :$1")" ]; }
if [ -z "${PORT:-}" ]; then
  PORT=2522; while ! port_free "$PORT"; do PORT=$((PORT + 1)); [ "$PORT" -lt 2622 ] || die "no free port in 2522..2621"; done
fi
ACCEL=${ACCEL:-tcg}
case $ACCEL in
  tcg) CPU=${CPU:-max};;
  kvm) CPU=${CPU:-host}; [ -w /dev/kvm ] || die "ACCEL=kvm but /dev/kvm is not usable";;
  *) die "ACCEL must be tcg or kvm, not $ACCEL";;
esac
SNAP=(); [ "${SNAPSHOT:-1}" = 0 ] || SNAP=(-snapshot)
TIMEOUT=${TIMEOUT:-300}

# The host keys build-image.sh generated: the client checks them strictly.
sed "s/^/[127.0.0.1]:$PORT /" "$DIR/host_keys.pub" > "$KNOWN"
rm -f "$CONSOLE" "$VMJSON"
printf '{"port":%d,"user":"%s"}\n' "$PORT" "$(sed -n 's/.*"user":"\([^"]*\)".*/\1/p' "$DIR/image.json")" > "$VMJSON"

T0=$(date +%s%N)
# -nodefaults: no CD-ROM, floppy or VGA, so the VHD is the only disk (vda), like an OS disk.
qemu-system-x86_64 -nodefaults -machine pc -accel "$ACCEL" -cpu "$CPU" -m "${MEM:-1024}" -smp "${SMP:-2}" \
  -display none -monitor none -serial "file:$CONSOLE" -daemonize -pidfile "$PIDF" \
  -drive "file=$DIR/disk.vhd,if=virtio,format=vpc,cache=unsafe" "${SNAP[@]}" \
  -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:22" -device virtio-net-pci,netdev=n0 \
  || die "qemu-system-x86_64 did not start (port $PORT taken?)"

if [ -n "${VM_OWNER_PID:-}" ]; then
  qpid=$(cat "$PIDF")
  # shellcheck disable=SC2016 # $0 and $1 belong to the watcher's shell
  setsid bash -c 'while kill -0 "$0" && kill -0 "$1"; do sleep 2; done; kill -0 "$0" || kill "$1"' \
    "$VM_OWNER_PID" "$qpid" < /dev/null > /dev/null 2>&1 &
fi

ssh_cmd
secs() { local ms=$((($(date +%s%N) - T0) / 1000000)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
fail() {
  echo "vm.sh: --- last 40 lines of $CONSOLE ---" >&2; tail -n 40 "$CONSOLE" >&2 || true
  "$0" stop "$DIR" 2>/dev/null || true
  die "$*"
}
while :; do
  if "${SSH[@]}" true 2>/dev/null; then break; fi
  running || fail "qemu exited before sshd answered"
  [ $((($(date +%s%N) - T0) / 1000000000)) -lt "$TIMEOUT" ] || fail "sshd did not answer on 127.0.0.1:$PORT within ${TIMEOUT}s"
  sleep 1
done
printf '{"port":%d,"user":"%s","pid":%d,"accel":"%s","console":"%s","known_hosts":"%s","boot_seconds":%s}\n' \
  "$PORT" "${SSH[-1]%@*}" "$(cat "$PIDF")" "$ACCEL" "$CONSOLE" "$KNOWN" "$(secs)" | tee "$VMJSON"
