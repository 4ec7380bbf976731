//! The Linux probes answered from the disk. Each answer has the exact shape the live probe
//! prints (its command is in `checks/src/linux/probes.rs`), so the checks read it unchanged:
//! files are `cat`ed or `grep -H`ed as the probe would, and what a live probe asks a running
//! system is answered from what decides it on disk (the GRUB entry for the kernel command line,
//! the unit symlinks for `systemctl is-enabled`, fstab for the swap that boot turns on, the
//! package database and library names for versions, the ELF header of `/bin/sh` for the
//! architecture). What only a running system knows comes back as [`Answer::Offline`].

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use ext4_view::Ext4;
use vmcert_checks::ProbeOutput;
use vmcert_checks::linux::convtime;

use super::fs::{FsError, Kind, Mounted, Tree};
use super::layout::{FsKind, Layout, Part};
use super::{Answer, ImageError};
use crate::vhd::partition::SECTOR;

/// Most bytes read of one configuration file.
const CAP: u64 = 4 << 20;
/// Most bytes read of a package database or a library scanned for its version string.
const BIG_CAP: u64 = 32 << 20;
/// The probe script's PATH, where `command -v` looks.
const PATH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];
/// Where systemd looks for unit files.
const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// A swap area the image's fstab turns on at boot.
struct Swap {
    /// `/dev/sda2` or `/swapfile`.
    name: String,
    is_file: bool,
    kib: u64,
    /// Device holding a swap file.
    holder: Option<String>,
}

/// The default GRUB entry.
struct BootEntry {
    /// The kernel path as written (`/boot/vmlinuz-6.1.0-28-cloud-amd64`).
    image: String,
    /// The arguments after it, grub variables dropped.
    args: Vec<String>,
}

/// A Linux image, opened: the tree with fstab's mounts, and what boot would make of it.
pub(crate) struct Linux {
    tree: Tree,
    parts: Vec<Part>,
    disk: String,
    /// Partition number -> mount point or `[SWAP]`.
    mounted: BTreeMap<u32, String>,
    swaps: Vec<Swap>,
    boot: Option<BootEntry>,
    kernel: Option<String>,
    login_user: String,
    dpkg: OnceCell<Result<Option<BTreeMap<String, String>>, FsError>>,
    /// Lines for the run log.
    pub(crate) notes: Vec<String>,
}

/// A partition device name: `sda1`, `nvme0n1p1`, or the disk itself for number 0.
fn dev(disk: &str, n: u32) -> String {
    if n == 0 {
        disk.to_string()
    } else if disk.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{disk}p{n}")
    } else {
        format!("{disk}{n}")
    }
}

/// Loads the ext file system of `p`.
fn load(layout: &Layout, p: &Part) -> Result<Ext4, String> {
    Ext4::load(Box::new(layout.window(p))).map_err(|e| e.to_string())
}

/// `(spec, mount point, type, options)` of each fstab line.
fn fstab_lines(text: &str) -> Vec<(String, String, String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3).then(|| {
                (
                    f[0].to_string(),
                    f[1].to_string(),
                    f[2].to_string(),
                    f.get(3).copied().unwrap_or("defaults").to_string(),
                )
            })
        })
        .collect()
}

/// The disk name fstab or grub use for the first disk (`sda`, `vda`, `xvda`, `nvme0n1`).
fn disk_name(texts: &[&str]) -> String {
    for t in texts {
        for word in t.split(|c: char| c.is_whitespace() || c == '=') {
            if let Some(d) = word.strip_prefix("/dev/") {
                for prefix in ["sda", "vda", "xvda", "hda", "nvme0n1", "mmcblk0"] {
                    if d.starts_with(prefix) {
                        return prefix.to_string();
                    }
                }
            }
        }
    }
    "sda".to_string()
}

/// The partition an fstab source names.
fn find_part<'a>(parts: &'a [Part], spec: &str) -> Option<&'a Part> {
    let eq = |a: &Option<String>, b: &str| a.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(b));
    if let Some(u) = spec
        .strip_prefix("UUID=")
        .or_else(|| spec.strip_prefix("/dev/disk/by-uuid/"))
    {
        return parts.iter().find(|p| eq(&p.uuid, u.trim_matches('"')));
    }
    if let Some(l) = spec
        .strip_prefix("LABEL=")
        .or_else(|| spec.strip_prefix("/dev/disk/by-label/"))
    {
        return parts
            .iter()
            .find(|p| p.label.as_deref() == Some(l.trim_matches('"')));
    }
    if let Some(u) = spec
        .strip_prefix("PARTUUID=")
        .or_else(|| spec.strip_prefix("/dev/disk/by-partuuid/"))
    {
        return parts.iter().find(|p| eq(&p.partuuid, u.trim_matches('"')));
    }
    let d = spec.strip_prefix("/dev/")?;
    for prefix in ["sda", "vda", "xvda", "hda"] {
        if let Some(n) = d.strip_prefix(prefix).and_then(|n| n.parse::<u32>().ok()) {
            return parts.iter().find(|p| p.number == n);
        }
    }
    for prefix in ["nvme0n1p", "mmcblk0p"] {
        if let Some(n) = d.strip_prefix(prefix).and_then(|n| n.parse::<u32>().ok()) {
            return parts.iter().find(|p| p.number == n);
        }
    }
    None
}

/// `2.36` from the Debian version `2.36-9+deb12u9`, `1:2.3` -> `2.3`.
fn upstream(v: &str) -> &str {
    let v = v.split_once(':').map_or(v, |(_, r)| r);
    v.rsplit_once('-').map_or(v, |(u, _)| u)
}

/// `uname -m` for the ELF header of an executable.
fn elf_machine(h: &[u8]) -> Option<&'static str> {
    if h.len() < 20 || &h[..4] != b"\x7fELF" {
        return None;
    }
    let m = if h[5] == 2 {
        u16::from_be_bytes([h[18], h[19]])
    } else {
        u16::from_le_bytes([h[18], h[19]])
    };
    Some(match m {
        0x3e => "x86_64",
        0xb7 => "aarch64",
        0x03 => "i686",
        0x28 => "armv7l",
        0x15 => "ppc64le",
        0x16 => "s390x",
        0xf3 => "riscv64",
        _ => return None,
    })
}

/// The version string of an x86 bzImage's setup header.
fn bzimage_version(h: &[u8]) -> Option<String> {
    if h.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let at = 0x200 + usize::from(u16::from_le_bytes([*h.get(0x20e)?, *h.get(0x20f)?]));
    let s = h.get(at..)?;
    let end = s.iter().position(|c| *c == 0)?;
    let v = String::from_utf8_lossy(&s[..end]).trim().to_string();
    (!v.is_empty() && v.len() < 512).then_some(v)
}

/// lsblk's `-P` escaping of a value.
fn lsblk_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_graphic() && b != b'"' && b != b'\\' && b != b'`' && b != b'$' || b == b' ' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// A probe that exited 0 with `stdout`.
fn ok(stdout: impl Into<Vec<u8>>) -> Answer {
    Answer::Out(ProbeOutput::exited(0, stdout))
}

/// A probe that exited `code` with `stderr`.
fn exit(code: i32, stderr: &str) -> Answer {
    Answer::Out(ProbeOutput {
        exit_code: Some(code),
        stderr: stderr.as_bytes().to_vec(),
        ..ProbeOutput::default()
    })
}

/// Each line of `text` prefixed by `file:`, as `grep -H ''` prints it.
/// A package-source line with `user:password@` and URL query strings masked, as the live
/// `package-sources` probe's sed does.
fn mask_url_secrets(line: &str) -> String {
    static USERINFO: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"://[^/@\s]+@").expect("regex"));
    static QUERY: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"(://[^?\s]*)\?\S*").expect("regex"));
    let l = USERINFO.replace_all(line, "://***@");
    QUERY.replace_all(&l, "$1?***").into_owned()
}

fn grep_h(out: &mut String, file: &str, text: &str, only: Option<&str>) {
    for line in text.lines() {
        if only.is_none_or(|w| line.contains(w)) {
            let _ = writeln!(out, "{file}:{line}");
        }
    }
}

impl Linux {
    /// Opens the Linux root of `layout`: the first ext partition with `/etc` and an os-release
    /// or fstab, the rest of its fstab mounted on it.
    ///
    /// # Errors
    /// No such partition: the error names what was found instead.
    pub(crate) fn open(layout: &Layout, login_user: Option<&str>) -> Result<Self, ImageError> {
        let mut notes = layout.notes.clone();
        notes.push(format!(
            "partition table: {}, {} partition(s)",
            layout.scheme,
            layout.parts.iter().filter(|p| p.number > 0).count()
        ));
        let mut root = None;
        for p in layout
            .parts
            .iter()
            .filter(|p| matches!(p.fs, FsKind::Ext(_)))
        {
            match load(layout, p) {
                Ok(fs) => {
                    let has = |path: &str| fs.exists(path).unwrap_or(false);
                    if has("/etc")
                        && (has("/etc/fstab")
                            || has("/etc/os-release")
                            || has("/usr/lib/os-release"))
                    {
                        root = Some((p.clone(), fs));
                        break;
                    }
                }
                Err(e) => notes.push(format!(
                    "partition {} has an ext superblock but cannot be read: {e}",
                    p.number
                )),
            }
        }
        let Some((root_part, root_fs)) = root else {
            return Err(no_root(layout, &notes));
        };
        let tree = Tree::new(root_fs);
        let fstab = String::from_utf8_lossy(
            &tree
                .read("/etc/fstab", CAP)
                .map_err(|e| ImageError::Unreadable(e.to_string()))?
                .unwrap_or_default(),
        )
        .into_owned();
        let mut linux = Self {
            tree,
            parts: layout.parts.clone(),
            disk: disk_name(&[&fstab]),
            mounted: BTreeMap::from([(root_part.number, "/".to_string())]),
            swaps: Vec::new(),
            boot: None,
            kernel: None,
            login_user: String::new(),
            dpkg: OnceCell::new(),
            notes,
        };
        linux.notes.push(format!(
            "root file system: {} ({}{})",
            dev(&linux.disk, root_part.number),
            root_part.fs.lsblk(),
            root_part
                .uuid
                .as_deref()
                .map(|u| format!(", UUID {u}"))
                .unwrap_or_default()
        ));
        let lines = fstab_lines(&fstab);
        for (spec, point, vfs, _) in &lines {
            if vfs == "swap" || !point.starts_with('/') || point == "/" {
                continue;
            }
            let Some(p) = find_part(&linux.parts, spec) else {
                linux.notes.push(format!(
                    "fstab: {spec} ({point}) is not a partition of this disk; not mounted"
                ));
                continue;
            };
            let what = format!(
                "{} ({}) mounted at {point}",
                dev(&linux.disk, p.number),
                if p.fs.lsblk().is_empty() {
                    "unknown file system"
                } else {
                    p.fs.lsblk()
                }
            );
            let fs = if matches!(p.fs, FsKind::Ext(_)) && p.broken.is_none() {
                match load(layout, p) {
                    Ok(fs) => Mounted::Ext(fs),
                    Err(e) => Mounted::Unreadable(format!("{what}, which cannot be read: {e}")),
                }
            } else {
                Mounted::Unreadable(what.clone())
            };
            linux.notes.push(format!("fstab: {what}"));
            linux.tree.mount(point, fs);
            linux.mounted.insert(p.number, point.clone());
        }
        linux.swaps = linux.fstab_swaps(&lines);
        for s in &linux.swaps {
            if !s.is_file
                && let Some(p) = linux
                    .parts
                    .iter()
                    .find(|p| dev(&linux.disk, p.number) == s.name.trim_start_matches("/dev/"))
            {
                linux.mounted.insert(p.number, "[SWAP]".to_string());
            }
        }
        linux.boot = linux.boot_entry().unwrap_or_else(|e| {
            linux.notes.push(format!("boot entry: {e}"));
            None
        });
        linux.kernel = linux.kernel_release();
        linux.login_user = match login_user {
            Some(u) => u.to_string(),
            None => linux.first_account(),
        };
        linux.notes.push(format!(
            "login user taken as `{}` (the account VMs of this image are reached with; --login-user sets it)",
            linux.login_user
        ));
        Ok(linux)
    }

    /// The swap areas of fstab that boot would turn on: swap partitions of this disk and swap
    /// files present on it (others cannot be turned on, as on a live system).
    fn fstab_swaps(&mut self, lines: &[(String, String, String, String)]) -> Vec<Swap> {
        let mut out = Vec::new();
        for (spec, _, vfs, opts) in lines {
            if vfs != "swap" || opts.split(',').any(|o| o == "noauto") {
                continue;
            }
            if spec.starts_with('/') && !spec.starts_with("/dev/") {
                match self.tree.resolve(spec, true) {
                    Ok(Some((real, Kind::File, len))) => {
                        let holder = self
                            .mounted
                            .iter()
                            .filter(|(_, m)| m.starts_with('/'))
                            .filter(|(_, m)| {
                                m.as_str() == "/"
                                    || real == **m
                                    || real.starts_with(&format!("{m}/"))
                            })
                            .max_by_key(|(_, m)| m.len())
                            .map(|(n, _)| format!("/dev/{}", dev(&self.disk, *n)));
                        out.push(Swap {
                            name: spec.clone(),
                            is_file: true,
                            kib: (len / 1024).saturating_sub(4),
                            holder,
                        });
                    }
                    Ok(_) => self.notes.push(format!(
                        "fstab: swap file {spec} is not on the image; boot would not turn it on"
                    )),
                    Err(e) => self.notes.push(format!("fstab: swap file {spec}: {e}")),
                }
                continue;
            }
            match find_part(&self.parts, spec) {
                Some(p) if p.fs == FsKind::Swap => out.push(Swap {
                    name: format!("/dev/{}", dev(&self.disk, p.number)),
                    is_file: false,
                    kib: (p.sectors * SECTOR / 1024).saturating_sub(4),
                    holder: None,
                }),
                Some(p) => self.notes.push(format!(
                    "fstab: swap {spec} is partition {} without a swap signature; boot would not turn it on",
                    p.number
                )),
                None => self.notes.push(format!(
                    "fstab: swap {spec} is not on this disk; boot would not turn it on here"
                )),
            }
        }
        out
    }

    /// The first regular account (uid 1000-59999 with a shell ending in `sh`), else `root`.
    fn first_account(&self) -> String {
        let passwd = self.text("/etc/passwd").ok().flatten().unwrap_or_default();
        passwd
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                let uid = f.get(2)?.parse::<u32>().ok()?;
                ((1000..60000).contains(&uid) && f.get(6)?.ends_with("sh"))
                    .then(|| f[0].to_string())
            })
            .find(|n| !n.is_empty() && !n.contains(char::is_whitespace))
            .unwrap_or_else(|| "root".to_string())
    }

    fn text(&self, path: &str) -> Result<Option<String>, FsError> {
        Ok(self
            .tree
            .read(path, CAP)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// `[ -e P ] || exit 127; cat P`.
    fn cat_or_absent(&self, path: &str) -> Result<Answer, FsError> {
        match self.tree.stat(path)? {
            None => Ok(exit(127, "")),
            Some((Kind::File, _)) => Ok(ok(self.tree.read(path, CAP)?.unwrap_or_default())),
            Some(_) => Ok(exit(1, &format!("cat: {path}: Is a directory\n"))),
        }
    }

    /// `command -v NAME` over the probe script's PATH.
    fn command(&self, name: &str) -> Result<Option<String>, FsError> {
        for d in PATH {
            let p = format!("{d}/{name}");
            if self.tree.is_file(&p)? {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    /// Installed packages of the dpkg database: name -> version.
    fn dpkg(&self) -> Result<Option<&BTreeMap<String, String>>, FsError> {
        let r = self.dpkg.get_or_init(|| {
            let Some(bytes) = self.tree.read("/var/lib/dpkg/status", BIG_CAP)? else {
                return Ok(None);
            };
            let text = String::from_utf8_lossy(&bytes);
            let mut out = BTreeMap::new();
            for stanza in text.split("\n\n") {
                let (mut name, mut version, mut installed) = (None, None, false);
                for line in stanza.lines() {
                    if let Some(v) = line.strip_prefix("Package: ") {
                        name = Some(v.trim());
                    } else if let Some(v) = line.strip_prefix("Version: ") {
                        version = Some(v.trim());
                    } else if let Some(v) = line.strip_prefix("Status: ") {
                        installed = v.trim() == "install ok installed";
                    }
                }
                if let (Some(n), Some(v), true) = (name, version, installed) {
                    out.insert(n.to_string(), v.to_string());
                }
            }
            Ok(Some(out))
        });
        match r {
            Ok(m) => Ok(m.as_ref()),
            Err(e) => Err(e.clone()),
        }
    }

    fn package(&self, names: &[&str]) -> Result<Option<String>, FsError> {
        let Some(db) = self.dpkg()? else {
            return Ok(None);
        };
        Ok(names.iter().find_map(|n| db.get(*n)).cloned())
    }

    /// The text after `needle` in file `path` (a library's version string), up to a NUL.
    fn scan(&self, path: &str, needle: &[u8]) -> Result<Option<String>, FsError> {
        let Some(bytes) = self.tree.read(path, BIG_CAP)? else {
            return Ok(None);
        };
        Ok(bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| {
                let rest = &bytes[i + needle.len()..];
                let end = rest
                    .iter()
                    .position(|c| *c == 0 || *c == b'\n')
                    .unwrap_or(rest.len())
                    .min(200);
                String::from_utf8_lossy(&rest[..end]).into_owned()
            }))
    }

    /// The default GRUB entry: the first `linux` line of grub.cfg, or the newest BLS entry
    /// when grub.cfg reads them (`blscfg`).
    fn boot_entry(&self) -> Result<Option<BootEntry>, FsError> {
        for cfg in ["/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"] {
            let Some(text) = self.text(cfg)? else {
                continue;
            };
            let mut bls = false;
            for line in text.lines().map(str::trim) {
                let mut w = line.split_whitespace();
                match w.next() {
                    Some("linux" | "linux16" | "linuxefi") => {
                        let Some(image) = w.next() else { continue };
                        let args = w
                            .filter(|a| !a.contains('$'))
                            .map(|a| a.trim_matches(['\'', '"']).to_string())
                            .filter(|a| !a.is_empty())
                            .collect();
                        return Ok(Some(BootEntry {
                            image: image.to_string(),
                            args,
                        }));
                    }
                    Some("blscfg") => bls = true,
                    _ => {}
                }
            }
            if bls {
                return self.bls_entry();
            }
        }
        Ok(None)
    }

    /// The newest `/boot/loader/entries/*.conf` (its `linux` and `options`, `$kernelopts`
    /// taken from grubenv).
    fn bls_entry(&self) -> Result<Option<BootEntry>, FsError> {
        let entries = self.tree.glob("/boot/loader/entries", "", ".conf")?;
        let Some(newest) = entries.iter().max_by(|a, b| {
            vmcert_checks::version::Version::parse(a)
                .cmp(&vmcert_checks::version::Version::parse(b))
                .then(a.cmp(b))
        }) else {
            return Ok(None);
        };
        let text = self.text(newest)?.unwrap_or_default();
        let env = self.text("/boot/grub2/grubenv")?.unwrap_or_default();
        let kernelopts = env
            .lines()
            .find_map(|l| l.strip_prefix("kernelopts="))
            .unwrap_or("");
        let (mut image, mut args) = (None, Vec::new());
        for line in text.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix("linux ") {
                image = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("options ") {
                for a in v.split_whitespace() {
                    if a == "$kernelopts" {
                        args.extend(kernelopts.split_whitespace().map(str::to_string));
                    } else if !a.contains('$') {
                        args.push(a.to_string());
                    }
                }
            }
        }
        Ok(image.map(|image| BootEntry { image, args }))
    }

    /// The kernel release boot would run: the default entry's `vmlinuz-<release>`, else the
    /// newest `/boot/vmlinuz-*`, else the only `/lib/modules/<release>`.
    fn kernel_release(&self) -> Option<String> {
        if let Some(b) = &self.boot {
            let base = b.image.rsplit('/').next().unwrap_or("");
            if let Some(r) = base
                .strip_prefix("vmlinuz-")
                .or_else(|| base.strip_prefix("vmlinux-"))
            {
                return Some(r.to_string());
            }
        }
        let boot = self.tree.glob("/boot", "vmlinuz-", "").ok()?;
        let newest = boot
            .iter()
            .filter_map(|p| p.rsplit_once("vmlinuz-").map(|(_, r)| r.to_string()))
            .max_by(|a, b| {
                vmcert_checks::version::Version::parse(a)
                    .cmp(&vmcert_checks::version::Version::parse(b))
                    .then(a.cmp(b))
            });
        if newest.is_some() {
            return newest;
        }
        let mods = self.tree.list("/lib/modules").ok()??;
        (mods.len() == 1).then(|| mods[0].clone())
    }

    /// Answers probe `id`.
    pub(crate) fn answer(&self, id: &str) -> Answer {
        match self.try_answer(id) {
            Ok(a) => a,
            Err(e @ FsError::Unreadable { .. }) => Answer::Offline(e.to_string()),
            Err(e) => Answer::Error(format!("cannot read the image: {e}")),
        }
    }

    #[allow(clippy::too_many_lines)]
    fn try_answer(&self, id: &str) -> Result<Answer, FsError> {
        Ok(match id {
            "os-release" => {
                if self.tree.exists("/etc/os-release")? {
                    self.cat_or_absent("/etc/os-release")?
                } else if self.tree.exists("/usr/lib/os-release")? {
                    self.cat_or_absent("/usr/lib/os-release")?
                } else {
                    exit(1, "cat: /usr/lib/os-release: No such file or directory\n")
                }
            }
            "uname-r" => match &self.kernel {
                Some(k) => ok(format!("{k}\n")),
                None => Answer::Offline(
                    "no GRUB entry, /boot/vmlinuz-* or single /lib/modules/<release> names the kernel boot would run".into(),
                ),
            },
            "uname-m" => match self.tree.head("/bin/sh", 64)? {
                Some(h) => match elf_machine(&h) {
                    Some(m) => ok(format!("{m}\n")),
                    None => Answer::Error("/bin/sh is not an ELF executable of a known machine".into()),
                },
                None => Answer::Error("/bin/sh is missing: the architecture cannot be read".into()),
            },
            "uname-n" => {
                let h = self.text("/etc/hostname")?.unwrap_or_default();
                let h = h.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'));
                ok(format!("{}\n", h.unwrap_or("localhost")))
            }
            "proc-version" => {
                let Some(k) = &self.kernel else {
                    return Ok(Answer::Offline("the kernel boot would run is not known".into()));
                };
                match self.tree.head(&format!("/boot/vmlinuz-{k}"), 64 << 10)? {
                    Some(h) => match bzimage_version(&h) {
                        Some(v) => ok(format!("Linux version {v}\n")),
                        None => Answer::Offline(format!(
                            "/boot/vmlinuz-{k} has no x86 setup header with a version string"
                        )),
                    },
                    None => Answer::Offline(format!("/boot/vmlinuz-{k} is not on the image")),
                }
            }
            "proc-cmdline" => match &self.boot {
                Some(b) => {
                    let mut line = format!("BOOT_IMAGE={}", b.image);
                    for a in &b.args {
                        line.push(' ');
                        line.push_str(a);
                    }
                    ok(format!("{line}\n"))
                }
                None => Answer::Offline(
                    "no GRUB configuration (/boot/grub/grub.cfg, /boot/grub2/grub.cfg or BLS entries) says the kernel command line".into(),
                ),
            },
            "default-grub" => self.cat_or_absent("/etc/default/grub")?,
            "default-grub-d" => self.grep_files(&self.tree.glob("/etc/default/grub.d", "", ".cfg")?, None)?,
            "login-user" => ok(format!("{}\n", self.login_user)),
            "shadow-status" => match self.tree.read("/etc/shadow", CAP)? {
                None => exit(2, "awk: cannot open \"/etc/shadow\" (No such file or directory)\n"),
                Some(b) => {
                    let text = String::from_utf8_lossy(&b);
                    let mut out = String::new();
                    for line in text.lines() {
                        let mut f = line.split(':');
                        let name = f.next().unwrap_or("");
                        let p = f.next().unwrap_or("");
                        let class = if p.is_empty() {
                            "empty"
                        } else if p.starts_with(['!', '*']) || p == "x" {
                            "locked"
                        } else {
                            "hash"
                        };
                        let _ = writeln!(out, "{name}:{class}");
                    }
                    ok(out)
                }
            },
            "history-files" => {
                let mut out = String::new();
                for (user, home, shell) in self.accounts()? {
                    if user != "root" && !shell.ends_with("sh") {
                        continue;
                    }
                    if home.is_empty() || home == "/" {
                        continue;
                    }
                    // As the live probe's find: every `.*sh_history` and `.history`, recursively
                    // (a few levels deep: a disk image is read file by file).
                    let mut dirs = vec![(home.clone(), 0)];
                    while let Some((dir, depth)) = dirs.pop() {
                        for name in self.tree.list(&dir)?.unwrap_or_default() {
                            let p = format!("{}/{name}", dir.trim_end_matches('/'));
                            match self.tree.stat(&p)? {
                                Some((Kind::File, len))
                                    if name == ".history"
                                        || (name.starts_with('.') && name.ends_with("sh_history")) =>
                                {
                                    let _ = writeln!(out, "{user}\t{p}\t{len}");
                                }
                                Some((Kind::Dir, _)) if depth < 4 => dirs.push((p, depth + 1)),
                                _ => {}
                            }
                        }
                    }
                }
                ok(out)
            }
            "waagent-version" => self.waagent_version()?,
            "waagent-enabled" => {
                if self.command("systemctl")?.is_none() {
                    exit(127, "systemctl: not found\n")
                } else {
                    let mut out = String::new();
                    for u in ["walinuxagent", "waagent"] {
                        let _ = writeln!(out, "{u}.service: {}", self.is_enabled(u)?);
                    }
                    ok(out)
                }
            }
            "waagent-conf" => self.cat_or_absent("/etc/waagent.conf")?,
            "proc-swaps" => {
                let mut out = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n".to_string();
                for s in &self.swaps {
                    let _ = writeln!(
                        out,
                        "{:<40}{}\t{}\t\t0\t\t-2",
                        s.name.replace(' ', "\\040"),
                        if s.is_file { "file\t" } else { "partition" },
                        s.kib
                    );
                }
                ok(out)
            }
            "swap-file-sources" => {
                let mut out = String::new();
                for s in self.swaps.iter().filter(|s| s.is_file) {
                    let _ = writeln!(out, "{}\t{}", s.name, s.holder.as_deref().unwrap_or(""));
                }
                ok(out)
            }
            "fstab" => self.cat_or_absent("/etc/fstab")?,
            "lsblk" => ok(self.lsblk()),
            "partition-starts" => {
                let mut out = String::new();
                for p in self.parts.iter().filter(|p| p.number > 0) {
                    let _ = writeln!(out, "/sys/block/{}/{}/start {}", self.disk, dev(&self.disk, p.number), p.start);
                }
                ok(out)
            }
            "openssl-version" => {
                if self.command("openssl")?.is_none() {
                    exit(127, "")
                } else if let Some(v) = self.package(&["openssl"])? {
                    ok(format!("OpenSSL {}\n", upstream(&v)))
                } else if let Some(v) = self.library_version("libcrypto.so", b"OpenSSL ")? {
                    ok(format!("OpenSSL {v}\n"))
                } else {
                    Answer::Offline("openssl is installed but its version is in no package database or library vmcert reads".into())
                }
            }
            "python-version" => self.python_version()?,
            "sshd-effective" => {
                if self.command("sshd")?.is_none() && !self.tree.is_file("/usr/sbin/sshd")? {
                    exit(127, "")
                } else if !self.tree.is_file("/etc/ssh/sshd_config")? {
                    exit(255, "/etc/ssh/sshd_config: No such file or directory\n")
                } else {
                    ok(self.sshd_effective()?)
                }
            }
            "sshd-config" => self.cat_or_absent("/etc/ssh/sshd_config")?,
            "sshd-config-d" => self.grep_files(&self.tree.glob("/etc/ssh/sshd_config.d", "", ".conf")?, None)?,
            "glibc-version" => {
                if let Some(v) = self.package(&["libc6", "libc6-amd64", "libc6-arm64"])? {
                    ok(format!("glibc {}\n", upstream(&v)))
                } else if let Some(v) = self.library_version("libc.so.6", b"release version ")? {
                    ok(format!("glibc {}\n", v.trim_end_matches('.')))
                } else {
                    Answer::Offline("no package database or libc.so.6 of the image says the glibc version".into())
                }
            }
            "authorized-keys" => {
                let mut out = String::new();
                for (user, home, _) in self.accounts()? {
                    for f in [format!("{home}/.ssh/authorized_keys"), format!("{home}/.ssh/authorized_keys2")] {
                        let Some(bytes) = self.tree.read(&f, 1 << 20)? else {
                            continue;
                        };
                        let _ = writeln!(out, "== {user} {f}");
                        for line in String::from_utf8_lossy(&bytes).lines() {
                            let _ = writeln!(out, "{line}");
                        }
                    }
                }
                ok(out)
            }
            "sudoers" => {
                let mut files = Vec::new();
                if self.tree.is_file("/etc/sudoers")? {
                    files.push("/etc/sudoers".to_string());
                }
                for f in self.tree.glob("/etc/sudoers.d", "", "")? {
                    if self.tree.is_file(&f)? {
                        files.push(f);
                    }
                }
                if files.is_empty() {
                    exit(127, "")
                } else {
                    self.grep_files(&files, None)?
                }
            }
            "udev-net-rules" => {
                let mut out = String::new();
                for f in [
                    "/etc/udev/rules.d/70-persistent-net.rules",
                    "/lib/udev/rules.d/75-persistent-net-generator.rules",
                ] {
                    if self.tree.exists(f)? {
                        let _ = writeln!(out, "{f}");
                    }
                }
                ok(out)
            }
            "hyperv-modules" => self.hyperv_modules()?,
            "iptables-save" | "nft-ruleset" => {
                let tool = if id == "iptables-save" { "iptables-save" } else { "nft" };
                if self.command(tool)?.is_none() {
                    exit(127, "")
                } else {
                    Answer::Offline(format!(
                        "{tool} is installed; the rules it would show are loaded only on a running system"
                    ))
                }
            }
            "pending-updates" => {
                let any = ["apt-get", "dnf", "yum", "zypper"]
                    .iter()
                    .map(|t| self.command(t))
                    .collect::<Result<Vec<_>, _>>()?;
                if any.iter().all(Option::is_none) {
                    exit(127, "")
                } else {
                    Answer::Offline(
                        "pending updates are known only against the package manager's current lists, on a running system".into(),
                    )
                }
            }
            "omi-version" => {
                if let Some(v) = self.package(&["omi"])? {
                    ok(format!("omi\t{v}\n"))
                } else if self.tree.is_file("/opt/omi/bin/omiserver")? {
                    Answer::Offline("/opt/omi/bin/omiserver is present; its version is known by running it".into())
                } else {
                    exit(127, "")
                }
            }
            "cloud-init" => self.cloud_init()?,
            "waagent-goal-state-agents" => {
                if self.tree.exists("/var/lib/waagent")? {
                    let mut out = String::new();
                    for d in self.tree.glob("/var/lib/waagent", "WALinuxAgent-", "")? {
                        if let Some((Kind::Dir, _)) = self.tree.stat(&d)? {
                            let _ = writeln!(out, "{}", d.rsplit('/').next().unwrap_or(&d));
                        }
                    }
                    ok(out)
                } else {
                    exit(127, "")
                }
            }
            "boot-config" => {
                let mut files = Vec::new();
                for f in ["/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"] {
                    if self.tree.is_file(f)? {
                        files.push(f.to_string());
                    }
                }
                for vendor in self.tree.list("/boot/efi/EFI")?.unwrap_or_default() {
                    let f = format!("/boot/efi/EFI/{vendor}/grub.cfg");
                    if self.tree.is_file(&f)? {
                        files.push(f);
                    }
                }
                for f in ["/boot/grub/grubenv", "/boot/grub2/grubenv"] {
                    if self.tree.is_file(f)? {
                        files.push(f.to_string());
                    }
                }
                files.extend(self.tree.glob("/boot/loader/entries", "", ".conf")?);
                let mut out = String::new();
                for f in &files {
                    let _ = writeln!(out, "== {f}");
                }
                for f in &files {
                    if let Some(t) = self.text(f)? {
                        for line in t.lines() {
                            if line.contains("libata.atapi_enabled") || line.contains("reserve=") {
                                let _ = writeln!(out, "{f}:{line}");
                            }
                        }
                    }
                }
                ok(out)
            }
            "boot-log" => {
                // The journal of a boot that is not running is not read; the text logs are.
                let (mut consoles, mut problems, mut out) = (0, 0, String::new());
                for f in [
                    "/var/log/dmesg",
                    "/var/log/syslog",
                    "/var/log/messages",
                    "/var/log/boot.log",
                ] {
                    let Some(t) = self.text(f)? else { continue };
                    for line in t.lines() {
                        if line.contains("console [") && line.contains("] enabled") {
                            consoles += 1;
                            if consoles <= 10 {
                                let _ = writeln!(out, "{f}: {line}");
                            }
                        } else {
                            let l = line.to_ascii_lowercase();
                            if (l.contains("fail") || l.contains("error") || l.contains("warn"))
                                && problems < 300
                            {
                                problems += 1;
                                let _ = writeln!(out, "{f}: {line}");
                            }
                        }
                    }
                }
                ok(out)
            }
            "package-sources" => {
                let mut files = Vec::new();
                if self.tree.is_file("/etc/apt/sources.list")? {
                    files.push("/etc/apt/sources.list".to_string());
                }
                files.extend(self.tree.glob("/etc/apt/sources.list.d", "", ".list")?);
                files.extend(self.tree.glob("/etc/apt/sources.list.d", "", ".sources")?);
                files.extend(self.tree.glob("/etc/yum.repos.d", "", ".repo")?);
                files.extend(self.tree.glob("/etc/zypp/repos.d", "", ".repo")?);
                let mut out = String::new();
                for f in &files {
                    if let Some(t) = self.text(f)? {
                        for line in t.lines() {
                            let _ = writeln!(out, "{f}:{}", mask_url_secrets(line));
                        }
                    }
                }
                ok(out)
            }
            "network-config" => {
                let mut out = String::new();
                for f in [
                    "/etc/sysconfig/network",
                    "/etc/sysconfig/network-scripts/ifcfg-eth0",
                    "/etc/systemd/networkd.conf",
                ] {
                    if let Some(t) = self.text(f)? {
                        let _ = writeln!(out, "== {f}");
                        out.push_str(&t);
                        if !t.is_empty() && !t.ends_with('\n') {
                            out.push('\n');
                        }
                    }
                }
                for f in self
                    .tree
                    .glob("/etc/NetworkManager/system-connections", "", "")?
                {
                    if let Some(t) = self.text(&f)? {
                        let _ = writeln!(out, "== {f}");
                        for line in t.lines() {
                            let l = line.trim_start();
                            if ["[", "id=", "type=", "interface-name=", "autoconnect="]
                                .iter()
                                .any(|k| l.starts_with(k))
                            {
                                let _ = writeln!(out, "{line}");
                            }
                        }
                    }
                }
                ok(out)
            }
            "kernel-config" => {
                let Some(k) = &self.kernel else {
                    return Ok(Answer::Offline("the kernel boot would run is not known".into()));
                };
                let mut answer = exit(127, "");
                for f in [format!("/boot/config-{k}"), format!("/lib/modules/{k}/config")] {
                    if let Some(t) = self.text(&f)? {
                        let mut out = format!("== {f}\n");
                        for line in t.lines() {
                            let body = line.strip_prefix("# ").unwrap_or(line);
                            if ["CONFIG_WATCHDOG", "CONFIG_CIFS"].iter().any(|s| {
                                body.strip_prefix(s)
                                    .is_some_and(|r| r.starts_with('=') || r.starts_with(' '))
                            }) {
                                let _ = writeln!(out, "{line}");
                            }
                        }
                        answer = ok(out);
                        break;
                    }
                }
                answer
            }
            "dhcp-config" => {
                let mut out = String::new();
                for f in [
                    "/etc/sysconfig/network/dhcp",
                    "/etc/dhcpcd.conf",
                    "/etc/dhcp/dhclient.conf",
                ] {
                    if let Some(t) = self.text(f)? {
                        let _ = writeln!(out, "== {f}");
                        out.push_str(&t);
                        if !t.is_empty() && !t.ends_with('\n') {
                            out.push('\n');
                        }
                    }
                }
                ok(out)
            }
            "cloud-init-status" => {
                if self.command("cloud-init")?.is_none() {
                    exit(127, "")
                } else {
                    let mut out = String::new();
                    let f = "/var/lib/cloud/data/result.json";
                    if let Some(t) = self.text(f)? {
                        let _ = writeln!(out, "== {f}\n{t}");
                    }
                    if let Some(t) = self.text("/var/log/cloud-init.log")? {
                        out.push_str("== /var/log/cloud-init.log\n");
                        let hits: Vec<&str> = t
                            .lines()
                            .filter(|l| l.contains("[ERROR]") || l.contains("[WARNING]"))
                            .collect();
                        for l in hits.iter().take(100) {
                            let _ = writeln!(out, "{l}");
                        }
                        if hits.len() > 100 {
                            let _ = writeln!(out, "... {} more", hits.len() - 100);
                        }
                    }
                    ok(out)
                }
            }
            "kvp-daemon" => Answer::Offline("which daemons run is known on a running system".into()),
            "resource-disk" => Answer::Offline("the Azure temp disk exists on a deployed VM only".into()),
            other => Answer::Offline(format!("vmcert cannot answer probe `{other}` from a disk image")),
        })
    }

    /// `(user, home, shell)` of every /etc/passwd line.
    fn accounts(&self) -> Result<Vec<(String, String, String)>, FsError> {
        let text = self.text("/etc/passwd")?.unwrap_or_default();
        Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (
                    f.first().copied().unwrap_or("").to_string(),
                    f.get(5).copied().unwrap_or("").to_string(),
                    f.get(6).copied().unwrap_or("").to_string(),
                )
            })
            .collect())
    }

    fn grep_files(&self, files: &[String], only: Option<&str>) -> Result<Answer, FsError> {
        let mut out = String::new();
        for f in files {
            if let Some(t) = self.text(f)? {
                grep_h(&mut out, f, &t, only);
            }
        }
        Ok(ok(out))
    }

    /// A version string in the first library named `name` in the usual library directories.
    fn library_version(&self, name: &str, needle: &[u8]) -> Result<Option<String>, FsError> {
        for d in [
            "/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu",
            "/lib/aarch64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64",
            "/lib64",
            "/usr/lib",
        ] {
            for f in self.tree.glob(d, name, "")? {
                if let Some(s) = self.scan(&f, needle)? {
                    let v: String = s
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
                        .collect();
                    if v.starts_with(|c: char| c.is_ascii_digit()) {
                        return Ok(Some(v));
                    }
                }
            }
        }
        Ok(None)
    }

    fn waagent_version(&self) -> Result<Answer, FsError> {
        if self.command("waagent")?.is_none() && !self.tree.exists("/usr/sbin/waagent")? {
            return Ok(exit(127, "waagent: not found\n"));
        }
        let mut version = None;
        for lib in ["/usr/lib", "/usr/local/lib", "/usr/lib64"] {
            for py in self.tree.glob(lib, "python", "")? {
                for site in ["dist-packages", "site-packages"] {
                    let f = format!("{py}/{site}/azurelinuxagent/common/version.py");
                    if let Some(t) = self.text(&f)? {
                        version = t.lines().find_map(|l| {
                            let v = l
                                .trim()
                                .strip_prefix("AGENT_VERSION")?
                                .trim()
                                .strip_prefix('=')?;
                            Some(v.trim().trim_matches(['\'', '"']).to_string())
                        });
                    }
                    if version.is_some() {
                        break;
                    }
                }
            }
        }
        let version = match version {
            Some(v) => v,
            None => match self.package(&["waagent", "walinuxagent", "WALinuxAgent"])? {
                Some(v) => upstream(&v).to_string(),
                None => {
                    return Ok(Answer::Offline(
                        "waagent is installed but neither its version.py nor the package database says its version".into(),
                    ));
                }
            },
        };
        let goal = self
            .tree
            .glob("/var/lib/waagent", "WALinuxAgent-", "")?
            .iter()
            .filter_map(|p| p.rsplit_once("WALinuxAgent-").map(|(_, v)| v.to_string()))
            .chain(std::iter::once(version.clone()))
            .max_by(|a, b| {
                vmcert_checks::version::Version::parse(a)
                    .cmp(&vmcert_checks::version::Version::parse(b))
            })
            .unwrap_or_else(|| version.clone());
        let os = self
            .text("/etc/os-release")?
            .or(self.text("/usr/lib/os-release")?)
            .unwrap_or_default();
        let field = |k: &str| {
            os.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
                .map(|v| v.trim_matches('"').to_string())
                .unwrap_or_default()
        };
        Ok(ok(format!(
            "WALinuxAgent-{version} running on {} {}\nGoal state agent: {goal}\n",
            field("ID"),
            field("VERSION_ID")
        )))
    }

    /// `systemctl is-enabled UNIT.service` from the unit files and the `*.wants` links.
    fn is_enabled(&self, name: &str) -> Result<String, FsError> {
        let unit = format!("{name}.service");
        if self
            .tree
            .link_target(&format!("/etc/systemd/system/{unit}"))?
            .as_deref()
            == Some("/dev/null")
        {
            return Ok("masked".to_string());
        }
        let mut file = None;
        for d in UNIT_DIRS {
            let p = format!("{d}/{unit}");
            if self.tree.is_file(&p)? {
                file = Some(p);
                break;
            }
        }
        let Some(file) = file else {
            let init = format!("/etc/init.d/{name}");
            if self.tree.is_file(&init)? {
                let mut on = false;
                for rc in ["/etc/rc2.d", "/etc/rc3.d", "/etc/rc4.d", "/etc/rc5.d"] {
                    on |= self
                        .tree
                        .list(rc)?
                        .unwrap_or_default()
                        .iter()
                        .any(|n| n.starts_with('S') && n.get(3..) == Some(name));
                }
                return Ok(format!(
                    "{unit} is not a native service, redirecting to systemd-sysv-install.\nExecuting: /lib/systemd/systemd-sysv-install is-enabled {name}\n{}",
                    if on { "enabled" } else { "disabled" }
                ));
            }
            return Ok(format!(
                "Failed to get unit file state for {unit}: No such file or directory"
            ));
        };
        for d in self.tree.list("/etc/systemd/system")?.unwrap_or_default() {
            if (d.ends_with(".wants") || d.ends_with(".requires"))
                && self
                    .tree
                    .resolve(&format!("/etc/systemd/system/{d}/{unit}"), false)?
                    .is_some()
            {
                return Ok("enabled".to_string());
            }
        }
        let text = self.text(&file)?.unwrap_or_default();
        let mut in_install = false;
        let mut installable = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_install = line == "[Install]";
            } else if in_install
                && ["WantedBy", "RequiredBy", "Alias", "Also", "UpheldBy"]
                    .iter()
                    .any(|k| {
                        line.strip_prefix(k)
                            .is_some_and(|r| r.trim_start().starts_with('='))
                    })
            {
                installable = true;
            }
        }
        Ok(if installable { "disabled" } else { "static" }.to_string())
    }

    fn lsblk(&self) -> String {
        let mut out = String::new();
        let whole = self.parts.iter().find(|p| p.number == 0);
        let line = |out: &mut String,
                    name: &str,
                    pk: &str,
                    kind: &str,
                    p: Option<&Part>,
                    mp: &str| {
            let v = |o: Option<&String>| lsblk_escape(o.map_or("", String::as_str));
            let _ = writeln!(
                out,
                "NAME=\"{name}\" KNAME=\"{name}\" PKNAME=\"{pk}\" TYPE=\"{kind}\" FSTYPE=\"{}\" PARTTYPE=\"{}\" UUID=\"{}\" PARTUUID=\"{}\" LABEL=\"{}\" PARTLABEL=\"\" MOUNTPOINTS=\"{}\"",
                p.map_or("", |p| p.fs.lsblk()),
                lsblk_escape(p.map_or("", |p| p.kind.as_str())),
                v(p.and_then(|p| p.uuid.as_ref())),
                v(p.and_then(|p| p.partuuid.as_ref())),
                v(p.and_then(|p| p.label.as_ref())),
                lsblk_escape(mp),
            );
        };
        let disk_mp = whole
            .and_then(|p| self.mounted.get(&p.number))
            .map_or("", String::as_str);
        line(&mut out, &self.disk, "", "disk", whole, disk_mp);
        for p in self.parts.iter().filter(|p| p.number > 0) {
            let mp = self.mounted.get(&p.number).map_or("", String::as_str);
            line(
                &mut out,
                &dev(&self.disk, p.number),
                &self.disk,
                "part",
                Some(p),
                mp,
            );
        }
        out
    }

    fn python_version(&self) -> Result<Answer, FsError> {
        for name in ["python3", "python"] {
            let Some(path) = self.command(name)? else {
                continue;
            };
            let real = self
                .tree
                .resolve(&path, true)?
                .map(|(r, _, _)| r)
                .unwrap_or(path);
            let base = real.rsplit('/').next().unwrap_or("");
            let Some(minor) = base.strip_prefix("python").filter(|v| v.contains('.')) else {
                return Ok(Answer::Offline(format!(
                    "{name} is {real}, whose name does not say its version"
                )));
            };
            let minor: String = minor
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let full = self
                .package(&[
                    &format!("python{minor}-minimal"),
                    &format!("python{minor}"),
                    &format!("libpython{minor}-minimal"),
                ])?
                .map(|v| upstream(&v).to_string())
                .filter(|v| v.starts_with(&minor))
                .unwrap_or(minor);
            return Ok(ok(format!("Python {full}\n")));
        }
        Ok(exit(127, ""))
    }

    /// `sshd -T` as far as the configuration files decide it: the first value of each keyword
    /// outside `Match` blocks, following `Include`, with sshd's default for ClientAliveInterval.
    fn sshd_effective(&self) -> Result<String, FsError> {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut files = 0usize;
        self.sshd_file("/etc/ssh/sshd_config", &mut seen, 0, &mut files)?;
        seen.entry("clientaliveinterval".into())
            .or_insert_with(|| "0".into());
        seen.entry("clientalivecountmax".into())
            .or_insert_with(|| "3".into());
        let mut out = String::new();
        for (k, v) in &seen {
            let _ = writeln!(out, "{k} {v}");
        }
        Ok(out)
    }

    fn sshd_file(
        &self,
        path: &str,
        seen: &mut BTreeMap<String, String>,
        depth: usize,
        files: &mut usize,
    ) -> Result<bool, FsError> {
        *files += 1;
        if depth > 16 || *files > 256 {
            return Ok(false);
        }
        let Some(text) = self.text(path)? else {
            return Ok(true);
        };
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line
                .split_once(|c: char| c.is_whitespace() || c == '=')
                .map_or((line, ""), |(k, v)| {
                    (k, v.trim().trim_start_matches('=').trim())
                });
            let k = k.to_ascii_lowercase();
            if k == "match" {
                return Ok(false);
            }
            if k == "include" {
                for pat in v.split_whitespace() {
                    let pat = if pat.starts_with('/') {
                        pat.to_string()
                    } else {
                        format!("/etc/ssh/{pat}")
                    };
                    let (dir, name) = pat.rsplit_once('/').unwrap_or(("/", &pat));
                    let matched = match name.split_once('*') {
                        Some((pre, suf)) if !suf.contains('*') => self.tree.glob(dir, pre, suf)?,
                        _ => vec![pat.clone()],
                    };
                    for f in matched {
                        if !self.sshd_file(&f, seen, depth + 1, files)? {
                            return Ok(false);
                        }
                    }
                }
                continue;
            }
            let v = if k == "clientaliveinterval" || k == "logingracetime" {
                convtime(v).map_or_else(|| v.to_string(), |s| s.to_string())
            } else {
                v.to_string()
            };
            seen.entry(k).or_insert(v);
        }
        Ok(true)
    }

    fn hyperv_modules(&self) -> Result<Answer, FsError> {
        let Some(k) = &self.kernel else {
            return Ok(Answer::Offline(
                "the kernel boot would run is not known".into(),
            ));
        };
        let dir = format!("/lib/modules/{k}");
        if !self.tree.exists(&dir)? {
            return Ok(Answer::Offline(format!("{dir} is not on the image")));
        }
        let builtin = self
            .text(&format!("{dir}/modules.builtin"))?
            .unwrap_or_default();
        let dep = self
            .tree
            .read(&format!("{dir}/modules.dep"), BIG_CAP)?
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let mut out = String::new();
        for m in ["hv_vmbus", "hv_storvsc", "hv_netvsc"] {
            let s = if builtin.contains(&format!("/{m}.ko")) {
                "builtin"
            } else if let Some(dep) = &dep {
                // modinfo finds the module through modules.dep, and fails when its file is gone.
                let file = dep
                    .lines()
                    .map(|l| l.split(':').next().unwrap_or(""))
                    .find(|f| {
                        f.rsplit('/').next().is_some_and(|b| {
                            b == format!("{m}.ko") || b.starts_with(&format!("{m}.ko."))
                        })
                    });
                match file {
                    Some(f) if self.tree.is_file(&format!("{dir}/{f}"))? => "available",
                    _ => "missing",
                }
            } else if !self
                .tree
                .glob(&format!("{dir}/kernel/drivers/hv"), &format!("{m}.ko"), "")?
                .is_empty()
                || !self
                    .tree
                    .glob(
                        &format!("{dir}/kernel/drivers/scsi"),
                        &format!("{m}.ko"),
                        "",
                    )?
                    .is_empty()
                || !self
                    .tree
                    .glob(
                        &format!("{dir}/kernel/drivers/net/hyperv"),
                        &format!("{m}.ko"),
                        "",
                    )?
                    .is_empty()
            {
                "available"
            } else {
                "missing"
            };
            let _ = writeln!(out, "{m} {s}");
        }
        Ok(ok(out))
    }

    fn cloud_init(&self) -> Result<Answer, FsError> {
        if self.command("cloud-init")?.is_none() {
            return Ok(exit(127, ""));
        }
        let mut v = None;
        for lib in self.tree.glob("/usr/lib", "python3", "")? {
            for site in self.tree.glob(&lib, "", "-packages")? {
                if let Some(t) = self.text(&format!("{site}/cloudinit/version.py"))? {
                    let grab = |key: &str| {
                        t.lines().find_map(|l| {
                            let r = l
                                .strip_prefix(key)?
                                .trim_start()
                                .strip_prefix('=')?
                                .trim_start();
                            let r = r.get(1..)?;
                            let ver: String = r
                                .chars()
                                .take_while(|c| {
                                    c.is_ascii_alphanumeric()
                                        || matches!(c, '.' | '+' | '~' | ':' | '-')
                                })
                                .collect();
                            ver.starts_with(|c: char| c.is_ascii_digit()).then_some(ver)
                        })
                    };
                    v = grab("_PACKAGED_VERSION").or_else(|| grab("__VERSION__"));
                }
                if v.is_some() {
                    break;
                }
            }
        }
        let v = match v {
            Some(v) => v,
            None => match self.package(&["cloud-init"])? {
                Some(p) => upstream(&p).to_string(),
                None => {
                    return Ok(Answer::Offline(
                        "cloud-init is installed but neither its version.py nor the package database says its version".into(),
                    ));
                }
            },
        };
        let mut out = format!("cloud-init {v}\n");
        let mut files = Vec::new();
        if self.tree.is_file("/etc/cloud/cloud.cfg")? {
            files.push("/etc/cloud/cloud.cfg".to_string());
        }
        for f in self.tree.glob("/etc/cloud/cloud.cfg.d", "", ".cfg")? {
            if self.tree.is_file(&f)? {
                files.push(f);
            }
        }
        for f in &files {
            if let Some(t) = self.text(f)? {
                grep_h(&mut out, f, &t, Some("ssh_deletekeys"));
            }
        }
        Ok(ok(out))
    }
}

/// The error when no Linux root was found: what is on the disk, and the way forward.
fn no_root(layout: &Layout, notes: &[String]) -> ImageError {
    let found: Vec<String> = layout
        .parts
        .iter()
        .map(|p| {
            let what = if p.fs.lsblk().is_empty() {
                "no known file system"
            } else {
                p.fs.lsblk()
            };
            if p.number == 0 {
                format!("the whole disk: {what}")
            } else {
                format!("partition {}: {what}", p.number)
            }
        })
        .collect();
    let other = layout.parts.iter().find(|p| {
        matches!(
            p.fs,
            FsKind::Xfs | FsKind::Btrfs | FsKind::Lvm | FsKind::Luks
        )
    });
    let mut msg = match other {
        Some(p) => format!(
            "the root file system looks like {} (partition {}), which vmcert does not read offline (ext2/3/4 only): certify a VM made from this image with a live run (vmcert run --target ssh://USER@HOST)",
            p.fs.lsblk(),
            p.number
        ),
        None => "no Linux root file system (ext2/3/4 with /etc) on the disk".to_string(),
    };
    let _ = write!(msg, " [{}]", found.join("; "));
    for n in notes {
        let _ = write!(msg, "; {n}");
    }
    ImageError::NoRoot(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_as_the_tools_print_them() {
        assert_eq!(upstream("2.36-9+deb12u9"), "2.36");
        assert_eq!(upstream("1:3.0.15-1~deb12u1"), "3.0.15");
        assert_eq!(upstream("2.7.3.0"), "2.7.3.0");
    }

    #[test]
    fn package_source_secrets_are_masked_as_the_live_probe_does() {
        assert_eq!(
            mask_url_secrets("baseurl=https://u:p@mirror.example/el9/?token=abc"),
            "baseurl=https://***@mirror.example/el9/?***"
        );
        assert_eq!(
            mask_url_secrets("deb http://deb.debian.org/debian bookworm main"),
            "deb http://deb.debian.org/debian bookworm main"
        );
    }

    #[test]
    fn elf_and_bzimage_headers() {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[5] = 1;
        h[18] = 0x3e;
        assert_eq!(elf_machine(&h), Some("x86_64"));
        h[18] = 0xb7;
        assert_eq!(elf_machine(&h), Some("aarch64"));
        assert_eq!(elf_machine(b"#!/bin/sh\n"), None);
        let mut k = vec![0u8; 0x400];
        k[0x202..0x206].copy_from_slice(b"HdrS");
        k[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes());
        let v = b"6.1.0-28-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP Debian 6.1.119-1\0";
        k[0x300..0x300 + v.len()].copy_from_slice(v);
        assert_eq!(
            bzimage_version(&k).as_deref(),
            Some("6.1.0-28-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP Debian 6.1.119-1")
        );
        k[0x202] = 0;
        assert_eq!(bzimage_version(&k), None);
    }

    #[test]
    fn fstab_sources_name_partitions() {
        let part = |n, uuid: &str, label: Option<&str>| Part {
            number: n,
            start: 2048,
            sectors: 100,
            kind: "0x83".into(),
            fs: FsKind::Swap,
            uuid: Some(uuid.into()),
            label: label.map(str::to_string),
            partuuid: Some(format!("1234abcd-{n:02x}")),
            broken: None,
        };
        let parts = [part(1, "aaaa-1", None), part(2, "bbbb-2", Some("swap"))];
        let n = |s: &str| find_part(&parts, s).map(|p| p.number);
        assert_eq!(n("UUID=AAAA-1"), Some(1));
        assert_eq!(n("LABEL=swap"), Some(2));
        assert_eq!(n("PARTUUID=1234abcd-02"), Some(2));
        assert_eq!(n("/dev/vda2"), Some(2));
        assert_eq!(n("/dev/nvme0n1p1"), Some(1));
        assert_eq!(n("/dev/sdb1"), None);
        assert_eq!(disk_name(&["/dev/vda1 / ext4 defaults 0 1"]), "vda");
        assert_eq!(disk_name(&["UUID=x / ext4"]), "sda");
        assert_eq!(lsblk_escape("a\"b c\n"), "a\\x22b c\\x0a");
    }
}

/// Property tests (proptest, on stable; `fuzz/run.sh` runs them longer) of the readers of files
/// from a Linux image, with the image as the adversary: any text or header bytes are read or
/// ignored without a panic; fstab lines, lsblk escaping and bzImage versions read back as
/// written; a package source's password or query never survives the masking.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    /// lsblk's `\xNN` escapes undone.
    fn unescape(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
                let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 4;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            crate::proptest_cases::cases(128)
        ))]

        #[test]
        fn any_file_text_is_read_without_panic(text in ".{0,300}", bytes in prop::collection::vec(any::<u8>(), 0..0x300)) {
            let _ = fstab_lines(&text);
            let d = disk_name(&[&text]);
            prop_assert!(["sda", "vda", "xvda", "hda", "nvme0n1", "mmcblk0"].contains(&d.as_str()));
            let _ = elf_machine(&bytes);
            if let Some(v) = bzimage_version(&bytes) {
                prop_assert!(!v.is_empty() && v.len() < 512);
            }
            let _ = mask_url_secrets(&text);
            let mut out = String::new();
            grep_h(&mut out, "f", &text, Some("x"));
        }

        #[test]
        fn fstab_lines_read_back(
            entries in prop::collection::vec(
                ("[^\\s#]\\S{0,20}", "\\S{1,20}", "\\S{1,10}", prop::option::of("\\S{1,20}")),
                0..6,
            ),
            sep in "[ \t]{1,3}",
        ) {
            let text: String = entries
                .iter()
                .map(|(s, m, t, o)| {
                    let mut l = [s.as_str(), m, t].join(&sep);
                    if let Some(o) = o {
                        l.push_str(&sep);
                        l.push_str(o);
                    }
                    format!("{l}\n# comment\n\n")
                })
                .collect();
            let got = fstab_lines(&text);
            let want: Vec<(String, String, String, String)> = entries
                .iter()
                .map(|(s, m, t, o)| {
                    (s.clone(), m.clone(), t.clone(), o.clone().unwrap_or_else(|| "defaults".into()))
                })
                .collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn lsblk_escaping_is_printable_and_reversible(s in ".{0,40}") {
            let e = lsblk_escape(&s);
            prop_assert!(e.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
            prop_assert!(!e.contains(['"', '`', '$']));
            prop_assert_eq!(unescape(&e), s.as_bytes().to_vec());
        }

        #[test]
        fn bzimage_versions_read_back(
            version in "[ -~]{1,60}",
            at in 0x210..0x260u16,
        ) {
            let mut h = vec![0u8; 0x400];
            h[0x202..0x206].copy_from_slice(b"HdrS");
            h[0x20e..0x210].copy_from_slice(&(at - 0x200).to_le_bytes());
            let at = usize::from(at);
            h[at..at + version.len()].copy_from_slice(version.as_bytes());
            let want = version.trim();
            let got = bzimage_version(&h);
            prop_assert_eq!(got.as_deref(), (!want.is_empty()).then_some(want));
        }

        #[test]
        fn package_source_secrets_are_masked(
            scheme in "(https?|ftp|tor\\+https)",
            user in "[A-Za-z0-9._-]{1,12}",
            pass in "[A-Za-z0-9!$%&*+,;=~._-]{1,16}",
            host in "[a-z0-9.-]{1,20}",
            path in "(/[A-Za-z0-9._-]{0,10}){0,3}",
            query in "[A-Za-z0-9=&%._-]{1,20}",
            before in "(deb |deb-src |baseurl=|URIs: )?",
        ) {
            let line = format!("{before}{scheme}://{user}:SeCrEt{pass}@{host}{path}?QuErY{query} main");
            let m = mask_url_secrets(&line);
            prop_assert!(!m.contains("SeCrEt") && !m.contains("QuErY"), "{}", m);
            prop_assert!(m.contains(&host), "{}", m);
        }
    }
}
