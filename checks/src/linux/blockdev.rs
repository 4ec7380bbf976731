//! The block-device tree of a Linux target, read from the `lsblk` probe (`lsblk -P`), and the one
//! question the disk checks share: which disk holds `/`.
//!
//! `lsblk -P` prints one `KEY="value"` line per device and repeats a device once under every
//! parent (an LVM volume spanning two disks, a multipath map), so devices are merged by `KNAME`
//! and keep all their parents. The OS disk is found as Microsoft's image tests (LISA
//! `verify_no_swap_on_osdisk`) find it: the device mounted at `/`, climbed through its parents
//! (`PKNAME`) to the device that has none. Without udev (containers, chroots) lsblk leaves
//! `FSTYPE`, `PARTTYPE` and the ids empty; the checks treat empty values as unknown, never as
//! proof of anything.

use std::collections::{BTreeMap, BTreeSet};

use crate::Unevaluable;

/// One block device as lsblk describes it (values empty when lsblk did not know them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Device {
    /// Display name (`sda1`, `vg-root`).
    pub(crate) name: String,
    /// Kernel name (`sda1`, `dm-0`), the key parents refer to.
    pub(crate) kname: String,
    /// Kernel names of the parents; empty for a disk.
    pub(crate) parents: Vec<String>,
    /// `TYPE`: disk, part, lvm, crypt, raid1, loop, rom, ...
    pub(crate) kind: String,
    /// File system or content signature (`ext4`, `swap`, `LVM2_member`).
    pub(crate) fstype: String,
    /// Partition type GUID or MBR type (`0x83`).
    pub(crate) parttype: String,
    pub(crate) uuid: String,
    pub(crate) partuuid: String,
    pub(crate) label: String,
    pub(crate) partlabel: String,
    /// Where the device is mounted (`[SWAP]` for an active swap area).
    pub(crate) mountpoints: Vec<String>,
}

impl Device {
    /// `name (mountpoints)` for messages.
    pub(crate) fn describe(&self) -> String {
        if self.mountpoints.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.mountpoints.join(", "))
        }
    }

    pub(crate) fn is_mounted_at(&self, path: &str) -> bool {
        self.mountpoints.iter().any(|m| m == path)
    }
}

/// Where `/` lives.
#[derive(Debug)]
pub(crate) enum OsDisk<'a> {
    /// No device is mounted at `/` (container, chroot, network root).
    Unknown,
    /// `/` is a file system on a whole disk: there is no partition table.
    WholeDisk(&'a Device),
    /// `/` sits on a partition or volume; `disks` are its top-level devices (several for a
    /// volume spanning disks).
    Found {
        root: &'a Device,
        disks: Vec<&'a Device>,
    },
}

/// All devices of one `lsblk -P` listing, merged by kernel name.
#[derive(Debug, Default)]
pub(crate) struct BlockDevices {
    devices: Vec<Device>,
}

impl BlockDevices {
    /// Parses `lsblk -P` output. Keys may come in any order and any subset (old lsblk has no
    /// `MOUNTPOINTS`, lsblk before 2.37 no `PARTTYPE` on some distributions).
    pub(crate) fn parse(text: &str) -> Result<Self, Unevaluable> {
        let mut devices: Vec<Device> = Vec::new();
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let pairs = parse_pairs(line).ok_or_else(|| {
                Unevaluable::new(format!(
                    "lsblk line {} is not KEY=\"value\" pairs: {line}",
                    n + 1
                ))
            })?;
            let get = |k: &str| pairs.get(k).cloned().unwrap_or_default();
            let kname = if pairs.contains_key("KNAME") {
                get("KNAME")
            } else {
                get("NAME")
            };
            if kname.is_empty() {
                return Err(Unevaluable::new(format!(
                    "lsblk line {} names no device: {line}",
                    n + 1
                )));
            }
            let mounts: Vec<String> = match pairs.get("MOUNTPOINTS") {
                Some(v) => v
                    .split('\n')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
                None => Some(get("MOUNTPOINT"))
                    .filter(|m| !m.is_empty())
                    .into_iter()
                    .collect(),
            };
            let parent = get("PKNAME");
            if let Some(&i) = index.get(&kname) {
                let dev = &mut devices[i];
                if !parent.is_empty() && !dev.parents.contains(&parent) {
                    dev.parents.push(parent);
                }
                for m in mounts {
                    if !dev.mountpoints.contains(&m) {
                        dev.mountpoints.push(m);
                    }
                }
                continue;
            }
            index.insert(kname.clone(), devices.len());
            devices.push(Device {
                name: Some(get("NAME"))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| kname.clone()),
                kname,
                parents: Some(parent).filter(|p| !p.is_empty()).into_iter().collect(),
                kind: get("TYPE"),
                fstype: get("FSTYPE"),
                parttype: get("PARTTYPE").to_ascii_lowercase(),
                uuid: get("UUID"),
                partuuid: get("PARTUUID"),
                label: get("LABEL"),
                partlabel: get("PARTLABEL"),
                mountpoints: mounts,
            });
        }
        Ok(Self { devices })
    }

    pub(crate) fn get(&self, kname: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.kname == kname)
    }

    /// The devices that have no parent above `kname` (itself when it has none). Unknown
    /// parents end the climb; a cycle cannot loop forever.
    pub(crate) fn top_ancestors(&self, kname: &str) -> BTreeSet<String> {
        let mut tops = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut todo = vec![kname.to_string()];
        while let Some(k) = todo.pop() {
            if !seen.insert(k.clone()) {
                continue;
            }
            match self.get(&k) {
                Some(d) if !d.parents.is_empty() => todo.extend(d.parents.iter().cloned()),
                _ => {
                    tops.insert(k);
                }
            }
        }
        tops
    }

    /// The device mounted at `/`, and the disk(s) under it.
    pub(crate) fn os_disk(&self) -> OsDisk<'_> {
        let Some(root) = self.devices.iter().find(|d| d.is_mounted_at("/")) else {
            return OsDisk::Unknown;
        };
        if root.parents.is_empty() {
            return OsDisk::WholeDisk(root);
        }
        let disks = self
            .top_ancestors(&root.kname)
            .iter()
            .filter_map(|k| self.get(k))
            .collect();
        OsDisk::Found { root, disks }
    }

    /// Devices below any of `disks` (partitions, volumes, ...), in lsblk order.
    pub(crate) fn below<'a>(&'a self, disks: &[&Device]) -> Vec<&'a Device> {
        let wanted: BTreeSet<&str> = disks.iter().map(|d| d.kname.as_str()).collect();
        self.devices
            .iter()
            .filter(|d| !d.parents.is_empty())
            .filter(|d| {
                self.top_ancestors(&d.kname)
                    .iter()
                    .any(|t| wanted.contains(t.as_str()))
            })
            .collect()
    }

    /// True when some device lists `kname` as a parent.
    pub(crate) fn has_children(&self, kname: &str) -> bool {
        self.devices
            .iter()
            .any(|d| d.parents.iter().any(|p| p == kname))
    }

    /// The device a `/dev/...` path names (`/dev/sda2`, `/dev/mapper/vg-swap`, `/dev/dm-1`,
    /// `/dev/disk/by-uuid/...`).
    pub(crate) fn by_dev_path(&self, path: &str) -> Option<&Device> {
        let rest = path.strip_prefix("/dev/")?;
        if let Some(id) = rest.strip_prefix("disk/by-uuid/") {
            return self.devices.iter().find(|d| d.uuid == id);
        }
        if let Some(id) = rest.strip_prefix("disk/by-label/") {
            return self.devices.iter().find(|d| d.label == id);
        }
        if let Some(id) = rest.strip_prefix("disk/by-partuuid/") {
            return self
                .devices
                .iter()
                .find(|d| d.partuuid.eq_ignore_ascii_case(id));
        }
        if let Some(id) = rest.strip_prefix("disk/by-partlabel/") {
            return self.devices.iter().find(|d| d.partlabel == id);
        }
        let rest = rest.strip_prefix("mapper/").unwrap_or(rest);
        self.devices
            .iter()
            .find(|d| d.kname == rest || d.name == rest)
    }

    /// The device an `/etc/fstab` source field names (`UUID=...`, `LABEL=...`, `PARTUUID=...`,
    /// `PARTLABEL=...` or a `/dev` path); `None` when no listed device matches.
    pub(crate) fn by_fstab_source(&self, source: &str) -> Option<&Device> {
        let unquote = |v: &str| v.trim_matches('"').to_string();
        if let Some(v) = source.strip_prefix("UUID=") {
            let v = unquote(v);
            return self
                .devices
                .iter()
                .find(|d| d.uuid.eq_ignore_ascii_case(&v));
        }
        if let Some(v) = source.strip_prefix("LABEL=") {
            let v = unquote(v);
            return self.devices.iter().find(|d| d.label == v);
        }
        if let Some(v) = source.strip_prefix("PARTUUID=") {
            let v = unquote(v);
            return self
                .devices
                .iter()
                .find(|d| d.partuuid.eq_ignore_ascii_case(&v));
        }
        if let Some(v) = source.strip_prefix("PARTLABEL=") {
            let v = unquote(v);
            return self.devices.iter().find(|d| d.partlabel == v);
        }
        self.by_dev_path(source)
    }

    /// The device holding the file system `path` lives on: the longest mount point that
    /// contains it.
    pub(crate) fn holding(&self, path: &str) -> Option<&Device> {
        let mut best: Option<(&Device, usize)> = None;
        for d in &self.devices {
            for m in &d.mountpoints {
                if !m.starts_with('/') {
                    continue;
                }
                let inside = m == "/"
                    || path == m
                    || path
                        .strip_prefix(m.as_str())
                        .is_some_and(|r| r.starts_with('/'));
                if inside && best.is_none_or(|(_, len)| m.len() > len) {
                    best = Some((d, m.len()));
                }
            }
        }
        best.map(|(d, _)| d)
    }
}

/// Splits one `lsblk -P` line into its pairs, decoding lsblk's `\xHH` escapes (lsblk escapes
/// `"`, `\`, `` ` ``, `$` and unprintable bytes; MOUNTPOINTS separates paths with `\x0a`).
fn parse_pairs(line: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let eq = rest.find("=\"")?;
        let key = &rest[..eq];
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-'))
        {
            return None;
        }
        let value_start = eq + 2;
        let close = rest[value_start..].find('"')? + value_start;
        out.insert(key.to_string(), unescape(&rest[value_start..close]));
        rest = rest[close + 1..].trim_start();
    }
    Some(out)
}

fn unescape(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && bytes.get(i + 1) == Some(&b'x')
            && let Some(b) = raw
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes the octal escapes (`\040` for a space) that `/proc/swaps`, `/proc/mounts` and
/// `/etc/fstab` use in paths.
pub(crate) fn unescape_octal(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(b) = raw
                .get(i + 1..i + 4)
                .and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            out.push(b);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shape of util-linux 2.38 `lsblk -P` (recorded on the lab host, see the fixtures).
    const LOOP: &str = r#"NAME="loop1" KNAME="loop1" PKNAME="" TYPE="loop" FSTYPE="" PARTTYPE="" UUID="" PARTUUID="" LABEL="" PARTLABEL="" MOUNTPOINTS=""
NAME="loop1p1" KNAME="loop1p1" PKNAME="loop1" TYPE="part" FSTYPE="" PARTTYPE="" UUID="" PARTUUID="" LABEL="" PARTLABEL="" MOUNTPOINTS="/"
NAME="loop1p2" KNAME="loop1p2" PKNAME="loop1" TYPE="part" FSTYPE="" PARTTYPE="" UUID="" PARTUUID="" LABEL="" PARTLABEL="" MOUNTPOINTS="[SWAP]"
NAME="vda" KNAME="vda" PKNAME="" TYPE="disk" FSTYPE="" PARTTYPE="" UUID="" PARTUUID="" LABEL="" PARTLABEL="" MOUNTPOINTS=""
"#;

    #[test]
    fn escapes_are_decoded_and_spaces_kept() {
        let p = parse_pairs(
            r#"NAME="sdb1" LABEL="my data" PARTLABEL="a\x22b\x5cc" MOUNTPOINTS="/\x0a/home""#,
        )
        .unwrap();
        assert_eq!(p["LABEL"], "my data");
        assert_eq!(p["PARTLABEL"], "a\"b\\c");
        assert_eq!(p["MOUNTPOINTS"], "/\n/home");
        // lsblk before smartcols escaped spaces too.
        assert_eq!(
            parse_pairs(r#"MOUNTPOINT="/mnt/my\x20disk""#).unwrap()["MOUNTPOINT"],
            "/mnt/my disk"
        );
        // Old lsblk prints MAJ:MIN as a key.
        assert_eq!(
            parse_pairs(r#"NAME="sda" MAJ:MIN="8:0""#).unwrap()["MAJ:MIN"],
            "8:0"
        );
        assert_eq!(parse_pairs(r#"NAME="sda" broken"#), None);
        assert_eq!(parse_pairs(r#"NAME="unterminated"#), None);
    }

    #[test]
    fn several_mountpoints_of_one_device() {
        let b = BlockDevices::parse(
            r#"NAME="sda" KNAME="sda" PKNAME="" TYPE="disk" MOUNTPOINTS=""
NAME="sda2" KNAME="sda2" PKNAME="sda" TYPE="part" FSTYPE="btrfs" MOUNTPOINTS="/home\x0a/\x0a/var""#,
        )
        .unwrap();
        let OsDisk::Found { root, disks } = b.os_disk() else {
            panic!("no OS disk")
        };
        assert_eq!(root.kname, "sda2");
        assert_eq!(root.mountpoints, ["/home", "/", "/var"]);
        assert_eq!(disks[0].kname, "sda");
    }

    #[test]
    fn os_disk_of_a_partition_and_of_a_whole_disk() {
        let b = BlockDevices::parse(LOOP).unwrap();
        let OsDisk::Found { root, disks } = b.os_disk() else {
            panic!("no OS disk")
        };
        assert_eq!(
            (root.kname.as_str(), disks.len(), disks[0].kname.as_str()),
            ("loop1p1", 1, "loop1")
        );
        assert_eq!(b.below(&disks).len(), 2);
        let whole =
            BlockDevices::parse(r#"NAME="vda" KNAME="vda" PKNAME="" TYPE="disk" MOUNTPOINTS="/""#)
                .unwrap();
        assert!(matches!(whole.os_disk(), OsDisk::WholeDisk(d) if d.kname == "vda"));
        let none =
            BlockDevices::parse(r#"NAME="vda" KNAME="vda" PKNAME="" TYPE="disk" MOUNTPOINTS="""#)
                .unwrap();
        assert!(matches!(none.os_disk(), OsDisk::Unknown));
    }

    #[test]
    fn repeated_devices_keep_every_parent() {
        // A volume group spanning two disks: lsblk prints the volume under each.
        let b = BlockDevices::parse(
            r#"KNAME="sda" PKNAME="" NAME="sda" TYPE="disk" MOUNTPOINT=""
KNAME="sda1" PKNAME="sda" NAME="sda1" TYPE="part" FSTYPE="LVM2_member" MOUNTPOINT=""
KNAME="dm-0" PKNAME="sda1" NAME="vg-root" TYPE="lvm" FSTYPE="xfs" MOUNTPOINT="/"
KNAME="sdb" PKNAME="" NAME="sdb" TYPE="disk" MOUNTPOINT=""
KNAME="dm-0" PKNAME="sdb" NAME="vg-root" TYPE="lvm" FSTYPE="xfs" MOUNTPOINT="/""#,
        )
        .unwrap();
        assert_eq!(b.get("dm-0").unwrap().parents, ["sda1", "sdb"]);
        let OsDisk::Found { disks, .. } = b.os_disk() else {
            panic!("no OS disk")
        };
        let names: Vec<&str> = disks.iter().map(|d| d.kname.as_str()).collect();
        assert_eq!(names, ["sda", "sdb"]);
    }

    #[test]
    fn fstab_sources_and_paths() {
        let b = BlockDevices::parse(
            r#"NAME="sda" KNAME="sda" PKNAME="" TYPE="disk" UUID="" LABEL="" MOUNTPOINTS=""
NAME="sda1" KNAME="sda1" PKNAME="sda" TYPE="part" FSTYPE="ext4" UUID="7e45aa01-1c2d-4c4e-9a55-0d7f2b7c1a10" PARTUUID="0fc424c7-01" LABEL="root fs" MOUNTPOINTS="/"
NAME="sda2" KNAME="sda2" PKNAME="sda" TYPE="part" FSTYPE="swap" UUID="E536F2B1-0000-4000-8000-000000000002" PARTUUID="0fc424c7-02" LABEL="" MOUNTPOINTS=""
NAME="sdb1" KNAME="sdb1" PKNAME="sdb" TYPE="part" FSTYPE="ext4" UUID="" LABEL="" MOUNTPOINTS="/mnt/resource""#,
        )
        .unwrap();
        let k = |d: Option<&Device>| d.map(|d| d.kname.clone());
        assert_eq!(
            k(b.by_fstab_source("UUID=e536f2b1-0000-4000-8000-000000000002")),
            Some("sda2".into())
        );
        assert_eq!(
            k(b.by_fstab_source("PARTUUID=0fc424c7-02")),
            Some("sda2".into())
        );
        assert_eq!(
            k(b.by_fstab_source("LABEL=\"root fs\"")),
            Some("sda1".into())
        );
        assert_eq!(k(b.by_fstab_source("/dev/sda2")), Some("sda2".into()));
        assert_eq!(
            k(b.by_fstab_source("/dev/disk/by-partuuid/0fc424c7-01")),
            Some("sda1".into())
        );
        assert_eq!(k(b.by_fstab_source("UUID=00000000-dead")), None);
        assert_eq!(k(b.holding("/mnt/resource/swapfile")), Some("sdb1".into()));
        assert_eq!(k(b.holding("/mnt/resourcex/swapfile")), Some("sda1".into()));
        assert_eq!(k(b.holding("/swapfile")), Some("sda1".into()));
    }

    #[test]
    fn octal_escapes() {
        assert_eq!(unescape_octal(r"/mnt/my\040swap"), "/mnt/my swap");
        assert_eq!(unescape_octal(r"/plain"), "/plain");
    }
}
