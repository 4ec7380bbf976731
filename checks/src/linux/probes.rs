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
        "the account vmcert logged in as (SUDO_USER under sudo)",
        "printf '%s\\n' \"${SUDO_USER:-$(id -un)}\"",
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
        "shell history files of root and every account whose shell ends in sh: user<TAB>path<TAB>bytes",
        "awk -F: '$1 == \"root\" || $7 ~ /sh$/ { print $1 \":\" $6 }' /etc/passwd | while IFS=: read -r user home; do\n  for f in .bash_history .zsh_history .sh_history .history; do\n    p=\"$home/$f\"\n    if [ -f \"$p\" ]; then printf '%s\\t%s\\t%s\\n' \"$user\" \"$p\" \"$(wc -c < \"$p\")\"; fi\n  done\ndone",
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
        "`python3 --version`, else `python --version` (exit 127: neither)",
        "if command -v python3 >/dev/null 2>&1; then python3 --version 2>&1\nelif command -v python >/dev/null 2>&1; then python --version 2>&1\nelse exit 127; fi",
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
        "every account's authorized_keys and authorized_keys2, each after a `== user path` line",
        "awk -F: '{ print $1 \":\" $6 }' /etc/passwd | while IFS=: read -r user home; do\n  for f in \"$home/.ssh/authorized_keys\" \"$home/.ssh/authorized_keys2\"; do\n    [ -f \"$f\" ] || continue\n    printf '== %s %s\\n' \"$user\" \"$f\"\n    awk 1 \"$f\"\n  done\ndone",
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
        "persistent-net udev rule files that exist (one path a line)",
        "for f in /etc/udev/rules.d/70-persistent-net.rules /lib/udev/rules.d/75-persistent-net-generator.rules; do [ -e \"$f\" ] && echo \"$f\"; done; exit 0",
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
];
