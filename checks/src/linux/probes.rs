//! Linux probe commands: POSIX `sh` fragments, each run once per target inside the framed probe
//! script (see the agent's `target::script` module). Conventions are in [`crate::probe`].

use crate::meta::Os;
use crate::probe::{Probe, ProbeId};

/// Probes that fill the report header.
pub const FACTS: &[ProbeId] = &[
    "os-release",
    "uname-r",
    "uname-m",
    "uname-n",
    "proc-version",
];

const fn p(
    id: ProbeId,
    needs_root: bool,
    description: &'static str,
    command: &'static str,
) -> Probe {
    Probe {
        id,
        os: Os::Linux,
        command,
        needs_root,
        description,
    }
}

/// The Linux catalogue.
pub static PROBES: &[Probe] = &[
    p(
        "os-release",
        false,
        "/etc/os-release (distribution name and version)",
        "if [ -r /etc/os-release ]; then cat /etc/os-release; else cat /usr/lib/os-release; fi",
    ),
    p("uname-r", false, "running kernel release", "uname -r"),
    p("uname-m", false, "machine architecture", "uname -m"),
    p("uname-n", false, "host name", "uname -n"),
    p(
        "proc-version",
        false,
        "/proc/version (kernel build string)",
        "cat /proc/version",
    ),
    p(
        "proc-cmdline",
        false,
        "kernel command line of the running kernel",
        "cat /proc/cmdline",
    ),
    p(
        "default-grub",
        false,
        "/etc/default/grub (exit 127: absent)",
        "[ -e /etc/default/grub ] || exit 127\ncat /etc/default/grub",
    ),
    p(
        "default-grub-d",
        false,
        "drop-ins /etc/default/grub.d/*.cfg as `file:line` (grep -H), sourced after /etc/default/grub",
        "set -- /etc/default/grub.d/*.cfg\n[ -e \"$1\" ] || exit 0\ngrep -H '' \"$@\"\n[ $? -le 1 ]",
    ),
    p(
        "login-user",
        false,
        "the account vmcert logged in as: SUDO_USER under sudo, else logname (the login session's user, also under su), else id -un",
        "u=${SUDO_USER:-}\n[ -n \"$u\" ] || u=$(logname 2>/dev/null)\n[ -n \"$u\" ] || u=$(id -un)\nprintf '%s\\n' \"$u\"",
    ),
    p(
        "shadow-status",
        true,
        "each account of /etc/shadow as name:class, class = empty | locked | hash (hashes never leave the VM)",
        "awk -F: '{ p = $2; if (p == \"\") s = \"empty\"; else if (p ~ /^[!*]/ || p == \"x\") s = \"locked\"; else s = \"hash\"; print $1 \":\" s }' /etc/shadow",
    ),
    p(
        "history-files",
        true,
        "shell history files (every `.*sh_history` and `.history`, searched recursively like LISA) under the home of root and of every account whose shell ends in sh: user<TAB>path<TAB>bytes (sizes only: contents never leave the VM)",
        "awk -F: '$1 == \"root\" || $7 ~ /sh$/ { print $1 \":\" $6 }' /etc/passwd | while IFS=: read -r user home; do\n  case $home in ''|/) continue ;; esac\n  [ -d \"$home\" ] || continue\n  find \"$home\" -xdev \\( -name '.*sh_history' -o -name .history \\) -type f 2>/dev/null | while IFS= read -r p; do\n    printf '%s\\t%s\\t%s\\n' \"$user\" \"$p\" \"$(wc -c < \"$p\")\"\n  done\ndone",
    ),
    p(
        "waagent-version",
        false,
        "`waagent --version` (exit 127: no agent)",
        "if command -v waagent >/dev/null 2>&1; then waagent --version\nelif [ -x /usr/sbin/waagent ]; then /usr/sbin/waagent --version\nelif [ -f /usr/sbin/waagent ]; then python3 /usr/sbin/waagent --version\nelse echo 'waagent: not found' >&2; exit 127; fi",
    ),
    p(
        "waagent-enabled",
        false,
        "`systemctl is-enabled` for walinuxagent and waagent (exit 127: no systemctl)",
        "command -v systemctl >/dev/null 2>&1 || { echo 'systemctl: not found' >&2; exit 127; }\nfor u in walinuxagent waagent; do printf '%s.service: %s\\n' \"$u\" \"$(systemctl is-enabled \"$u.service\" 2>&1)\"; done",
    ),
    p(
        "waagent-conf",
        false,
        "/etc/waagent.conf (exit 127: absent)",
        "[ -e /etc/waagent.conf ] || exit 127\ncat /etc/waagent.conf",
    ),
    p(
        "proc-swaps",
        false,
        "/proc/swaps (active swap areas)",
        "cat /proc/swaps",
    ),
    p(
        "swap-file-sources",
        false,
        "for each swap file: path<TAB>device holding it (from df)",
        "awk 'NR > 1 && $2 == \"file\" { print $1 }' /proc/swaps | while read -r f; do printf '%s\\t%s\\n' \"$f\" \"$(df -P \"$f\" | awk 'NR == 2 { print $1 }')\"; done",
    ),
    p(
        "fstab",
        false,
        "/etc/fstab (exit 127: absent)",
        "[ -e /etc/fstab ] || exit 127\ncat /etc/fstab",
    ),
    p(
        "lsblk",
        false,
        "block devices with parents, types, file systems, mount points and ids (MOUNTPOINTS where lsblk knows it, else MOUNTPOINT)",
        "c=NAME,KNAME,PKNAME,TYPE,FSTYPE,PARTTYPE,UUID,PARTUUID,LABEL,PARTLABEL\nlsblk -P -o \"$c,MOUNTPOINTS\" 2>/dev/null || lsblk -P -o \"$c,MOUNTPOINT\"",
    ),
    p(
        "partition-starts",
        false,
        "start sector of every partition: /sys/block/<disk>/<part>/start <sector>",
        "for f in /sys/block/*/*/start; do [ -r \"$f\" ] && printf '%s %s\\n' \"$f\" \"$(cat \"$f\")\"; done; exit 0",
    ),
    p(
        "openssl-version",
        false,
        "`openssl version` (exit 127: not installed; 126: installed but cannot run)",
        "command -v openssl >/dev/null 2>&1 || exit 127\nopenssl version\ns=$?\n[ $s -ne 127 ] || s=126\nexit $s",
    ),
    p(
        "python-version",
        false,
        "`python3 --version`, else `python --version`, else RHEL 8's /usr/libexec/platform-python (exit 127: none)",
        "if command -v python3 >/dev/null 2>&1; then python3 --version 2>&1\nelif command -v python >/dev/null 2>&1; then python --version 2>&1\nelif [ -x /usr/libexec/platform-python ]; then /usr/libexec/platform-python --version 2>&1\nelse exit 127; fi",
    ),
    p(
        "sshd-effective",
        true,
        "`sshd -T`: the effective sshd configuration (exit 127: no sshd)",
        "s=$(command -v sshd 2>/dev/null || echo /usr/sbin/sshd)\n[ -x \"$s\" ] || exit 127\n\"$s\" -T",
    ),
    p(
        "sshd-config",
        false,
        "/etc/ssh/sshd_config (exit 127: absent)",
        "[ -e /etc/ssh/sshd_config ] || exit 127\ncat /etc/ssh/sshd_config",
    ),
    p(
        "sshd-config-d",
        false,
        "drop-ins /etc/ssh/sshd_config.d/*.conf as `file:line` (grep -H)",
        "set -- /etc/ssh/sshd_config.d/*.conf\n[ -e \"$1\" ] || exit 0\ngrep -H '' \"$@\"\n[ $? -le 1 ]",
    ),
    p(
        "glibc-version",
        false,
        "C library version: `getconf GNU_LIBC_VERSION`, else the first line of `ldd --version` (exit 127: neither tool)",
        "getconf GNU_LIBC_VERSION 2>/dev/null && exit 0\ncommand -v ldd >/dev/null 2>&1 || exit 127\nldd --version 2>&1 | head -n 1",
    ),
    p(
        "authorized-keys",
        true,
        "every account's authorized_keys and authorized_keys2, each after a `== user path` line (`==! user path` when the account's /etc/passwd line says nologin)",
        "awk -F: '{ print $1 \":\" ($0 ~ /nologin/ ? \"!\" : \"\") \":\" $6 }' /etc/passwd | while IFS=: read -r user flag home; do\n  for f in \"$home/.ssh/authorized_keys\" \"$home/.ssh/authorized_keys2\"; do\n    [ -f \"$f\" ] || continue\n    printf '==%s %s %s\\n' \"$flag\" \"$user\" \"$f\"\n    awk 1 \"$f\"\n  done\ndone",
    ),
    p(
        "sudoers",
        true,
        "/etc/sudoers and /etc/sudoers.d/* as `file:line` (grep -H)",
        "set --\nfor f in /etc/sudoers /etc/sudoers.d/*; do [ -f \"$f\" ] && set -- \"$@\" \"$f\"; done\n[ $# -gt 0 ] || exit 127\ngrep -H '' \"$@\"\n[ $? -le 1 ]",
    ),
    p(
        "udev-net-rules",
        false,
        "persistent-net udev rule files that exist (one path a line; `path -> /dev/null` when the rule is masked by a symlink to /dev/null)",
        "for f in /etc/udev/rules.d/70-persistent-net.rules /etc/udev/rules.d/75-persistent-net-generator.rules /lib/udev/rules.d/75-persistent-net-generator.rules; do\n  if [ -L \"$f\" ] && [ \"$(readlink \"$f\")\" = /dev/null ]; then echo \"$f -> /dev/null\"\n  elif [ -e \"$f\" ]; then echo \"$f\"; fi\ndone\nexit 0",
    ),
    p(
        "hyperv-modules",
        false,
        "each Hyper-V driver as `name loaded|builtin|available|missing`",
        "k=$(uname -r)\nfor m in hv_vmbus hv_storvsc hv_netvsc; do\n  if grep -q \"^$m \" /proc/modules 2>/dev/null; then s=loaded\n  elif grep -q \"/$m.ko\" \"/lib/modules/$k/modules.builtin\" 2>/dev/null; then s=builtin\n  elif modinfo \"$m\" >/dev/null 2>&1; then s=available\n  else s=missing; fi\n  echo \"$m $s\"\ndone",
    ),
    p(
        "iptables-save",
        true,
        "`iptables-save` (exit 127: not installed)",
        "command -v iptables-save >/dev/null 2>&1 || exit 127\niptables-save",
    ),
    p(
        "nft-ruleset",
        true,
        "`nft list ruleset` (exit 127: not installed)",
        "command -v nft >/dev/null 2>&1 || exit 127\nnft list ruleset",
    ),
    p(
        "pending-updates",
        true,
        "`manager: NAME` then the package manager's offline list of pending updates; for apt also `apt-cache policy` (which suites the local lists know) (exit 127: no known manager)",
        "if command -v apt-get >/dev/null 2>&1; then echo 'manager: apt'; apt-get -s -o Debug::NoLocking=1 upgrade || exit; apt-cache policy\nelif command -v dnf >/dev/null 2>&1; then echo 'manager: dnf'; dnf -q --cacheonly --setopt=skip_if_unavailable=False updateinfo list --security\nelif command -v yum >/dev/null 2>&1; then echo 'manager: yum'; yum -q --cacheonly updateinfo list security\nelif command -v zypper >/dev/null 2>&1; then echo 'manager: zypper'; zypper --non-interactive --no-refresh list-patches --category security\nelse exit 127; fi",
    ),
    p(
        "omi-version",
        false,
        "installed OMI version (exit 127: OMI not installed)",
        "if [ -x /opt/omi/bin/omiserver ]; then /opt/omi/bin/omiserver --version\nelif command -v dpkg-query >/dev/null 2>&1 && [ \"$(dpkg-query -W -f='${Status}' omi 2>/dev/null)\" = 'install ok installed' ]; then dpkg-query -W omi\nelif command -v rpm >/dev/null 2>&1 && rpm -q omi >/dev/null 2>&1; then rpm -q omi\nelse exit 127; fi",
    ),
    p(
        "cloud-init",
        false,
        "`cloud-init VERSION` read from cloudinit/version.py (the packaged version when the distribution stamped one), else `cloud-init --version` (which starts Python and imports cloud-init: about 0.5 s of CPU); then any ssh_deletekeys settings (exit 127: not installed)",
        "command -v cloud-init >/dev/null 2>&1 || exit 127\nv=\nfor f in /usr/lib/python3*/*-packages/cloudinit/version.py; do\n  [ -f \"$f\" ] || continue\n  v=$(sed -n 's/^_PACKAGED_VERSION *= *.\\([0-9][0-9A-Za-z.+~:-]*\\).*/\\1/p' \"$f\")\n  [ -n \"$v\" ] || v=$(sed -n 's/^__VERSION__ *= *.\\([0-9][0-9A-Za-z.+~:-]*\\).*/\\1/p' \"$f\")\n  [ -n \"$v\" ] && break\ndone\nif [ -n \"$v\" ]; then echo \"cloud-init $v\"; else cloud-init --version 2>&1; fi\nset --\nfor f in /etc/cloud/cloud.cfg /etc/cloud/cloud.cfg.d/*.cfg; do [ -f \"$f\" ] && set -- \"$@\" \"$f\"; done\n[ $# -gt 0 ] && grep -H 'ssh_deletekeys' \"$@\"\nexit 0",
    ),
    p(
        "waagent-goal-state-agents",
        true,
        "goal-state agents the Azure Linux Agent downloaded: the WALinuxAgent-x.y.z directories under /var/lib/waagent (exit 127: no /var/lib/waagent)",
        "[ -d /var/lib/waagent ] || exit 127\nfor d in /var/lib/waagent/WALinuxAgent-*; do [ -d \"$d\" ] && printf '%s\\n' \"${d##*/}\"; done\nexit 0",
    ),
    p(
        "boot-log",
        true,
        "kernel and boot log lines (this boot's kernel journal, else dmesg; /var/log/dmesg, syslog, messages, boot.log), each after its source: the first `console [...] enabled` lines and at most 300 lines that mention fail, error or warn",
        "{\n  if command -v journalctl >/dev/null 2>&1; then journalctl -k -b -q --no-pager 2>/dev/null | sed 's/^/journal: /'\n  elif command -v dmesg >/dev/null 2>&1; then dmesg 2>/dev/null | sed 's/^/dmesg: /'; fi\n  for f in /var/log/dmesg /var/log/syslog /var/log/messages /var/log/boot.log; do [ -f \"$f\" ] && sed \"s|^|$f: |\" \"$f\"; done\n} | awk '/console \\[[A-Za-z0-9]+\\] enabled/ { if (c++ < 10) print; next } tolower($0) ~ /fail|error|warn/ { if (n++ < 300) print }'",
    ),
    p(
        "boot-config",
        true,
        "the generated boot configuration: `== path` for each of /boot/grub/grub.cfg, /boot/grub2/grub.cfg, /boot/efi/EFI/*/grub.cfg, grubenv and the BLS entries /boot/loader/entries/*.conf that exist, then their lines mentioning libata.atapi_enabled or reserve= as `path:line`",
        "set --\nfor f in /boot/grub/grub.cfg /boot/grub2/grub.cfg /boot/efi/EFI/*/grub.cfg /boot/grub/grubenv /boot/grub2/grubenv /boot/loader/entries/*.conf; do [ -f \"$f\" ] && set -- \"$@\" \"$f\"; done\nfor f in \"$@\"; do printf '== %s\\n' \"$f\"; done\n[ $# -gt 0 ] || exit 0\ngrep -H -E 'libata\\.atapi_enabled|reserve=' \"$@\"\n[ $? -le 1 ]",
    ),
    p(
        "package-sources",
        false,
        "configured package sources as `file:line` (grep -H): apt sources.list, sources.list.d/*.list and *.sources, yum/dnf /etc/yum.repos.d/*.repo, zypper /etc/zypp/repos.d/*.repo; user:password@ and URL query strings (tokens, SAS signatures) are masked on the VM",
        "set --\nfor f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources /etc/yum.repos.d/*.repo /etc/zypp/repos.d/*.repo; do [ -f \"$f\" ] && set -- \"$@\" \"$f\"; done\n[ $# -gt 0 ] || exit 0\ngrep -H '' \"$@\" | sed -E 's#://[^/@[:space:]]+@#://***@#g; s#(://[^?[:space:]]*)[?][^[:space:]]*#\\1?***#g'",
    ),
    p(
        "network-config",
        true,
        "network configuration files after a `== path` line: /etc/sysconfig/network, ifcfg-eth0, /etc/systemd/networkd.conf; of NetworkManager keyfiles only their section, id, type, interface-name and autoconnect lines (never secrets); then `== nmcli` and the device states",
        "for f in /etc/sysconfig/network /etc/sysconfig/network-scripts/ifcfg-eth0 /etc/systemd/networkd.conf; do\n  [ -f \"$f\" ] || continue\n  printf '== %s\\n' \"$f\"\n  awk 1 \"$f\"\ndone\nfor f in /etc/NetworkManager/system-connections/* /run/NetworkManager/system-connections/*; do\n  [ -f \"$f\" ] || continue\n  printf '== %s\\n' \"$f\"\n  grep -E '^[[:space:]]*([[]|id=|type=|interface-name=|autoconnect=)' \"$f\"\ndone\nif command -v nmcli >/dev/null 2>&1; then echo '== nmcli'; nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device 2>&1; fi\nexit 0",
    ),
    p(
        "kernel-config",
        false,
        "CONFIG_WATCHDOG and CONFIG_CIFS lines of the running kernel's build configuration, after `== source`: /boot/config-$(uname -r), else /lib/modules/$(uname -r)/config, else /proc/config.gz (exit 127: none readable)",
        "k=$(uname -r)\npat='^(# )?CONFIG_(WATCHDOG|CIFS)[ =]'\nif [ -r \"/boot/config-$k\" ]; then echo \"== /boot/config-$k\"; grep -E \"$pat\" \"/boot/config-$k\"\nelif [ -r \"/lib/modules/$k/config\" ]; then echo \"== /lib/modules/$k/config\"; grep -E \"$pat\" \"/lib/modules/$k/config\"\nelif [ -r /proc/config.gz ]; then echo '== /proc/config.gz'; gzip -dc /proc/config.gz | grep -E \"$pat\"\nelse exit 127; fi\n[ $? -le 1 ]",
    ),
    p(
        "dhcp-config",
        false,
        "DHCP client configuration after a `== path` line: /etc/sysconfig/network/dhcp (SUSE), /etc/dhcpcd.conf, /etc/dhcp/dhclient.conf",
        "for f in /etc/sysconfig/network/dhcp /etc/dhcpcd.conf /etc/dhcp/dhclient.conf; do\n  [ -f \"$f\" ] || continue\n  printf '== %s\\n' \"$f\"\n  awk 1 \"$f\"\ndone\nexit 0",
    ),
    p(
        "kvp-daemon",
        false,
        "running Hyper-V KVP daemons: one line per hv_kvp_daemon or hypervkvpd process (from /proc/*/comm)",
        "for f in /proc/[0-9]*/comm; do\n  { read -r c < \"$f\"; } 2>/dev/null || continue\n  case $c in hv_kvp_daemon|hypervkvpd) echo \"$c\" ;; esac\ndone\nexit 0",
    ),
    p(
        "cloud-init-status",
        true,
        "cloud-init's result of its last boot (`== path` then /run/cloud-init/result.json, else /var/lib/cloud/data/result.json: what `cloud-init status` reports from), then at most 100 `[ERROR]`/`[WARNING]` lines of /var/log/cloud-init.log after `== /var/log/cloud-init.log` (exit 127: cloud-init not installed)",
        "command -v cloud-init >/dev/null 2>&1 || exit 127\nfor f in /run/cloud-init/result.json /var/lib/cloud/data/result.json; do\n  if [ -f \"$f\" ]; then printf '== %s\\n' \"$f\"; cat \"$f\"; echo; break; fi\ndone\n[ -f /var/log/cloud-init.log ] || exit 0\necho '== /var/log/cloud-init.log'\nawk '/\\[(ERROR|WARNING)\\]/ { if (n++ < 100) print } END { if (n > 100) print \"... \" n - 100 \" more\" }' /var/log/cloud-init.log",
    ),
    p(
        "resource-disk",
        false,
        "the Azure temp disk: `mountpoint:` (ResourceDisk.MountPoint, default /mnt/resource), its /proc/mounts line as `mount:`, the partitions of /dev/disk/azure/resource as `partition: DEVICE FSTYPE`, and which of DATALOSS_WARNING_README.txt and lost+found it holds as `entry:`",
        "m=$(awk -F= '/^ResourceDisk\\.MountPoint=/ { v = $2; sub(/#.*/, \"\", v); gsub(/[\" \\t]/, \"\", v) } END { print v }' /etc/waagent.conf 2>/dev/null)\n[ -n \"$m\" ] || m=/mnt/resource\necho \"mountpoint: $m\"\nawk -v m=\"$m\" '$2 == m { print \"mount: \" $0 }' /proc/mounts\nfor p in /dev/disk/azure/resource-part*; do [ -e \"$p\" ] && echo \"partition: $(readlink -f \"$p\") $(lsblk -dno FSTYPE \"$p\" 2>/dev/null)\"; done\nfor e in DATALOSS_WARNING_README.txt lost+found; do [ -e \"$m/$e\" ] && echo \"entry: $e\"; done\nexit 0",
    ),
];
