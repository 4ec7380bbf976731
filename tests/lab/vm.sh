#!/usr/bin/env bash
#: Starts and stops lab VMs: real Debian targets for the end-to-end tests and the demo.
#: A lab VM is the cached bookworm root (build-root.sh) under a per-VM overlay, with its own
#: network namespace (veth pair, /30 in 10.231.0.0/16), PID, mount and UTS namespace, running the
#: root's own sshd on port 22. A scenario (scenarios/<name>.sh) makes it a clean image or plants
#: defects. See README.md in this directory for the facts format and the scenarios.
#:
#:   vm.sh start SCENARIO NAME   start a VM, print its facts (KEY=VALUE lines) on stdout
#:   vm.sh stop NAME             stop it: kill its PID namespace, delete netns, veth and state
#:   vm.sh stop-stale            stop the VMs whose owner process is gone, and orphaned netns/veths
#:   vm.sh stop-all              stop every lab VM and every leftover of crashed runs
#:   vm.sh list                  one line per VM: name scenario host pid owner
#:
#: Environment: VMCERT_LAB_CACHE (root cache, default /var/cache/vmcert-lab), VMCERT_LAB_STATE
#: (state dirs, default /run/vmcert-lab), VMCERT_LAB_OWNER (PID whose death makes the VM stale,
#: default the caller of vm.sh), VMCERT_LAB_KEEP=1 (stop keeps the state dir for debugging).
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${VMCERT_LAB_CACHE:-/var/cache/vmcert-lab}
ROOT="$CACHE/bookworm-root"
STATE_BASE=${VMCERT_LAB_STATE:-/run/vmcert-lab}
NS_PREFIX=vmcert-lab-
VETH_PREFIX=vmlab
VM_USER=azureuser
MAX_VMS=16384

die() {
  echo "vm.sh: $*" >&2
  exit 1
}

need_root() {
  [ "$(id -u)" = 0 ] || die "must run as root (network namespaces, overlay mounts, chroot)"
}

# Fails with the list of what is missing: the tests turn this into a clear failure, never a skip.
check_prereqs() {
  local missing=() c
  for c in ip unshare setsid setarch chroot mount flock ssh-keygen timeout; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing commands: ${missing[*]} (run tests/lab/install-prereqs.sh)"
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
    die "the kernel has no overlayfs"
  local recipe
  recipe=$(sed -n 's/^RECIPE=//p' "$LAB_DIR/build-root.sh")
  [ "$(cat "$ROOT/.vmcert-root-ok" 2>/dev/null)" = "recipe $recipe" ] ||
    die "no lab root of recipe $recipe at $ROOT (run tests/lab/install-prereqs.sh, which builds it)"
}

valid_name() {
  [[ $1 =~ ^[a-z0-9][a-z0-9-]{0,39}$ ]] || die "bad VM name '$1' (a-z, 0-9 and -, at most 40 characters)"
}

# Process start time (clock ticks since boot), to tell a live owner from a reused PID.
starttime() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # Field 22 of /proc/PID/stat is field 20 after "comm)".
  awk '{print $20}' <<<"$stat"
}

# 10.231.0.0/16 split into /30s: VM index i gets .4i+1 (host side) and .4i+2 (the VM).
addr() {
  local n=$(($1 * 4 + $2))
  echo "10.231.$((n >> 8)).$((n & 255))"
}

random_secret() {
  local s
  s=$(head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 20)
  echo "Lab-$s"
}

# ---------------------------------------------------------------------------------------------
# start

cmd_start() {
  [ $# -eq 2 ] || die "usage: vm.sh start SCENARIO NAME"
  local scenario=$1 name=$2
  need_root
  valid_name "$name"
  [ -f "$LAB_DIR/scenarios/$scenario.sh" ] || die "unknown scenario '$scenario' (see $LAB_DIR/scenarios/)"
  check_prereqs
  mkdir -p "$STATE_BASE"
  chmod 700 "$STATE_BASE"

  local owner=${VMCERT_LAB_OWNER:-$PPID} owner_start
  owner_start=$(starttime "$owner") || die "owner process $owner does not exist"

  # Reserve a name and the lowest free index under the lock.
  local S="$STATE_BASE/$name" idx
  exec 9>"$STATE_BASE/.lock"
  flock 9
  [ ! -e "$S" ] || die "VM '$name' exists already (vm.sh stop $name)"
  local used
  used=$(cat "$STATE_BASE"/*/index 2>/dev/null | sort -n || true)
  idx=0
  while grep -qx "$idx" <<<"$used"; do idx=$((idx + 1)); done
  [ "$idx" -lt "$MAX_VMS" ] || die "all $MAX_VMS VM slots are in use"
  mkdir -m 700 "$S"
  echo "$idx" >"$S/index"
  # The owner is known from the start: a VM still being made is never stale to another
  # process's `stop-stale` (it deleted half-made VMs of test processes running side by side).
  printf 'OWNER=%s\nOWNER_START=%s\n' "$owner" "$owner_start" >"$S/vm.env"
  flock -u 9
  exec 9>&-

  # From here on a failure must take down what was made.
  # Expanded now: the trap runs after this function's locals are gone (`name` is [a-z0-9-]).
  # shellcheck disable=SC2064
  trap "stop_vm '$name' >/dev/null 2>&1 || true" EXIT

  local ns="$NS_PREFIX$name" veth="$VETH_PREFIX$idx" hip vip
  hip=$(addr "$idx" 1)
  vip=$(addr "$idx" 2)
  scenario_defaults
  # shellcheck source=/dev/null
  . "$LAB_DIR/scenarios/$scenario.sh"

  local password="" passphrase
  [ "$LOGIN_PASSWORD" = yes ] && password=$(random_secret)
  make_keys "$S/keys"
  passphrase=$(cat "$S/keys/passphrase")
  printf '%s' "$password" >"$S/password"
  printf '%s\n' "$CMDLINE" >"$S/cmdline"
  cat >"$S/vm.env" <<EOF
VM_NAME=$name
SCENARIO=$scenario
OWNER=$owner
OWNER_START=$owner_start
NETNS=$ns
VETH=$veth
HOST_IP=$hip
VM_IP=$vip
EOF

  ip netns add "$ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip addr add "$hip/30" dev "$veth"
  ip link set "$veth" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$vip/30" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$hip"

  # `ip netns exec` execs unshare, and setsid does not fork here: $! is the unshare process.
  # --kill-child: killing unshare kills the VM's PID 1 and with it the whole PID namespace.
  setsid ip netns exec "$ns" unshare --mount --pid --uts --fork --kill-child --propagation private \
    bash "$LAB_DIR/vm.sh" _boot "$scenario" "$S" </dev/null >"$S/console.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$S/pid"

  # Scenarios that run dpkg take seconds (more on a loaded machine): wait up to 3 minutes.
  for _ in $(seq 1 3600); do
    kill -0 "$pid" 2>/dev/null || boot_failed "$name" "$scenario" "died while booting"
    if [ -e "$S/booted" ] && timeout 1 bash -c ">/dev/tcp/$vip/22" 2>/dev/null; then break; fi
    sleep 0.05
  done
  [ -e "$S/booted" ] || boot_failed "$name" "$scenario" "did not boot within 3 minutes"
  timeout 1 bash -c ">/dev/tcp/$vip/22" 2>/dev/null || boot_failed "$name" "$scenario" "sshd does not answer on $vip:22"
  trap - EXIT

  local fp hostkey
  fp=$(ssh-keygen -l -E sha256 -f "$S/keys/ssh_host_ed25519_key.pub" | awk '{print $2}')
  hostkey=$(awk '{print $1" "$2}' "$S/keys/ssh_host_ed25519_key.pub")
  for f in "$S"/keys/ssh_host_*_key.pub; do
    awk -v h="$vip" '{print h" "$1" "$2}' "$f"
  done >"$S/known_hosts"
  {
    echo "NAME=$name"
    echo "SCENARIO=$scenario"
    echo "HOST=$vip"
    echo "PORT=22"
    echo "HOST_IP=$hip"
    echo "HOSTNAME=$name"
    echo "USER=$VM_USER"
    echo "PASSWORD=$password"
    echo "SUDO=$SUDO"
    echo "KEY_ED25519=$S/keys/id_ed25519"
    echo "KEY_RSA_PEM=$S/keys/id_rsa"
    echo "KEY_ECDSA=$S/keys/id_ecdsa"
    echo "KEY_ED25519_ENCRYPTED=$S/keys/id_ed25519_enc"
    echo "PASSPHRASE=$passphrase"
    echo "HOST_KEY=$hostkey"
    echo "HOST_KEY_FINGERPRINT=$fp"
    echo "KNOWN_HOSTS=$S/known_hosts"
    echo "CMDLINE=$CMDLINE"
    echo "NETNS=$ns"
    echo "VETH=$veth"
    echo "PID=$pid"
    echo "SSHD_PID=$(awk '{print $1}' "/proc/$pid/task/$pid/children" 2>/dev/null)"
    echo "STATE_DIR=$S"
    echo "CONSOLE_LOG=$S/console.log"
  } >"$S/facts"
  chmod 600 "$S/facts" "$S/password"
  cat "$S/facts"
}

boot_failed() {
  echo "vm.sh: VM '$1' ($2) $3; its console log:" >&2
  tail -n 40 "$STATE_BASE/$1/console.log" >&2 || true
  exit 1
}

# What every scenario starts from; scenario files override these and define plant().
scenario_defaults() {
  SUDO=password        # password | nopasswd | none: how azureuser may use sudo
  LOGIN_PASSWORD=yes   # yes: azureuser has a password (printed as PASSWORD); no: key-only
  PERSONALITY=""       # e.g. i686: sshd and every session run under `setarch i686`
  FIREWALL_RULES=""    # path inside the root of an iptables-save file loaded at boot
  CMDLINE="BOOT_IMAGE=/boot/vmlinuz-$(uname -r) root=PARTUUID=6b1c6f6e-01 ro quiet"
  plant() { :; }
}

# Client keys in every format the tests use, and the VM's host keys. Generating RSA keys costs
# about 0.7 s of CPU each, so the client keys and the RSA host key are made once per state base
# (under the lock) and copied; the ed25519 and ECDSA host keys are each VM's own.
make_keys() {
  local k=$1 shared="$STATE_BASE/.shared-keys"
  (
    flock 8
    if [ ! -f "$shared/done" ]; then
      rm -rf "$shared"
      mkdir -m 700 "$shared"
      random_secret >"$shared/passphrase"
      ssh-keygen -q -t ed25519 -N '' -C "lab-ed25519" -f "$shared/id_ed25519"
      ssh-keygen -q -t rsa -b 3072 -m PEM -N '' -C "lab-rsa-pem" -f "$shared/id_rsa"
      ssh-keygen -q -t ecdsa -b 256 -N '' -C "lab-ecdsa" -f "$shared/id_ecdsa"
      ssh-keygen -q -t ed25519 -N "$(cat "$shared/passphrase")" -C "lab-ed25519-encrypted" \
        -f "$shared/id_ed25519_enc"
      ssh-keygen -q -t rsa -b 3072 -N '' -C "root@localhost" -f "$shared/ssh_host_rsa_key"
      touch "$shared/done"
    fi
  ) 8>"$STATE_BASE/.keys.lock"
  mkdir -m 700 "$k"
  cp -p "$shared"/id_* "$shared"/ssh_host_rsa_key* "$shared/passphrase" "$k/"
  ssh-keygen -q -t ed25519 -N '' -C "root@localhost" -f "$k/ssh_host_ed25519_key"
  ssh-keygen -q -t ecdsa -b 256 -N '' -C "root@localhost" -f "$k/ssh_host_ecdsa_key"
}

# ---------------------------------------------------------------------------------------------
# boot: runs as PID 1 of the VM's PID namespace, inside its network, mount and UTS namespaces.

cmd_boot() {
  local scenario=$1 S=$2
  # shellcheck source=/dev/null
  . "$S/vm.env"
  # For scenario files: the VM's root, its state dir (host side) and its keys.
  R="$S/root"
  # shellcheck disable=SC2034
  STATE=$S
  mkdir -p "$R" "$S/upper" "$S/work"
  mount -t overlay overlay -o "lowerdir=$ROOT,upperdir=$S/upper,workdir=$S/work" "$R"
  mount -t proc proc "$R/proc"
  # sysfs shows the VM's own network devices (it is mounted from its netns). The host's block
  # devices are hidden behind empty read-only dirs: the VM has no disk of its own, and what
  # other users of the host do with loop or zram devices must not change what the VM shows.
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
  local d
  for d in block dev/block class/block; do
    mount -t tmpfs -o ro,size=4k,mode=755 none "$R/sys/$d"
  done
  # The VM's kernel command line and swap list are its own, not the host's.
  mount --bind "$S/cmdline" "$R/proc/cmdline"
  mount -o remount,bind,ro "$R/proc/cmdline"
  printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n' >"$S/swaps"
  mount --bind "$S/swaps" "$R/proc/swaps"
  mount -o remount,bind,ro "$R/proc/swaps"
  mount -t devpts devpts "$R/dev/pts" -o newinstance,ptmxmode=0666,mode=620,gid=5
  mount --bind "$R/dev/pts/ptmx" "$R/dev/ptmx"
  mount -t tmpfs -o mode=1777,size=64m tmpfs "$R/dev/shm"
  mount -t tmpfs -o mode=755,size=64m tmpfs "$R/run"
  mkdir -p "$R/run/sshd" "$R/run/lock"
  hostname "$VM_NAME"

  KEYS="$S/keys"
  scenario_defaults
  # shellcheck source=/dev/null
  . "$LAB_DIR/scenarios/$scenario.sh"

  # The image as its provisioning would leave it: hostname, hosts, host keys, the admin user.
  echo "$VM_NAME" >"$R/etc/hostname"
  cat >"$R/etc/hosts" <<EOF
127.0.0.1	localhost
127.0.1.1	$VM_NAME
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
  install -m 600 "$KEYS"/ssh_host_*_key "$R/etc/ssh/"
  install -m 644 "$KEYS"/ssh_host_*_key.pub "$R/etc/ssh/"
  in_root useradd -m -s /bin/bash -c "$VM_USER" "$VM_USER"
  if [ "$LOGIN_PASSWORD" = yes ]; then
    printf '%s:%s\n' "$VM_USER" "$(cat "$S/password")" | in_root chpasswd
  fi
  install -d -m 700 "$R/home/$VM_USER/.ssh"
  cat "$KEYS/id_ed25519.pub" "$KEYS/id_rsa.pub" "$KEYS/id_ecdsa.pub" "$KEYS/id_ed25519_enc.pub" \
    >"$R/home/$VM_USER/.ssh/authorized_keys"
  chmod 600 "$R/home/$VM_USER/.ssh/authorized_keys"
  in_root chown -R "$VM_USER:$VM_USER" "/home/$VM_USER/.ssh"
  case $SUDO in
    password) in_root usermod -aG sudo "$VM_USER" ;;
    nopasswd)
      # What cloud-init writes for the provisioned user.
      printf '\n# User rules for %s\n%s ALL=(ALL) NOPASSWD:ALL\n\n' "$VM_USER" "$VM_USER" \
        >"$R/etc/sudoers.d/90-cloud-init-users"
      chmod 440 "$R/etc/sudoers.d/90-cloud-init-users"
      ;;
    none) ;;
    *) die "scenario $scenario: SUDO must be password, nopasswd or none" ;;
  esac

  plant

  if [ -n "$FIREWALL_RULES" ]; then in_root iptables-restore <"$R$FIREWALL_RULES"; fi
  touch "$S/booted"
  echo "vm.sh: $VM_NAME ($scenario) booted; starting sshd"
  if [ -n "$PERSONALITY" ]; then
    exec setarch "$PERSONALITY" chroot "$R" /usr/sbin/sshd -D -e
  fi
  exec chroot "$R" /usr/sbin/sshd -D -e
}

# ---- helpers for scenario files (run inside the VM's namespaces, before sshd starts) ----

# Runs a command inside the VM's root.
in_root() {
  chroot "$R" "$@"
}

# Sets KEY=VALUE in a KEY=VALUE file of the root (waagent.conf style), replacing a line that sets
# or comments out KEY, else appending.
conf_set() {
  local file="$R$1" key=$2 value=$3
  if grep -qE "^#? ?${key//./\\.}=" "$file"; then
    sed -i -E "s|^#? ?${key//./\\.}=.*|$key=$value|" "$file"
  else
    echo "$key=$value" >>"$file"
  fi
}

# Sets an sshd_config keyword in the main file, replacing its (commented) default line.
sshd_set() {
  local file="$R/etc/ssh/sshd_config" key=$1 value=$2
  if grep -qE "^#?$key " "$file"; then
    sed -i -E "s|^#?$key .*|$key $value|" "$file"
  else
    echo "$key $value" >>"$file"
  fi
}

# /etc/default/grub as grub's package installs it, with GRUB_CMDLINE_LINUX set.
grub_default() {
  sed -E "s|^GRUB_CMDLINE_LINUX=.*|GRUB_CMDLINE_LINUX=\"$1\"|" "$R/usr/share/grub/default/grub" \
    >"$R/etc/default/grub"
}

# ---------------------------------------------------------------------------------------------
# stop

ns_of() {
  ip netns identify "$1" 2>/dev/null || true
}

stop_vm() {
  local name=$1 S="$STATE_BASE/$1"
  [ -d "$S" ] || die "no lab VM named '$name'"
  local NETNS="" VETH="" pid=""
  # shellcheck source=/dev/null
  [ -f "$S/vm.env" ] && . "$S/vm.env"
  pid=$(cat "$S/pid" 2>/dev/null || true)
  # Every process of the VM, seen before the kill: a dying process leaves `ip netns pids` before
  # it has finished exiting, so the stop waits for these by PID at the end.
  local members=""
  if [ -n "$NETNS" ]; then members=$(ip netns pids "$NETNS" 2>/dev/null || true); fi
  if [ -n "$pid" ] && [ -n "$NETNS" ] && [ "$(ns_of "$pid")" = "$NETNS" ]; then
    kill -KILL "$pid" 2>/dev/null || true
    # Until it is gone or a zombie waiting for its reaper (it was reparented when start exited).
    for _ in $(seq 1 100); do
      case $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) in
        "" | Z) break ;;
      esac
      sleep 0.05
    done
  fi
  if [ -n "$NETNS" ]; then kill_netns "$NETNS"; fi
  # shellcheck disable=SC2086
  wait_dead $members
  if [ -n "$VETH" ] && ip link show "$VETH" >/dev/null 2>&1; then ip link del "$VETH" 2>/dev/null || true; fi
  if [ "${VMCERT_LAB_KEEP:-0}" = 1 ]; then
    mv "$S" "$S.stopped.$(date +%s)"
  else
    rm -rf "$S"
  fi
}

# Waits (up to 5 s) until each PID is gone or a zombie waiting for its reaper.
wait_dead() {
  local p state
  for p in "$@"; do
    for _ in $(seq 1 100); do
      state=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null || true)
      case $state in "" | Z) break ;; esac
      sleep 0.05
    done
  done
}

# Kills (by PID) whatever still runs in a lab netns, waits until it is empty, deletes it.
kill_netns() {
  local ns=$1 pids
  # awk reads the whole list (a `| grep -q` could quit early, and under pipefail the writer's
  # SIGPIPE would read as "no such netns").
  ip netns list | awk -v ns="$ns" '$1 == ns { found = 1 } END { exit !found }' || return 0
  for _ in $(seq 1 100); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -z "$pids" ] && break
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.05
  done
  [ -z "$(ip netns pids "$ns" 2>/dev/null || true)" ] || die "processes of $ns do not die: $pids"
  ip netns del "$ns"
}

cmd_stop() {
  [ $# -eq 1 ] || die "usage: vm.sh stop NAME"
  need_root
  valid_name "$1"
  stop_vm "$1"
}

# Stops VMs (all, or only those whose owner died), then leftovers without a state dir.
cmd_stop_matching() {
  local only_stale=$1 S name
  need_root
  [ -d "$STATE_BASE" ] || mkdir -p "$STATE_BASE"
  exec 9>"$STATE_BASE/.lock"
  flock 9
  for S in "$STATE_BASE"/*/; do
    [ -d "$S" ] || continue
    name=$(basename "$S")
    [[ $name == *.stopped.* ]] && continue
    if [ "$only_stale" = yes ] && ! stale "$S"; then continue; fi
    stop_vm "$name" || true
  done
  local ns link
  for ns in $(ip netns list | awk '{print $1}' | grep "^$NS_PREFIX" || true); do
    [ -d "$STATE_BASE/${ns#"$NS_PREFIX"}" ] || kill_netns "$ns"
  done
  for link in $(ip -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^${VETH_PREFIX}[0-9]+$" || true); do
    if ! grep -qx "VETH=$link" "$STATE_BASE"/*/vm.env 2>/dev/null; then ip link del "$link" || true; fi
  done
}

# A VM is stale when its owner process is gone (or is another process with the same PID),
# or when it never finished starting and its start is gone too.
stale() {
  local S=$1 OWNER="" OWNER_START=""
  # shellcheck source=/dev/null
  [ -f "$S/vm.env" ] && . "$S/vm.env"
  [ -n "$OWNER" ] || return 0
  [ "$(starttime "$OWNER" || true)" != "$OWNER_START" ]
}

cmd_list() {
  local S
  for S in "$STATE_BASE"/*/; do
    [ -f "$S/vm.env" ] || continue
    (
      VM_NAME="" SCENARIO="" VM_IP="" OWNER=""
      # shellcheck source=/dev/null
      . "$S/vm.env"
      printf '%s %s %s %s %s\n' "$VM_NAME" "$SCENARIO" "$VM_IP" "$(cat "$S/pid" 2>/dev/null)" "$OWNER"
    )
  done
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  stop-stale) cmd_stop_matching yes ;;
  stop-all) cmd_stop_matching no ;;
  list) cmd_list ;;
  _boot) shift; cmd_boot "$@" ;;
  *) die "usage: vm.sh start SCENARIO NAME | stop NAME | stop-stale | stop-all | list" ;;
esac
