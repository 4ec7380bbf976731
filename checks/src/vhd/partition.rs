//! Where the first partition of a disk starts, from its MBR, or from its GPT when the MBR is
//! protective.
//!
//! The OS disk of a Marketplace image must leave its first MiB (2048 sectors of 512 bytes) free:
//! the first partition starts at sector 2048 or later (research/cert-cases.md §6, from the
//! certification FAQ). The MBR is sector 0; the GPT header is sector 1 and its entry array usually
//! sectors 2..34, so the first 34 sectors ([`HEAD_LEN`]) answer the question for nearly every disk
//! in one read; [`gpt_entries_range`] says where to read otherwise. Sectors are 512 bytes, the
//! only sector size of a VHD.

use serde::Serialize;

/// Bytes per sector.
pub const SECTOR: u64 = 512;
/// The first sector a partition may start at on an Azure OS disk (1 MiB).
pub const FIRST_FREE_SECTOR: u64 = 2048;
/// Bytes read from the start of the disk at once: MBR, GPT header and a 128-entry GPT array.
pub const HEAD_LEN: usize = 34 * 512;
/// Largest GPT entry array read (the usual one is 16 KiB; the spec minimum 16 KiB).
const MAX_GPT_ARRAY: u64 = 1 << 20;

/// MBR partition type of the protective entry of a GPT disk.
const MBR_TYPE_GPT_PROTECTIVE: u8 = 0xee;

/// What the partition table says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "scheme", rename_all = "lowercase")]
pub enum Table {
    /// No MBR boot signature: the disk has no partition table (blank, or a bare file system).
    None,
    /// A classic MBR.
    Mbr {
        /// Non-empty primary entries.
        partitions: Vec<Partition>,
    },
    /// A GPT behind a protective MBR.
    Gpt {
        /// Used entries.
        partitions: Vec<Partition>,
    },
}

impl Table {
    /// The lowest start sector of any partition; `None` when there are none.
    pub fn first_start(&self) -> Option<u64> {
        match self {
            Self::None => None,
            Self::Mbr { partitions } | Self::Gpt { partitions } => {
                partitions.iter().map(|p| p.start).min()
            }
        }
    }

    /// `mbr`, `gpt` or `none`.
    pub const fn scheme(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Mbr { .. } => "mbr",
            Self::Gpt { .. } => "gpt",
        }
    }
}

/// One partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partition {
    /// 1-based entry number in its table.
    pub number: u32,
    /// First sector.
    pub start: u64,
    /// Number of sectors.
    pub sectors: u64,
    /// MBR type byte (`0x83`) or GPT type GUID.
    pub kind: String,
}

/// A partition table that cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// The protective MBR points at a GPT that is not there.
    #[error("the MBR is protective (type 0xEE) but sector 1 holds no GPT header (\"EFI PART\")")]
    GptHeaderMissing,
    /// Header fields out of range.
    #[error("the GPT header is invalid: {0}")]
    GptHeaderInvalid(String),
    /// CRC32 of the header does not match.
    #[error(
        "the GPT header checksum does not match (stored {stored:#010x}, computed {computed:#010x})"
    )]
    GptHeaderCrc {
        /// Stored value.
        stored: u32,
        /// Computed value.
        computed: u32,
    },
    /// CRC32 of the entry array does not match.
    #[error(
        "the GPT partition entry array checksum does not match (stored {stored:#010x}, computed {computed:#010x})"
    )]
    GptEntriesCrc {
        /// Stored value.
        stored: u32,
        /// Computed value.
        computed: u32,
    },
    /// Too few bytes were given.
    #[error("{0}")]
    Short(String),
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// The GPT header fields needed to find and check the entry array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GptHeader {
    /// First sector of the entry array.
    pub entries_lba: u64,
    /// Number of entries.
    pub entries: u32,
    /// Bytes per entry.
    pub entry_size: u32,
    /// CRC32 of the entry array.
    pub entries_crc: u32,
}

impl GptHeader {
    /// Byte range of the entry array on the disk.
    pub fn entries_range(&self) -> std::ops::Range<u64> {
        // Saturating: an LBA from the image may be anything, and a wrapped product would point
        // the array back into the first sectors (issue 17 item 12); u64::MAX is past every disk.
        let start = self.entries_lba.saturating_mul(SECTOR);
        start..start.saturating_add(u64::from(self.entries) * u64::from(self.entry_size))
    }
}

/// Reads the MBR in `head` (at least sector 0). `Ok(None)` means "no partition table";
/// `Ok(Some(true))` a protective MBR whose GPT must be read; `Ok(Some(false))` a classic MBR.
fn mbr_entries(head: &[u8]) -> Result<Option<(bool, Vec<Partition>)>, TableError> {
    // A disk smaller than a sector has no partition table either.
    if head.len() < 512 || head[510] != 0x55 || head[511] != 0xaa {
        return Ok(None);
    }
    let mut protective = false;
    let mut parts = Vec::new();
    for i in 0..4u32 {
        let e = &head[446 + 16 * i as usize..446 + 16 * (i as usize + 1)];
        let kind = e[4];
        let start = u64::from(le_u32(e, 8));
        let sectors = u64::from(le_u32(e, 12));
        if kind == 0 || sectors == 0 {
            continue;
        }
        protective |= kind == MBR_TYPE_GPT_PROTECTIVE;
        parts.push(Partition {
            number: i + 1,
            start,
            sectors,
            kind: format!("0x{kind:02x}"),
        });
    }
    Ok(Some((protective, parts)))
}

/// Parses the GPT header in sector 1 of `head`.
pub fn gpt_header(head: &[u8]) -> Result<GptHeader, TableError> {
    if head.len() < 1024 {
        return Err(TableError::Short(format!(
            "only {} bytes at the start of the disk, the GPT header needs 1024",
            head.len()
        )));
    }
    let h = &head[512..1024];
    if &h[..8] != b"EFI PART" {
        return Err(TableError::GptHeaderMissing);
    }
    let header_size = le_u32(h, 12);
    if !(92..=512).contains(&header_size) {
        return Err(TableError::GptHeaderInvalid(format!(
            "header size {header_size} (expected 92..=512)"
        )));
    }
    let stored = le_u32(h, 16);
    let mut copy = h[..header_size as usize].to_vec();
    copy[16..20].fill(0);
    let computed = crc32fast::hash(&copy);
    if stored != computed {
        return Err(TableError::GptHeaderCrc { stored, computed });
    }
    let header = GptHeader {
        entries_lba: le_u64(h, 72),
        entries: le_u32(h, 80),
        entry_size: le_u32(h, 84),
        entries_crc: le_u32(h, 88),
    };
    if header.entry_size < 128 || !header.entry_size.is_multiple_of(8) {
        return Err(TableError::GptHeaderInvalid(format!(
            "entry size {} (expected a multiple of 8, >= 128)",
            header.entry_size
        )));
    }
    if header.entries_lba < 2 {
        return Err(TableError::GptHeaderInvalid(format!(
            "entry array at sector {}",
            header.entries_lba
        )));
    }
    let r = header.entries_range();
    if r.end - r.start > MAX_GPT_ARRAY {
        return Err(TableError::GptHeaderInvalid(format!(
            "entry array of {} bytes (at most {MAX_GPT_ARRAY} are read)",
            r.end - r.start
        )));
    }
    Ok(header)
}

/// Parses the GPT entry array `bytes` (exactly [`GptHeader::entries_range`]).
pub fn gpt_entries(header: &GptHeader, bytes: &[u8]) -> Result<Vec<Partition>, TableError> {
    let r = header.entries_range();
    if bytes.len() as u64 != r.end - r.start {
        return Err(TableError::Short(format!(
            "GPT entry array: got {} bytes, expected {}",
            bytes.len(),
            r.end - r.start
        )));
    }
    let computed = crc32fast::hash(bytes);
    if computed != header.entries_crc {
        return Err(TableError::GptEntriesCrc {
            stored: header.entries_crc,
            computed,
        });
    }
    let size = header.entry_size as usize;
    let mut parts = Vec::new();
    for (i, e) in bytes.chunks_exact(size).enumerate() {
        let type_guid = &e[..16];
        if type_guid.iter().all(|b| *b == 0) {
            continue;
        }
        let start = le_u64(e, 32);
        let end = le_u64(e, 40);
        if end < start {
            return Err(TableError::GptHeaderInvalid(format!(
                "partition {} ends at sector {end}, before it starts at sector {start}",
                i + 1
            )));
        }
        let mut guid = [0u8; 16];
        guid.copy_from_slice(type_guid);
        parts.push(Partition {
            number: u32::try_from(i + 1).unwrap_or(u32::MAX),
            start,
            sectors: (end - start).saturating_add(1),
            kind: uuid::Uuid::from_bytes_le(guid)
                .hyphenated()
                .to_string()
                .to_uppercase(),
        });
    }
    Ok(parts)
}

/// What reading `head` (the first bytes of the disk, ideally [`HEAD_LEN`]) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadScan {
    /// The table is complete.
    Done(Table),
    /// A GPT whose entry array lies beyond `head`: read [`GptHeader::entries_range`], then call
    /// [`gpt_entries`].
    NeedGptEntries(GptHeader),
}

/// Reads the partition table from the first bytes of the disk.
pub fn scan_head(head: &[u8]) -> Result<HeadScan, TableError> {
    let Some((protective, mbr)) = mbr_entries(head)? else {
        return Ok(HeadScan::Done(Table::None));
    };
    if !protective {
        return Ok(HeadScan::Done(Table::Mbr { partitions: mbr }));
    }
    let header = gpt_header(head)?;
    let r = header.entries_range();
    match head.get(r.start as usize..r.end as usize) {
        Some(bytes) if r.end <= head.len() as u64 => Ok(HeadScan::Done(Table::Gpt {
            partitions: gpt_entries(&header, bytes)?,
        })),
        _ => Ok(HeadScan::NeedGptEntries(header)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vhd::build::{gpt, mbr};

    fn done(head: &[u8]) -> Table {
        match scan_head(head) {
            Ok(HeadScan::Done(t)) => t,
            other => panic!("expected a complete table, got {other:?}"),
        }
    }

    #[test]
    fn blank_disk_has_no_table() {
        assert_eq!(done(&[0; HEAD_LEN]), Table::None);
        assert_eq!(done(&[0; HEAD_LEN]).first_start(), None);
    }

    #[test]
    fn mbr_first_start_is_the_lowest_used_entry() {
        let t = done(&mbr(&[
            (0x83, 4096, 100),
            (0x00, 63, 100),
            (0x82, 2048, 2048),
        ]));
        assert_eq!(t.scheme(), "mbr");
        assert_eq!(t.first_start(), Some(2048));
        let Table::Mbr { partitions } = &t else {
            panic!("{t:?}")
        };
        assert_eq!(partitions.len(), 2, "the type-0 entry is unused");
        assert_eq!(partitions[1].kind, "0x82");
    }

    #[test]
    fn old_dos_layout_starts_at_sector_63() {
        assert_eq!(done(&mbr(&[(0x83, 63, 1000)])).first_start(), Some(63));
    }

    #[test]
    fn mbr_signature_without_entries_is_an_empty_mbr() {
        assert_eq!(done(&mbr(&[])), Table::Mbr { partitions: vec![] });
        assert_eq!(done(&mbr(&[])).first_start(), None);
    }

    #[test]
    fn protective_mbr_reads_the_gpt() {
        let t = done(&gpt(2, &[(4096, 8191), (2048, 4095)]));
        assert_eq!(t.scheme(), "gpt");
        assert_eq!(t.first_start(), Some(2048));
        let Table::Gpt { partitions } = &t else {
            panic!("{t:?}")
        };
        assert_eq!(partitions[0].kind, "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
        assert_eq!(partitions[0].sectors, 4096);
    }

    #[test]
    fn gpt_starting_at_sector_34_is_seen() {
        assert_eq!(done(&gpt(2, &[(34, 2047)])).first_start(), Some(34));
    }

    #[test]
    fn gpt_array_elsewhere_asks_for_a_second_read() {
        let disk = gpt(40, &[(2048, 4095)]);
        let HeadScan::NeedGptEntries(h) = scan_head(&disk[..HEAD_LEN]).expect("header ok") else {
            panic!("expected a second read")
        };
        assert_eq!(h.entries_range(), 40 * 512..40 * 512 + 16384);
        let r = h.entries_range();
        let parts = gpt_entries(&h, &disk[r.start as usize..r.end as usize]).expect("entries");
        assert_eq!(parts[0].start, 2048);
    }

    #[test]
    fn corrupted_gpt_is_an_error_not_a_verdict() {
        let mut d = gpt(2, &[(2048, 4095)]);
        d[512 + 40] ^= 1;
        assert!(matches!(
            scan_head(&d),
            Err(TableError::GptHeaderCrc { .. })
        ));
        let mut d = gpt(2, &[(2048, 4095)]);
        d[1024 + 33] ^= 1;
        assert!(matches!(
            scan_head(&d),
            Err(TableError::GptEntriesCrc { .. })
        ));
        let mut d = gpt(2, &[(2048, 4095)]);
        d[512] = b'X';
        assert_eq!(scan_head(&d), Err(TableError::GptHeaderMissing));
    }

    #[test]
    fn a_disk_shorter_than_a_sector_has_no_table_but_a_cut_gpt_is_an_error() {
        assert_eq!(done(&[0; 100]), Table::None);
        let protective = mbr(&[(0xee, 1, 100)]);
        assert!(matches!(
            scan_head(&protective[..600]),
            Err(TableError::Short(_))
        ));
    }

    /// Issue 17 item 12: sizes and offsets from the image never wrap.
    #[test]
    fn hostile_gpt_numbers_do_not_wrap() {
        // An entry array LBA whose byte offset wraps to 0 points past every disk instead.
        let h = GptHeader {
            entries_lba: 1 << 55,
            entries: 128,
            entry_size: 128,
            entries_crc: 0,
        };
        assert_eq!(h.entries_range(), u64::MAX..u64::MAX);
        // A partition that ends before it starts, and one that spans every sector.
        let mut arr = vec![0u8; 2 * 128];
        arr[0] = 1;
        arr[32..40].copy_from_slice(&100u64.to_le_bytes());
        arr[40..48].copy_from_slice(&50u64.to_le_bytes());
        let h = GptHeader {
            entries_lba: 2,
            entries: 2,
            entry_size: 128,
            entries_crc: crc32fast::hash(&arr),
        };
        let e = gpt_entries(&h, &arr).unwrap_err().to_string();
        assert!(
            e.contains("partition 1 ends at sector 50, before it starts at sector 100"),
            "{e}"
        );
        arr[32..40].copy_from_slice(&0u64.to_le_bytes());
        arr[40..48].copy_from_slice(&u64::MAX.to_le_bytes());
        let h = GptHeader {
            entries_crc: crc32fast::hash(&arr),
            ..h
        };
        assert_eq!(gpt_entries(&h, &arr).unwrap()[0].sectors, u64::MAX);
    }
}
