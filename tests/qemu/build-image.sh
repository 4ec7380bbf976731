#!/usr/bin/env bash
#: Builds the disk of a real test VM: a Debian bookworm image prepared the way an Azure image
#: publisher would (cloud kernel, systemd, openssh-server, sudo, the real `waagent`), as a partitioned
#: disk that boots by itself through GRUB, converted to a fixed VHD with qemu-img. One VARIANT is the
#: clean "golden" image, the others each plant one certification defect (tests/qemu/expected.toml
#: says which check it trips). No loop devices, no mounts: sfdisk on a file, mkfs.ext4 -d, debugfs,
#: dd. Two cached layers (keyed by a hash of the recipe below) make a build take seconds:
#:   1. root-<hash>.tar.zst  the debootstrapped, upgraded and configured root (about 2 minutes);
#:   2. base-<hash>/         that root as an ext4 image, plus GRUB's boot.img and core.img.
#: Each build copies the base ext4, writes per-build secrets (a fresh ed25519 login key for
#: `azureuser`, fresh SSH host keys) and the variant's files into it with debugfs, lays out the
#: partitions and converts. Needs root. See tests/qemu/README.md.
#:
#: Usage: build-image.sh [--out DIR] VARIANT      build; prints one JSON line describing the image
#:        build-image.sh --list                   the variant names, one a line
#: Env:   VMCERT_QEMU_CACHE (default /var/cache/vmcert-lab/qemu)   the two cached layers
#:        VMCERT_QEMU_OUT   (default /var/tmp/vmcert-qemu)          DIR defaults to $VMCERT_QEMU_OUT/VARIANT
set -euo pipefail

VARIANTS=(golden swap-partition swap-file no-rootdelay first-partition-1024 data-partition
  agent-disabled root-history no-client-alive)
CACHE=${VMCERT_QEMU_CACHE:-/var/cache/vmcert-lab/qemu}
SIZE_MB=2048        # the virtual disk (Azure wants a whole number of MiB)
BASE_MB=1536        # the cached root ext4; grown (resize2fs) to the root partition of each variant
EXTRA_MB=256        # the swap or data partition of the variants that have one
HOST=vmcert-qemu
LOGIN=azureuser
GOLDEN_CMDLINE="console=ttyS0 earlyprintk=ttyS0 rootdelay=300"
PKGS=linux-image-cloud-amd64,systemd-sysv,systemd-resolved,udev,dbus,kmod,e2fsprogs,openssh-server,sudo,waagent,openssl,iproute2,iptables,nftables,procps,util-linux,fdisk,less,ca-certificates,grub-pc-bin,zstd

T0=$(date +%s%N)
elapsed() { local ms=$((($(date +%s%N) - T0) / 1000000)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
step() { printf '[build-image %6ss] %s\n' "$(elapsed)" "$*" >&2; }
die() { printf 'build-image.sh: error: %s\n' "$*" >&2; exit 1; }
on_err() { printf 'build-image.sh: error: line %s failed: %s\n' "$1" "$BASH_COMMAND" >&2; }
trap 'on_err $LINENO' ERR

usage() { echo "usage: $0 [--out DIR] VARIANT | --list  (variants: ${VARIANTS[*]})" >&2; exit 2; }
OUT=; VARIANT=
while [ $# -gt 0 ]; do
  case $1 in
    --list) printf '%s\n' "${VARIANTS[@]}"; exit 0;;
    --out) [ $# -ge 2 ] || usage; OUT=$2; shift 2;;
    -h|--help) usage;;
    -*) usage;;
    *) [ -z "$VARIANT" ] || usage; VARIANT=$1; shift;;
  esac
done
[ -n "$VARIANT" ] || usage
# No `printf | grep -q` here or anywhere: with pipefail, a writer killed by SIGPIPE fails the test.
known=; for v in "${VARIANTS[@]}"; do [ "$v" != "$VARIANT" ] || known=1; done
[ -n "$known" ] || die "unknown variant '$VARIANT' (known: ${VARIANTS[*]})"
OUT=${OUT:-${VMCERT_QEMU_OUT:-/var/tmp/vmcert-qemu}/$VARIANT}

# Prerequisites: fail with what is missing (tests/lab/install-prereqs.sh installs all of them).
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and chroot; debugfs keeps file owners)"
missing=()
for c in debootstrap chroot sfdisk mkfs.ext4 debugfs resize2fs e2fsck mkswap zstd qemu-img ssh-keygen flock sha256sum; do
  command -v "$c" >/dev/null || missing+=("$c")
done
[ ${#missing[@]} -eq 0 ] || die "missing host tools: ${missing[*]} (run tests/lab/install-prereqs.sh)"

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/vmcert-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------------------------------------
# Layer 1: the configured root. Everything the golden image has that is not per build.
# ---------------------------------------------------------------------------------------------
host_uri() {  # the host's apt mirror for a suite family (debian / debian-security)
  awk -v want="$1" '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ ("/" want "/?$")) { print $i; exit } }' \
    /etc/apt/sources.list.d/debian.sources 2>/dev/null || true
}
MIRROR=$(host_uri debian); MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=$(host_uri debian-security); SECURITY=${SECURITY:-http://deb.debian.org/debian-security}

configure_root() {
  local r=$1
  echo "$HOST" > "$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$HOST" > "$r/etc/hosts"
  # Security updates, as a publisher would have them: the image is fully upgraded when layer 1
  # is built (debootstrap itself only knows the bookworm suite). No service starts in the chroot.
  rm -f "$r/etc/apt/sources.list"
  cat > "$r/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  printf '#!/bin/sh\nexit 101\n' > "$r/usr/sbin/policy-rc.d"; chmod 755 "$r/usr/sbin/policy-rc.d"
  rm -f "$r/etc/resolv.conf"; cat /etc/resolv.conf > "$r/etc/resolv.conf"
  chroot "$r" apt-get -qq update
  chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Options::=--force-confold upgrade
  # An upgraded kernel leaves the old one behind: keep only the newest.
  local kernels newest k
  mapfile -t kernels < <(find "$r/boot" -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | sed 's/^vmlinuz-//' | sort -V)
  newest=${kernels[-1]}
  for k in "${kernels[@]}"; do
    [ "$k" = "$newest" ] || chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get -y -qq purge "linux-image-$k"
  done
  rm -f "$r/usr/sbin/policy-rc.d"

  # DHCP on the first NIC through systemd-networkd; resolved's stub resolver.
  mkdir -p "$r/etc/systemd/network"
  printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n' > "$r/etc/systemd/network/10-dhcp.network"
  ln -sf /run/systemd/resolve/stub-resolv.conf "$r/etc/resolv.conf"
  # walinuxagent.service has ConditionVirtualization=microsoft: enabled, and skipped under QEMU.
  chroot "$r" systemctl enable -q systemd-networkd systemd-resolved ssh walinuxagent

  # The login user: key only (no password), passwordless sudo. root stays locked.
  chroot "$r" useradd -m -s /bin/bash -G sudo "$LOGIN"
  [ "$(chroot "$r" id -u "$LOGIN")" = 1000 ] || die "$LOGIN did not get uid 1000"
  install -d -m 700 -o 1000 -g 1000 "$r/home/$LOGIN/.ssh"
  printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$LOGIN" > "$r/etc/sudoers.d/90-$LOGIN"
  chmod 440 "$r/etc/sudoers.d/90-$LOGIN"
  chroot "$r" passwd -q -l root

  # The literal line in the main file, where the Marketplace probe reads it.
  sed -i 's/^#ClientAliveInterval 0$/ClientAliveInterval 180/' "$r/etc/ssh/sshd_config"
  grep -qx 'ClientAliveInterval 180' "$r/etc/ssh/sshd_config"
  # waagent provisions (and regenerates the host keys); it may update itself.
  sed -i -e 's/^Provisioning\.Agent=.*/Provisioning.Agent=waagent/' \
    -e 's/^Provisioning\.RegenerateSshHostKeyPair=.*/Provisioning.RegenerateSshHostKeyPair=y/' \
    -e 's/^AutoUpdate\.Enabled=.*/AutoUpdate.Enabled=y/' "$r/etc/waagent.conf"
  grep -qx 'Provisioning.Agent=waagent' "$r/etc/waagent.conf"
  grep -qx 'Provisioning.RegenerateSshHostKeyPair=y' "$r/etc/waagent.conf"
  grep -qx 'AutoUpdate.Enabled=y' "$r/etc/waagent.conf"

  # mkinitramfs cannot see the root's type in a chroot (FSTYPE=auto probes the device), so
  # say it: the initramfs then carries e2fsck and checks / before mounting it.
  sed -i 's/^FSTYPE=auto$/FSTYPE=ext4/' "$r/etc/initramfs-tools/initramfs.conf"
  grep -qx 'FSTYPE=ext4' "$r/etc/initramfs-tools/initramfs.conf"

  # Debian's initramfs /init runs an unconditional `sleep $ROOTDELAY`, so the Azure cmdline's
  # rootdelay=300 would add 5 minutes to every boot. The root device is still waited for
  # (scripts/local: timeout max(30, rootdelay)); /proc/cmdline still shows rootdelay=300.
  # shellcheck disable=SC2016 # a literal $ROOTDELAY in the sed pattern
  sed -i 's/^\tsleep "\$ROOTDELAY"$/\t: # vmcert-qemu: unconditional rootdelay sleep removed/' \
    "$r/usr/share/initramfs-tools/init"
  grep -q 'vmcert-qemu: unconditional rootdelay sleep removed' "$r/usr/share/initramfs-tools/init"
  chroot "$r" update-initramfs -u -k all

  # GRUB's modules where core.img's prefix (hd0,msdos1)/boot/grub finds them.
  mkdir -p "$r/boot/grub"; cp -a "$r/usr/lib/grub/i386-pc" "$r/boot/grub/"

  # Generalized: no apt lists or caches, no logs, no machine id, no host keys (each build
  # writes fresh ones), no shell history anywhere.
  chroot "$r" apt-get -qq clean
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/tmp/* "$r"/var/tmp/*
  find "$r/var/log" -type f -delete
  : > "$r/etc/machine-id"
  rm -f "$r"/etc/ssh/ssh_host_* "$r"/root/.*history "$r/home/$LOGIN"/.*history
}

recipe_hash() { printf '%s\n' "$@" | sha256sum | cut -c1-12; }
H1=$(recipe_hash "$PKGS" "$MIRROR" "$SECURITY" "$HOST" "$LOGIN" "$(declare -f configure_root)")
TARBALL=$CACHE/root-bookworm-$H1.tar.zst

build_root() {
  local r=$WORK/root
  step "layer 1 (cold): debootstrap bookworm from $MIRROR (log: $CACHE/debootstrap.log)"
  if ! debootstrap --variant=minbase --include="$PKGS" bookworm "$r" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1; then
    tail -n 20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (see $CACHE/debootstrap.log)"
  fi
  step "layer 1: upgrade and configure the root (log: $CACHE/configure.log)"
  # Not `if ! configure_root`: bash ignores set -e inside a tested command, even in a subshell.
  local rc; trap - ERR; set +e
  (set -e; configure_root "$r") > "$CACHE/configure.log" 2>&1; rc=$?
  set -e; trap 'on_err $LINENO' ERR
  if [ "$rc" != 0 ]; then
    tail -n 20 "$CACHE/configure.log" >&2; die "configuring the root failed (see $CACHE/configure.log)"
  fi
  step "layer 1: save $TARBALL"
  tar --numeric-owner --xattrs --acls --zstd -C "$r" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  rm -rf "$r"
}

# ---------------------------------------------------------------------------------------------
# Layer 2: the root as an ext4 image, and GRUB's two boot blocks.
# ---------------------------------------------------------------------------------------------
make_base() {
  local dir=$1 r=$WORK/root uuid kv
  rm -rf "$r"; mkdir -p "$r"
  tar --numeric-owner --xattrs --acls --zstd -C "$r" -xf "$TARBALL"
  uuid=$(cat /proc/sys/kernel/random/uuid)
  kv=$(find "$r/boot" -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n'); kv=${kv#vmlinuz-}
  # core.img (about 310 sectors) goes in the gap before the first partition, at sector 1;
  # grub-mkimage already presets diskboot's blocklist for that place. The image's own GRUB
  # builds it, so it matches the modules in /boot/grub/i386-pc.
  chroot "$r" grub-mkimage -O i386-pc -p '(hd0,msdos1)/boot/grub' -o /core.img \
    biosdisk part_msdos ext2 linux normal configfile search search_fs_uuid gzio serial terminal echo test
  mv "$r/core.img" "$dir/core.img"
  [ "$(stat -c %s "$dir/core.img")" -lt $((1023 * 512)) ] || die "core.img does not fit before sector 1024"
  # boot.img: the 2 bytes at 0x66 become NOPs, as grub-bios-setup does for hard disks.
  cp "$r/usr/lib/grub/i386-pc/boot.img" "$dir/boot.img"
  printf '\x90\x90' | dd of="$dir/boot.img" bs=1 seek=$((0x66)) conv=notrunc status=none
  mkfs.ext4 -q -F -L rootfs -U "$uuid" -d "$r" "$dir/root.ext4" "${BASE_MB}M" >/dev/null 2>&1
  printf 'ROOT_UUID=%s\nKERNEL=%s\n' "$uuid" "$kv" > "$dir/base.env"
  rm -rf "$r"
}
H2=$(recipe_hash "$H1" "$BASE_MB" "$(declare -f make_base)")
BASE=$CACHE/base-$H2

mkdir -p "$CACHE"
exec 9> "$CACHE/.lock"
flock 9   # one builder of the cached layers at a time; per-variant builds never share a dir
if [ -f "$TARBALL" ]; then step "layer 1 cached: $TARBALL"; else build_root; fi
if [ -f "$BASE/base.env" ]; then step "layer 2 cached: $BASE"; else
  step "layer 2: mkfs.ext4 -d the root into $BASE/root.ext4 (${BASE_MB} MiB)"
  rm -rf "$BASE.tmp"; mkdir -p "$BASE.tmp"; make_base "$BASE.tmp"; mv "$BASE.tmp" "$BASE"; fi
# Other recipes' layers (another branch's build-image.sh) go once unused for a day.
touch "$TARBALL" "$BASE"
find "$CACHE" -mindepth 1 -maxdepth 1 \( -name 'root-bookworm-*' -o -name 'base-*' \) \
  ! -name "${TARBALL##*/}" ! -name "${BASE##*/}" -mtime +0 -exec rm -rf {} +
flock -u 9
ROOT_UUID=$(sed -n 's/^ROOT_UUID=//p' "$BASE/base.env")
KERNEL=$(sed -n 's/^KERNEL=//p' "$BASE/base.env")

# ---------------------------------------------------------------------------------------------
# Per build: the variant's layout and files, fresh secrets, the disk, the VHD.
# ---------------------------------------------------------------------------------------------
if [ -f "$OUT/vm.pid" ] && kill -0 "$(cat "$OUT/vm.pid")" 2>/dev/null; then
  die "a VM is running from $OUT (tests/qemu/vm.sh stop $OUT first)"
fi
mkdir -p "$OUT"
rm -f "$OUT"/{disk.vhd,id_ed25519,id_ed25519.pub,host_keys.pub,image.json,known_hosts,console.log,vm.pid,vm.json}

P1_START=2048; SWAP_PART=0; DATA_PART=0; CMDLINE=$GOLDEN_CMDLINE
case $VARIANT in
  swap-partition) SWAP_PART=1;;
  data-partition) DATA_PART=1;;
  first-partition-1024) P1_START=1024;;
  no-rootdelay) CMDLINE="console=ttyS0";;
esac
TOTAL_SECTORS=$((SIZE_MB * 2048))
if [ $((SWAP_PART + DATA_PART)) -gt 0 ]; then
  ROOT_SECTORS=$(((SIZE_MB - EXTRA_MB) * 2048 - P1_START))
else
  ROOT_SECTORS=$((TOTAL_SECTORS - P1_START))
fi
ROOT_MB=$((ROOT_SECTORS / 2048))   # the filesystem: whole MiB, never past its partition

step "$VARIANT: copy the base ext4, grow it to ${ROOT_MB} MiB"
D=$WORK/disk; mkdir -p "$D"
cp --sparse=always "$BASE/root.ext4" "$D/root.ext4"
resize2fs -p "$D/root.ext4" "${ROOT_MB}M" >/dev/null 2>&1 || die "resize2fs to ${ROOT_MB}M failed"

step "$VARIANT: fresh login key and host keys"
ssh-keygen -q -t ed25519 -N '' -C "vmcert-qemu-$VARIANT" -f "$OUT/id_ed25519"
mkdir -p "$D/hostkeys"
for t in rsa ecdsa ed25519; do
  ssh-keygen -q -t "$t" -N '' -C "root@$HOST" -f "$D/hostkeys/ssh_host_${t}_key"
done
cat "$D"/hostkeys/*.pub > "$OUT/host_keys.pub"

# debugfs commands; `write` creates the name in the current directory, so every file is
# written with cd first, then given explicit owner and mode.
CMDS=$D/debugfs.cmds; : > "$CMDS"
put() {  # put SRC DEST MODE UID GID [replace]
  local src=$1 dest=$2 mode=$3 uid=$4 gid=$5 replace=${6:-}
  [ -z "$replace" ] || echo "rm $dest" >> "$CMDS"
  printf 'cd %s\nwrite %s %s\nsif %s mode 0100%s\nsif %s uid %s\nsif %s gid %s\ncd /\n' \
    "$(dirname "$dest")" "$src" "$(basename "$dest")" "$dest" "$mode" "$dest" "$uid" "$dest" "$gid" >> "$CMDS"
}
put "$OUT/id_ed25519.pub" "/home/$LOGIN/.ssh/authorized_keys" 600 1000 1000
for f in "$D"/hostkeys/*; do
  case $f in *.pub) m=644;; *) m=600;; esac
  put "$f" "/etc/ssh/$(basename "$f")" "$m" 0 0
done

# /etc/fstab, /etc/default/grub and grub.cfg are written per build (variants change them).
FSTAB=$D/fstab
printf '# <file system> <mount point> <type> <options> <dump> <pass>\nUUID=%s / ext4 defaults,discard,errors=remount-ro 0 1\n' "$ROOT_UUID" > "$FSTAB"
if [ "$SWAP_PART" = 1 ]; then
  SWAP_UUID=$(cat /proc/sys/kernel/random/uuid)
  printf 'UUID=%s none swap sw 0 0\n' "$SWAP_UUID" >> "$FSTAB"
fi
if [ "$DATA_PART" = 1 ]; then
  DATA_UUID=$(cat /proc/sys/kernel/random/uuid)
  printf 'UUID=%s /data ext4 defaults,nofail 0 2\n' "$DATA_UUID" >> "$FSTAB"
  echo "mkdir /data" >> "$CMDS"
fi
if [ "$VARIANT" = swap-file ]; then
  # Filled with 0xff, not zeros: debugfs (like mkfs -d) leaves zero blocks as holes, and
  # swapon refuses a swap file with holes. mkswap only writes the first page.
  dd if=/dev/zero bs=1M count=64 status=none | tr '\000' '\377' > "$D/swapfile"
  chmod 600 "$D/swapfile"; mkswap -L swapfile "$D/swapfile" >/dev/null
  put "$D/swapfile" /swapfile 600 0 0
  printf '/swapfile none swap sw 0 0\n' >> "$FSTAB"
fi
put "$FSTAB" /etc/fstab 644 0 0 replace

printf 'GRUB_DEFAULT=0\nGRUB_TIMEOUT=0\nGRUB_DISTRIBUTOR=Debian\nGRUB_CMDLINE_LINUX_DEFAULT=""\nGRUB_CMDLINE_LINUX="%s"\nGRUB_TERMINAL=serial\nGRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n' \
  "$CMDLINE" > "$D/default-grub"
put "$D/default-grub" /etc/default/grub 644 0 0
cat > "$D/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=0
menuentry "Debian GNU/Linux" {
  search --no-floppy --fs-uuid --set=root $ROOT_UUID
  linux /boot/vmlinuz-$KERNEL root=UUID=$ROOT_UUID ro $CMDLINE
  initrd /boot/initrd.img-$KERNEL
}
EOF
put "$D/grub.cfg" /boot/grub/grub.cfg 644 0 0

case $VARIANT in
  agent-disabled)  # exactly what `systemctl disable walinuxagent` removes
    echo "rm /etc/systemd/system/multi-user.target.wants/walinuxagent.service" >> "$CMDS";;
  root-history)  # 1.5 KiB: fails under both profiles (toolkit allows up to 1024 bytes)
    for i in $(seq 1 24); do
      printf 'ls -la /etc/ssh\nsudo apt-get update && sudo apt-get -y upgrade\njournalctl -b --no-pager | tail -n 50\n'
      [ "$i" -ne 12 ] || printf 'waagent --version\n'
    done > "$D/bash_history"
    truncate -s 1536 "$D/bash_history"
    put "$D/bash_history" /root/.bash_history 600 0 0;;
  no-client-alive)  # back to Debian's stock sshd_config line
    debugfs -R "dump /etc/ssh/sshd_config $D/sshd_config" "$D/root.ext4" 2>/dev/null
    grep -qx 'ClientAliveInterval 180' "$D/sshd_config" || die "base sshd_config lacks ClientAliveInterval 180"
    sed -i 's/^ClientAliveInterval 180$/#ClientAliveInterval 0/' "$D/sshd_config"
    put "$D/sshd_config" /etc/ssh/sshd_config 644 0 0 replace;;
esac

step "$VARIANT: debugfs writes $(grep -c '^write' "$CMDS") files, e2fsck -fn"
# debugfs exits 0 even when a command fails: anything on stderr but its banner is an error.
debugfs -w -f "$CMDS" "$D/root.ext4" >/dev/null 2> "$D/debugfs.err" || true
if grep -qv '^debugfs [0-9]' "$D/debugfs.err"; then
  cat "$D/debugfs.err" >&2; die "debugfs failed"
fi
e2fsck -fn "$D/root.ext4" > "$D/e2fsck.out" 2>&1 || { cat "$D/e2fsck.out" >&2; die "e2fsck found errors after debugfs"; }

step "$VARIANT: partition table (first partition at sector $P1_START), dd, GRUB"
RAW=$D/disk.raw
truncate -s "${SIZE_MB}M" "$RAW"
{
  echo 'label: dos'
  echo "start=$P1_START, size=$ROOT_SECTORS, type=83, bootable"
  [ "$SWAP_PART" = 0 ] || echo 'type=82'
  [ "$DATA_PART" = 0 ] || echo 'type=83'
} | sfdisk -q "$RAW"
dd if="$D/root.ext4" of="$RAW" bs=1M seek=$((P1_START * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
rm -f "$D/root.ext4"
P2_START=$((P1_START + ROOT_SECTORS))
if [ "$SWAP_PART" = 1 ]; then
  truncate -s "${EXTRA_MB}M" "$D/swap.img"; chmod 600 "$D/swap.img"
  mkswap -U "$SWAP_UUID" -L swap "$D/swap.img" >/dev/null
  dd if="$D/swap.img" of="$RAW" bs=1M seek=$((P2_START * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
fi
if [ "$DATA_PART" = 1 ]; then
  mkfs.ext4 -q -F -L data -U "$DATA_UUID" "$D/data.img" "${EXTRA_MB}M"
  dd if="$D/data.img" of="$RAW" bs=1M seek=$((P2_START * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
fi
dd if="$BASE/boot.img" of="$RAW" bs=440 count=1 conv=notrunc status=none   # keeps the partition table
dd if="$BASE/core.img" of="$RAW" bs=512 seek=1 conv=notrunc status=none

step "$VARIANT: qemu-img convert -> fixed VHD"
# NB: a fixed VHD is only a footer after the raw data, so qemu's format probe says "raw":
# always pass -f vpc / format=vpc when reading it.
qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on "$RAW" "$OUT/disk.vhd"
rm -f "$RAW"

cat > "$OUT/image.json" <<EOF
{"variant":"$VARIANT","dir":"$OUT","vhd":"$OUT/disk.vhd","user":"$LOGIN","key":"$OUT/id_ed25519","host_keys":"$OUT/host_keys.pub","root_uuid":"$ROOT_UUID","kernel":"$KERNEL","first_partition_start":$P1_START,"size_mb":$SIZE_MB,"build_seconds":$(elapsed)}
EOF
step "$VARIANT: done: $OUT/disk.vhd ($(du -h --apparent-size "$OUT/disk.vhd" | cut -f1) apparent, $(du -h "$OUT/disk.vhd" | cut -f1) allocated)"
cat "$OUT/image.json"
