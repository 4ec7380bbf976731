//! What is on the disk before any file is read: the container (fixed VHD or raw disk; dynamic
//! VHDs and VHDX are refused with the reason), the partition table (read by
//! [`crate::vhd::partition`], the same code `vhd inspect` uses) and, per partition, the file
//! system its signature says (ext2/3/4, swap, XFS, btrfs, LVM, LUKS, NTFS, FAT), with its UUID
//! and label for resolving fstab.

use std::cell::RefCell;
use std::rc::Rc;

use super::ImageError;
use super::disk::{CachePolicy, Disk, Window};
use crate::vhd::footer::{DiskType, FOOTER_LEN, Footer, VHDX_SIGNATURE};
use crate::vhd::partition::{self, HEAD_LEN, HeadScan, SECTOR, Table};
use crate::vhd::source::Source;

/// A file system found by its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FsKind {
    /// ext2, ext3 or ext4 (the name lsblk would print).
    Ext(&'static str),
    /// A swap area (`mkswap`).
    Swap,
    /// XFS.
    Xfs,
    /// btrfs.
    Btrfs,
    /// An LVM physical volume.
    Lvm,
    /// A LUKS container.
    Luks,
    /// NTFS.
    Ntfs,
    /// FAT (an EFI system partition, usually).
    Vfat,
    /// Nothing recognised.
    Unknown,
}

impl FsKind {
    /// The `FSTYPE` lsblk prints (empty when unknown).
    pub(crate) const fn lsblk(self) -> &'static str {
        match self {
            Self::Ext(n) => n,
            Self::Swap => "swap",
            Self::Xfs => "xfs",
            Self::Btrfs => "btrfs",
            Self::Lvm => "LVM2_member",
            Self::Luks => "crypto_LUKS",
            Self::Ntfs => "ntfs",
            Self::Vfat => "vfat",
            Self::Unknown => "",
        }
    }
}

/// One partition (or the whole disk, number 0, when there is no partition table).
#[derive(Debug, Clone)]
pub(crate) struct Part {
    /// Entry number in the table (0: the whole disk).
    pub number: u32,
    /// First sector.
    pub start: u64,
    /// Sectors.
    pub sectors: u64,
    /// `0x83` or a lower-case GPT type GUID (lsblk's PARTTYPE).
    pub kind: String,
    /// The file system its signature says.
    pub fs: FsKind,
    /// File system UUID.
    pub uuid: Option<String>,
    /// File system label.
    pub label: Option<String>,
    /// `PARTUUID` of an MBR partition (`<disk signature>-<nn>`).
    pub partuuid: Option<String>,
    /// Why the partition cannot be read (it leaves the disk), if so.
    pub broken: Option<String>,
}

/// The disk as found.
pub(crate) struct Layout {
    /// The disk, shared by every file system reader.
    pub disk: Rc<RefCell<Disk>>,
    /// `mbr`, `gpt` or `none`.
    pub scheme: &'static str,
    /// Partitions in table order (one entry, number 0, for a bare file system).
    pub parts: Vec<Part>,
    /// Notes for the run log (a missing footer, partitions left unread).
    pub notes: Vec<String>,
}

impl Layout {
    /// Bytes of partition `p`.
    pub(crate) fn window(&self, p: &Part) -> Window {
        Window::new(
            Rc::clone(&self.disk),
            p.start.saturating_mul(SECTOR),
            p.sectors.saturating_mul(SECTOR),
            if p.number == 0 {
                "disk".to_string()
            } else {
                format!("partition {}", p.number)
            },
        )
    }
}

/// Opens `src` as a disk: fixed VHD or raw image.
///
/// # Errors
/// Not a disk image, a dynamic/differencing VHD or VHDX, an unreadable or untrustworthy
/// partition table, an I/O error.
pub(crate) fn open(mut src: Box<dyn Source>, policy: CachePolicy) -> Result<Layout, ImageError> {
    let name = src.display_name();
    let len = src.len();
    if len < 2 * SECTOR {
        return Err(ImageError::NotADisk(format!(
            "{name} is {len} bytes long: too small to be a disk image"
        )));
    }
    let tail = src
        .read_at(len - FOOTER_LEN as u64, FOOTER_LEN)
        .map_err(ImageError::Io)?;
    let footer = <&[u8; FOOTER_LEN]>::try_from(tail.as_slice())
        .ok()
        .and_then(Footer::parse);
    let mut notes = Vec::new();
    let end = match &footer {
        Some(f) => match f.disk_type {
            DiskType::Fixed => len - FOOTER_LEN as u64,
            other => {
                return Err(ImageError::Unsupported(format!(
                    "{name} is a {} VHD: Azure takes fixed VHDs only, and vmcert reads fixed ones \
                     (convert it: qemu-img convert -O vpc -o subformat=fixed,force_size IN OUT.vhd)",
                    other.name()
                )));
            }
        },
        None => {
            let head = src.read_at(0, 8).map_err(ImageError::Io)?;
            if head == VHDX_SIGNATURE {
                return Err(ImageError::Unsupported(format!(
                    "{name} is a VHDX: Azure takes fixed VHDs only (convert it: qemu-img convert \
                     -O vpc -o subformat=fixed,force_size IN OUT.vhd)"
                )));
            }
            notes.push(format!(
                "{name} has no VHD footer: read as a raw disk (a truncated VHD reads as one too)"
            ));
            len
        }
    };
    let disk = Rc::new(RefCell::new(Disk::new(src, end, policy)));
    let head_len = usize::try_from(end.min(HEAD_LEN as u64)).unwrap_or(HEAD_LEN);
    let mut head = vec![0u8; head_len];
    disk.borrow_mut()
        .read(0, &mut head)
        .map_err(|e| ImageError::Io(e.into()))?;
    let table = match partition::scan_head(&head) {
        Ok(HeadScan::Done(t)) => t,
        Ok(HeadScan::NeedGptEntries(h)) => {
            let r = h.entries_range();
            if r.end > end {
                return Err(ImageError::NotADisk(format!(
                    "{name}: the GPT entry array (bytes {}..{}) lies beyond the end of the disk ({end})",
                    r.start, r.end
                )));
            }
            let mut bytes = vec![0u8; usize::try_from(r.end - r.start).unwrap_or(0)];
            disk.borrow_mut()
                .read(r.start, &mut bytes)
                .map_err(|e| ImageError::Io(e.into()))?;
            Table::Gpt {
                partitions: partition::gpt_entries(&h, &bytes)
                    .map_err(|e| ImageError::NotADisk(format!("{name}: {e}")))?,
            }
        }
        Err(e) => return Err(ImageError::NotADisk(format!("{name}: {e}"))),
    };
    let signature = (head.len() >= 444)
        .then(|| u32::from_le_bytes([head[440], head[441], head[442], head[443]]));
    let sectors = end / SECTOR;
    let gpt_ids = match &table {
        Table::Gpt { .. } => gpt_unique_ids(&disk, &head)?,
        _ => Vec::new(),
    };
    let (scheme, raw): (&'static str, Vec<partition::Partition>) = match table {
        Table::None => (
            "none",
            vec![partition::Partition {
                number: 0,
                start: 0,
                sectors,
                kind: String::new(),
            }],
        ),
        Table::Mbr { partitions } => ("mbr", partitions),
        Table::Gpt { partitions } => ("gpt", partitions),
    };
    let mut layout = Layout {
        disk,
        scheme,
        parts: Vec::new(),
        notes,
    };
    for p in raw {
        let broken = match p.start.checked_add(p.sectors) {
            Some(e) if e <= sectors && p.sectors > 0 => None,
            _ => Some(format!(
                "partition {} (sectors {}..+{}) lies beyond the end of the disk ({sectors} sectors)",
                p.number, p.start, p.sectors
            )),
        };
        let mut part = Part {
            number: p.number,
            start: p.start,
            sectors: p.sectors,
            kind: p.kind.to_lowercase(),
            fs: FsKind::Unknown,
            uuid: None,
            label: None,
            partuuid: match (scheme, signature) {
                ("mbr", Some(s)) => Some(format!("{s:08x}-{:02x}", p.number)),
                ("gpt", _) => gpt_ids
                    .get(p.number.saturating_sub(1) as usize)
                    .cloned()
                    .flatten(),
                _ => None,
            },
            broken,
        };
        if let Some(b) = &part.broken {
            layout.notes.push(b.clone());
        } else {
            identify(&layout.window(&part), &mut part)?;
        }
        layout.parts.push(part);
    }
    if scheme == "none" && layout.parts.iter().all(|p| p.fs == FsKind::Unknown) {
        return Err(ImageError::NotADisk(format!(
            "{name} is not a disk image: no VHD footer with a known disk type, no MBR or GPT, \
             and no file system at its start"
        )));
    }
    Ok(layout)
}

/// The unique partition GUID of every GPT entry, by entry index (lsblk's PARTUUID).
fn gpt_unique_ids(
    disk: &Rc<RefCell<Disk>>,
    head: &[u8],
) -> Result<Vec<Option<String>>, ImageError> {
    let Ok(h) = partition::gpt_header(head) else {
        return Ok(Vec::new());
    };
    let r = h.entries_range();
    let mut bytes = vec![0u8; usize::try_from(r.end - r.start).unwrap_or(0)];
    disk.borrow_mut()
        .read(r.start, &mut bytes)
        .map_err(|e| ImageError::Io(e.into()))?;
    let size = (h.entry_size as usize).max(128);
    Ok(bytes
        .chunks_exact(size)
        .map(|e| {
            let mut g = [0u8; 16];
            g.copy_from_slice(&e[16..32]);
            (g != [0; 16]).then(|| uuid::Uuid::from_bytes_le(g).hyphenated().to_string())
        })
        .collect())
}

fn uuid_at(b: &[u8], at: usize) -> Option<String> {
    let u = b.get(at..at + 16)?;
    if u.iter().all(|x| *x == 0) {
        return None;
    }
    let mut a = [0u8; 16];
    a.copy_from_slice(u);
    Some(uuid::Uuid::from_bytes(a).hyphenated().to_string())
}

fn label_at(b: &[u8], at: usize, len: usize) -> Option<String> {
    let raw = b.get(at..at + len)?;
    let end = raw.iter().position(|c| *c == 0).unwrap_or(raw.len());
    let s = String::from_utf8_lossy(&raw[..end]).trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// Reads the signatures at the start of a partition.
fn identify(w: &Window, part: &mut Part) -> Result<(), ImageError> {
    let b = w.read_vec(0, 4096).map_err(|e| ImageError::Io(e.into()))?;
    let at = |o: usize, sig: &[u8]| b.get(o..o + sig.len()) == Some(sig);
    if at(1080, &[0x53, 0xef]) {
        let compat = b
            .get(1116..1120)
            .map_or(0, |x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]));
        let incompat = b
            .get(1120..1124)
            .map_or(0, |x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]));
        // INCOMPAT_EXTENTS / 64BIT / FLEX_BG make it ext4; a journal alone ext3.
        part.fs = FsKind::Ext(if incompat & (0x40 | 0x80 | 0x200) != 0 {
            "ext4"
        } else if compat & 0x4 != 0 {
            "ext3"
        } else {
            "ext2"
        });
        part.uuid = uuid_at(&b, 1024 + 104);
        part.label = label_at(&b, 1024 + 120, 16);
    } else if at(4086, b"SWAPSPACE2") || at(4086, b"SWAP-SPACE") {
        part.fs = FsKind::Swap;
        part.uuid = uuid_at(&b, 1024 + 12);
        part.label = label_at(&b, 1024 + 28, 16);
    } else if at(0, b"XFSB") {
        part.fs = FsKind::Xfs;
        part.uuid = uuid_at(&b, 32);
        part.label = label_at(&b, 108, 12);
    } else if at(0, b"LUKS\xba\xbe") {
        part.fs = FsKind::Luks;
    } else if at(512, b"LABELONE") || at(24, b"LVM2 001") || at(512 + 24, b"LVM2 001") {
        part.fs = FsKind::Lvm;
    } else if at(3, b"NTFS    ") {
        part.fs = FsKind::Ntfs;
        part.uuid = b.get(72..80).map(|s| {
            s.iter()
                .rev()
                .map(|x| format!("{x:02X}"))
                .collect::<String>()
        });
    } else if at(54, b"FAT1") || at(82, b"FAT32") {
        part.fs = FsKind::Vfat;
        let serial = if at(82, b"FAT32") { 67 } else { 39 };
        part.uuid = b
            .get(serial..serial + 4)
            .map(|s| format!("{:02X}{:02X}-{:02X}{:02X}", s[3], s[2], s[1], s[0]));
    } else if w.len() > 0x10048 {
        let m = w
            .read_vec(0x10040, 8)
            .map_err(|e| ImageError::Io(e.into()))?;
        if m == b"_BHRfS_M" {
            part.fs = FsKind::Btrfs;
        }
    }
    Ok(())
}

/// Property tests (proptest, on stable; `fuzz/run.sh` runs them longer) of `vhd inspect` and of
/// the image target's disk layout on one disk, with the image as the adversary: an MBR or GPT
/// disk, with or without a fixed VHD footer, any bytes changed, cut or added, is inspected with
/// every rule and opened or refused, never a panic and never a read past its end.
#[cfg(test)]
mod props {
    use proptest::prelude::*;
    use vmcert_checks::vhd::build::{footer, gpt, mbr};

    use super::*;
    use crate::vhd::inspect;
    use crate::vhd::rules::{Intent, RULES, Role};
    use crate::vhd::source::Mem;
    use vmcert_checks::{Os, Profile};

    fn disk() -> impl Strategy<Value = Vec<u8>> {
        let n = || prop_oneof![0..8192u64, Just(u64::MAX), any::<u64>()];
        let table = prop_oneof![
            prop::collection::vec((any::<u8>(), any::<u32>(), any::<u32>()), 0..4)
                .prop_map(|e| mbr(&e)),
            (2..40u64, prop::collection::vec((n(), n()), 0..4)).prop_map(|(lba, p)| gpt(lba, &p)),
            Just(Vec::new()),
        ];
        (
            table,
            prop_oneof![Just(64u64 << 10), 0..(96u64 << 10)],
            any::<bool>(),
            prop::collection::vec((any::<prop::sample::Index>(), 1..=255u8), 0..8),
            prop::option::of(any::<prop::sample::Index>()),
        )
            .prop_map(|(head, size, vhd, flips, cut)| {
                let mut d = head;
                let size = usize::try_from(size).unwrap_or(0).max(d.len());
                d.resize(size, 0);
                if vhd {
                    d.extend_from_slice(&footer(2, size as u64));
                }
                for (i, b) in &flips {
                    if !d.is_empty() {
                        let i = i.index(d.len());
                        d[i] ^= b;
                    }
                }
                if let Some(c) = cut {
                    d.truncate(c.index(d.len() + 1));
                }
                d
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            crate::proptest_cases::cases(48)
        ))]

        #[test]
        fn any_disk_is_inspected_and_opened_or_refused(d in disk()) {
            let intent = Intent { role: Some(Role::Os), os: Some(Os::Linux), profile: Profile::Current };
            let mut src = Mem::new(d.clone());
            match inspect(&mut src, intent) {
                Ok(i) => prop_assert_eq!(i.rules.len(), RULES.len()),
                Err(e) => prop_assert!(!e.to_string().contains("read past the end"), "{:#}", e),
            }
            if let Err(e) = open(Box::new(Mem::new(d)), CachePolicy::LOCAL) {
                prop_assert!(!e.to_string().contains("read past the end"), "{}", e);
            }
        }
    }
}
