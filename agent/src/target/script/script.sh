#: vmcert probe script template (agent/src/target/script/mod.rs fills the slots between double at-signs; POSIX sh only).
#: Runs every probe once, at most @@LANES@@ at a time (fewer on a VM with fewer CPUs), each under its timeout with its output
#: capped, and prints one frame per probe on stdout as soon as it ends. Frame lines start with
#: "#vmcert:<nonce>:"; outputs are base64 (or od hex). Nothing else is ever printed on stdout.
#: The whole script is one brace group, so the shell has read all of it (the per-probe tokens
#: K<n> and the done token D included) before anything runs: nothing is left on its stdin for a
#: probe to read through /proc. The tokens live only in the shell's memory: the main shell alone
#: prints them, in the begin and end lines of each frame and in the done line.
{
LC_ALL=C
export LC_ALL
PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/sbin:/sbin"
export PATH
umask 077
cd / || exit 1
M='#vmcert:@@NONCE@@'
D=@@DONE@@
say() { printf '%s\n' "$*"; }
N=@@COUNT@@
# Lanes: one per CPU, at least 2 (a hung probe must not hold up the rest), at most @@LANES@@. More
# lanes than CPUs only make the probes share them, and the longest probe (apt) ends later.
LANES=@@LANES@@
x=$(nproc 2>/dev/null) || x=
case $x in
  '' | *[!0-9]*) ;;
  *)
    [ "$x" -lt 2 ] && x=2
    [ "$x" -lt "$LANES" ] && LANES=$x
    ;;
esac
T=$(mktemp -d "${TMPDIR:-/tmp}/vmcert.XXXXXXXXXX" 2>/dev/null) || T=
if [ -z "$T" ] || [ ! -d "$T" ]; then
  say "$M:fatal cannot create a temporary directory in ${TMPDIR:-/tmp}"
  exit 1
fi

# Kills a process and all its descendants: stop each generation (so it cannot fork any more),
# list its children, then SIGKILL them all. Used when GNU timeout is missing and on cleanup.
kill_tree() {
  kt_kids=
  kt_cur=$1
  while [ -n "$kt_cur" ]; do
    kill -STOP $kt_cur 2>/dev/null
    kt_cur=$( { ps -A -o pid= -o ppid= 2>/dev/null || awk '{ s = $0; sub(/.*\) /, "", s); split(s, a, " "); print $1, a[2] }' /proc/[0-9]*/stat 2>/dev/null; } | awk -v l=" $kt_cur " 'index(l, " " $2 " ") { printf "%s ", $1 }')
    kt_kids="$kt_kids $kt_cur"
  done
  # Descendants before the root: the root's death wakes whoever waits for it, and that may end
  # the shell running this function.
  kill -KILL $kt_kids 2>/dev/null
  kill -KILL "$1" 2>/dev/null
}

cleanup() {
  trap '' HUP INT TERM PIPE
  cl_i=0
  while [ "$cl_i" -lt "$N" ]; do
    eval "cl_p=\${P$cl_i:-}"
    [ -n "$cl_p" ] && kill_tree "$cl_p"
    cl_i=$((cl_i + 1))
  done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE

fatal() {
  say "$M:fatal $1"
  exit 1
}

mkfifo "$T/q" || fatal "cannot create a fifo in $T"
exec 3<>"$T/q"

# Tools: GNU timeout (signals the probe's whole process group) or the kill_tree watchdog;
# base64 or od hex; head -c or dd; a clock in nanoseconds, seconds or none.
case $(timeout --version 2>/dev/null) in *'GNU coreutils'*) TMODE=gnu ;; *) TMODE=watchdog ;; esac
if [ "$(printf 'ab' | base64 2>/dev/null)" = 'YWI=' ]; then ENC=b64; else ENC=hex; fi
if [ "$(printf 'abc' | head -c 2 2>/dev/null)" = 'ab' ]; then CAPT=head; else CAPT=dd; fi
# The clock: /proc/uptime read by the shell itself (no process per reading, 10 ms steps), else
# `date +%s%N`, else `date +%s`, else none.
CLOCK=none
SLACK=1000000000
x=
read -r x _ </proc/uptime 2>/dev/null
case $x in
  [0-9]*.[0-9][0-9]) CLOCK=up SLACK=100 ;;
  *)
    x=$(date +%s%N 2>/dev/null)
    case $x in
      '' | *[!0-9]*)
        x=$(date +%s 2>/dev/null)
        case $x in '' | *[!0-9]*) ;; *) CLOCK=s SLACK=1000 ;; esac
        ;;
      *) CLOCK=ns SLACK=50 ;;
    esac
    ;;
esac
U=$(id -u 2>/dev/null) || U=unknown
SUDO=none
if [ "$U" != 0 ] && [ @@ROOT_PROBES@@ = 1 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    SUDO=missing
  elif sudo -n true </dev/null >/dev/null 2>&1; then
    SUDO=ok
  else
    SUDO=password
  fi
fi

# Sets NOW to the clock in milliseconds (0 without a clock); in the shell itself with CLOCK=up.
now_ms() {
  case $CLOCK in
    up)
      read -r nm _ </proc/uptime
      nm=${nm%.*}${nm#*.}
      # No leading zeros: sh arithmetic would read them as octal.
      while :; do case $nm in 0?*) nm=${nm#0} ;; *) break ;; esac; done
      NOW=$((nm * 10))
      ;;
    ns) nm=$(date +%s%N); NOW=$((nm / 1000000)) ;;
    s) nm=$(date +%s); NOW=$((nm * 1000)) ;;
    *) NOW=0 ;;
  esac
}

cap_copy() {
  if [ "$CAPT" = head ]; then head -c "$1"; else dd bs=1 count="$1" 2>/dev/null; fi
}

encode() {
  if [ "$ENC" = b64 ]; then base64; else od -An -v -tx1; fi
}

# Runs one probe command file under the watchdog (only written when GNU timeout is missing); with
# sudo it runs as root, so the watchdog can kill root's processes.
# Usage: sh run1 watchdog CMDFILE SECONDS
[ "$TMODE" = gnu ] || cat >"$T/run1" <<'VMCERT_RUN1' || fatal "cannot write in $T"
LC_ALL=C
export LC_ALL
kill_tree() {
  kt_kids=
  kt_cur=$1
  while [ -n "$kt_cur" ]; do
    kill -STOP $kt_cur 2>/dev/null
    kt_cur=$( { ps -A -o pid= -o ppid= 2>/dev/null || awk '{ s = $0; sub(/.*\) /, "", s); split(s, a, " "); print $1, a[2] }' /proc/[0-9]*/stat 2>/dev/null; } | awk -v l=" $kt_cur " 'index(l, " " $2 " ") { printf "%s ", $1 }')
    kt_kids="$kt_kids $kt_cur"
  done
  # Descendants before the root: the root's death wakes whoever waits for it, and that may end
  # the shell running this function.
  kill -KILL $kt_kids 2>/dev/null
  kill -KILL "$1" 2>/dev/null
}
sh "$2" </dev/null &
p=$!
(
  i=0
  while [ "$i" -lt "$3" ]; do
    sleep 1
    kill -0 "$p" 2>/dev/null || exit 0
    i=$((i + 1))
  done
  kill_tree "$p"
) </dev/null >/dev/null 2>&1 &
w=$!
wait "$p"
r=$?
kill "$w" 2>/dev/null
exit "$r"
VMCERT_RUN1

# Runs probe $1 (id $2, needs root $3, timeout $4 s, cap $5 bytes) and writes the body of its
# frame (meta, stdout, stderr; no token: the main shell adds the begin and end lines).
# Every file of probe n is $T/n.*: the command (n.cmd), the FIFOs its stdout and stderr go
# through (n.o, n.e), what the capped readers kept (n.out, n.err) and the frame (n.frame).
run_probe() {
  d="$T/$1"
  rc=-
  ms=0
  to=0
  tr=0
  so=0
  se=0
  if [ "$CAPT" = head ]; then
    head -c $(($5 + 1)) <"$d.o" >"$d.out" &
    c1=$!
    head -c $(($5 + 1)) <"$d.e" >"$d.err" &
    c2=$!
  else
    dd bs=1 count=$(($5 + 1)) <"$d.o" >"$d.out" 2>/dev/null &
    c1=$!
    dd bs=1 count=$(($5 + 1)) <"$d.e" >"$d.err" 2>/dev/null &
    c2=$!
  fi
  now_ms
  s=$NOW
  if [ "$3" = 1 ] && [ "$U" != 0 ]; then
    if [ "$TMODE" = gnu ]; then
      sudo -n timeout -s KILL "$4" sh "$d.cmd" </dev/null >"$d.o" 2>"$d.e" 3>&-
    else
      sudo -n sh "$T/run1" "$TMODE" "$d.cmd" "$4" </dev/null >"$d.o" 2>"$d.e" 3>&-
    fi
  elif [ "$TMODE" = gnu ]; then
    timeout -s KILL "$4" sh "$d.cmd" </dev/null >"$d.o" 2>"$d.e" 3>&-
  else
    sh "$T/run1" "$TMODE" "$d.cmd" "$4" </dev/null >"$d.o" 2>"$d.e" 3>&-
  fi
  rc=$?
  now_ms
  ms=$((NOW - s))
  # A process that escaped the probe may still hold its output open: stop waiting after 10 s.
  # (The readers usually saw their end of file already; then no watchdog is needed. The grace is
  # long because a reader may also just be slow: on a loaded VM its writes to the output file can
  # stall for seconds, and killing it then would lose the end of the probe's output.)
  k=
  if kill -0 "$c1" 2>/dev/null || kill -0 "$c2" 2>/dev/null; then
    (
      sleep 10
      kill "$c1" "$c2"
    ) </dev/null >/dev/null 2>&1 3>&- &
    k=$!
  fi
  wait "$c1"
  wait "$c2"
  [ -n "$k" ] && kill "$k" 2>/dev/null
  if [ "$rc" = 137 ] && [ "$ms" -ge $(($4 * 1000 - SLACK)) ]; then
    to=1
    rc=-
  fi
  [ -s "$d.out" ] && so=$(($(wc -c <"$d.out")))
  [ -s "$d.err" ] && se=$(($(wc -c <"$d.err")))
  if [ "$so" -gt "$5" ] || [ "$se" -gt "$5" ]; then tr=1; fi
  # The byte counts sent let the reader notice lines slipped into the frame on the way.
  [ "$so" -gt "$5" ] && so=$5
  [ "$se" -gt "$5" ] && se=$5
  {
    say "$M:meta rc=$rc ms=$ms timeout=$to truncated=$tr bytes=$so,$se"
    say "$M:stdout $ENC"
    emit "$d.out" "$so" "$5"
    say "$M:stderr $ENC"
    emit "$d.err" "$se" "$5"
  } >"$d.frame"
}

# Prints file $1 ($2 bytes) encoded, at most $3 bytes of it; nothing for an empty file.
emit() {
  if [ "$2" -ge "$3" ]; then
    cap_copy "$3" <"$1" | encode
  elif [ "$2" -gt 0 ]; then
    encode <"$1"
  fi
}

# A frame for probe $1 (id $2) that did not run, printed by the main shell.
not_run() {
  eval "nr_k=\$K$1"
  say "$M:begin $1 $2 $nr_k"
  say "$M:meta rc=- ms=0 timeout=0 truncated=0 bytes=0,0"
  say "$M:error $3"
  say "$M:stdout $ENC"
  say "$M:stderr $ENC"
  say "$M:end $1 $nr_k"
}

start_probe() {
  eval "set -- $1 \$I$1"
  if [ "$3" = 1 ] && [ "$U" != 0 ] && [ "$SUDO" != ok ]; then
    if [ "$SUDO" = missing ]; then
      not_run "$1" "$2" 'needs root: sudo is not installed'
    else
      not_run "$1" "$2" 'needs root: sudo requires a password'
    fi
    return 0
  fi
  (
    run_probe "$@"
    say "$1" >&3
  ) </dev/null >/dev/null &
  eval "P$1=\$!"
  RUNNING=$((RUNNING + 1))
}

fill_lanes() {
  while [ "$RUNNING" -lt "$LANES" ] && [ "$NEXT" -lt "$N" ]; do
    start_probe "$NEXT"
    NEXT=$((NEXT + 1))
  done
}

say "$M:start n=$N lanes=$LANES uid=$U timeout=$TMODE enc=$ENC clock=$CLOCK cap=$CAPT sudo=$SUDO"

# The probes: I<n>='<id> <needs root> <timeout> <cap>', K<n> its token and the command in
# $T/<n>.cmd.
@@PROBES@@

# The FIFOs of every probe's stdout and stderr, made at once.
set --
i=0
while [ "$i" -lt "$N" ]; do
  set -- "$@" "$T/$i.o" "$T/$i.e"
  i=$((i + 1))
done
[ $# -eq 0 ] || mkfifo "$@" || fatal "cannot create the output fifos of the probes in $T"

RUNNING=0
NEXT=0
fill_lanes
while [ "$RUNNING" -gt 0 ]; do
  read -r i <&3 || fatal 'the queue of finished probes broke'
  case $i in '' | *[!0-9]*) continue ;; esac
  if [ -f "$T/$i.frame" ]; then
    eval "set -- \$I$i; k=\$K$i"
    say "$M:begin $i $1 $k"
    cat "$T/$i.frame"
    say "$M:end $i $k"
  else
    eval "set -- \$I$i"
    not_run "$i" "$1" 'the probe runner ended without a result'
  fi
  # Emptied by the shell itself (no rm per probe); the EXIT trap removes $T.
  : >"$T/$i.out"
  : >"$T/$i.err"
  : >"$T/$i.frame"
  eval "unset P$i"
  RUNNING=$((RUNNING - 1))
  fill_lanes
done
say "$M:done $D"
}
