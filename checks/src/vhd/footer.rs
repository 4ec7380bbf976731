//! The 512-byte VHD footer: parsing, checksum, and telling the container formats apart.
//!
//! Azure only accepts fixed VHDs, and a fixed VHD is nothing but the raw disk followed by this
//! footer, so everything `vhd inspect` knows about a VHD comes from these 512 bytes (plus the
//! first bytes of the file for VHDX and the copy that dynamic VHDs keep at offset 0). Layout
//! (big-endian), as listed in Microsoft's certification FAQ (research/cert-cases.md §6) and
//! measured on qemu-img output (research/feasibility.md §5):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | cookie `conectix` |
//! | 8 | 4 | features |
//! | 12 | 4 | file format version (0x00010000) |
//! | 16 | 8 | data offset (all ones for fixed disks) |
//! | 24 | 4 | time stamp (seconds since 2000-01-01 00:00:00 UTC) |
//! | 28 | 4 | creator application (`qem2`, `win `, `vpc `...) |
//! | 32 | 4 | creator version (major << 16 \| minor) |
//! | 36 | 4 | creator host OS (`Wi2k`, `Mac `) |
//! | 40 | 8 | original size |
//! | 48 | 8 | current size (the virtual size) |
//! | 56 | 4 | geometry: cylinders (2), heads (1), sectors per track (1) |
//! | 60 | 4 | disk type (2 fixed, 3 dynamic, 4 differencing) |
//! | 64 | 4 | checksum: ones' complement of the byte sum, with this field counted as zero |
//! | 68 | 16 | unique id |
//! | 84 | 1 | saved state |

use serde::Serialize;

/// Size of the footer, and of a VHD sector.
pub const FOOTER_LEN: usize = 512;
/// The footer's cookie.
pub const COOKIE: &[u8; 8] = b"conectix";
/// The signature at offset 0 of a VHDX file.
pub const VHDX_SIGNATURE: &[u8; 8] = b"vhdxfile";

/// Unix time of the VHD epoch, 2000-01-01 00:00:00 UTC.
const VHD_EPOCH_UNIX: i64 = 946_684_800;

/// The disk type field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskType {
    /// 2: the whole disk is stored, followed by the footer. The only type Azure accepts.
    Fixed,
    /// 3: sparse, block allocation table.
    Dynamic,
    /// 4: a delta on top of a parent VHD.
    Differencing,
    /// Any other value (0 none, 1 and 5 deprecated, or garbage).
    Other(u32),
}

impl DiskType {
    fn from_raw(v: u32) -> Self {
        match v {
            2 => Self::Fixed,
            3 => Self::Dynamic,
            4 => Self::Differencing,
            other => Self::Other(other),
        }
    }

    /// The raw field value.
    pub const fn raw(self) -> u32 {
        match self {
            Self::Fixed => 2,
            Self::Dynamic => 3,
            Self::Differencing => 4,
            Self::Other(v) => v,
        }
    }

    /// A word for humans.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::Dynamic => "dynamic",
            Self::Differencing => "differencing",
            Self::Other(_) => "unknown",
        }
    }
}

/// CHS geometry of the footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Geometry {
    /// Cylinders.
    pub cylinders: u16,
    /// Heads.
    pub heads: u8,
    /// Sectors per track.
    pub sectors_per_track: u8,
}

/// A parsed footer. Only built when the cookie is `conectix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footer {
    /// Features bit field (bit 1, "reserved", is always set).
    pub features: u32,
    /// File format version, 0x00010000 for 1.0.
    pub version: u32,
    /// Offset of the dynamic disk header; all ones for fixed disks.
    pub data_offset: u64,
    /// Seconds since 2000-01-01 00:00:00 UTC.
    pub timestamp: u32,
    /// Creator application, four characters.
    pub creator_app: [u8; 4],
    /// Creator version (major << 16 | minor).
    pub creator_version: u32,
    /// Creator host OS, four characters.
    pub creator_host_os: [u8; 4],
    /// Size of the disk when it was created.
    pub original_size: u64,
    /// Size of the disk now: the virtual size.
    pub current_size: u64,
    /// CHS geometry.
    pub geometry: Geometry,
    /// Disk type.
    pub disk_type: DiskType,
    /// The checksum stored in the footer.
    pub checksum: u32,
    /// The checksum computed over the footer bytes.
    pub computed_checksum: u32,
    /// Unique id.
    pub uuid: [u8; 16],
    /// Saved-state flag.
    pub saved_state: u8,
}

fn be_u16(b: &[u8], at: usize) -> u16 {
    let mut a = [0; 2];
    a.copy_from_slice(&b[at..at + 2]);
    u16::from_be_bytes(a)
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(a)
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

fn four(b: &[u8], at: usize) -> [u8; 4] {
    let mut a = [0; 4];
    a.copy_from_slice(&b[at..at + 4]);
    a
}

/// The footer checksum of `bytes` (512 bytes): ones' complement of the sum of all bytes, with the
/// checksum field (bytes 64..68) counted as zero.
pub fn checksum(bytes: &[u8; FOOTER_LEN]) -> u32 {
    let sum = bytes
        .iter()
        .enumerate()
        .filter(|(i, _)| !(64..68).contains(i))
        .fold(0u32, |acc, (_, b)| acc.wrapping_add(u32::from(*b)));
    !sum
}

/// Whether `bytes` starts with the footer cookie.
pub fn has_cookie(bytes: &[u8]) -> bool {
    bytes.starts_with(COOKIE)
}

impl Footer {
    /// Parses a footer; `None` when the cookie is not `conectix`.
    pub fn parse(bytes: &[u8; FOOTER_LEN]) -> Option<Self> {
        if !has_cookie(bytes) {
            return None;
        }
        let mut uuid = [0; 16];
        uuid.copy_from_slice(&bytes[68..84]);
        Some(Self {
            features: be_u32(bytes, 8),
            version: be_u32(bytes, 12),
            data_offset: be_u64(bytes, 16),
            timestamp: be_u32(bytes, 24),
            creator_app: four(bytes, 28),
            creator_version: be_u32(bytes, 32),
            creator_host_os: four(bytes, 36),
            original_size: be_u64(bytes, 40),
            current_size: be_u64(bytes, 48),
            geometry: Geometry {
                cylinders: be_u16(bytes, 56),
                heads: bytes[58],
                sectors_per_track: bytes[59],
            },
            disk_type: DiskType::from_raw(be_u32(bytes, 60)),
            checksum: be_u32(bytes, 64),
            computed_checksum: checksum(bytes),
            uuid,
            saved_state: bytes[84],
        })
    }

    /// Whether the stored checksum matches the bytes.
    pub const fn checksum_ok(&self) -> bool {
        self.checksum == self.computed_checksum
    }

    /// The creator application as text (`qem2`, `win `...), trailing spaces trimmed.
    pub fn creator_app(&self) -> String {
        fourcc(&self.creator_app)
    }

    /// The creator host OS as text (`Wi2k`, `Mac `...).
    pub fn creator_host_os(&self) -> String {
        fourcc(&self.creator_host_os)
    }

    /// The creator in one line: `qem2 5.3 (Wi2k)`.
    pub fn creator(&self) -> String {
        format!(
            "{} {}.{} ({})",
            self.creator_app(),
            self.creator_version >> 16,
            self.creator_version & 0xffff,
            self.creator_host_os()
        )
    }

    /// The time stamp as RFC 3339 UTC.
    pub fn timestamp_rfc3339(&self) -> Option<String> {
        chrono::DateTime::from_timestamp(VHD_EPOCH_UNIX + i64::from(self.timestamp), 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }

    /// The unique id in the usual 8-4-4-4-12 form.
    pub fn uuid_string(&self) -> String {
        uuid::Uuid::from_bytes(self.uuid).hyphenated().to_string()
    }
}

/// Four bytes as printable text; anything unprintable as `\xNN`.
fn fourcc(b: &[u8; 4]) -> String {
    let mut s = String::new();
    for &c in b {
        if c.is_ascii_graphic() || c == b' ' {
            s.push(char::from(c));
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    s.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vhd::build::{footer, qemu_fixed_128g};

    #[test]
    fn parses_a_qemu_img_fixed_footer() {
        let f = Footer::parse(&qemu_fixed_128g()).expect("cookie");
        assert_eq!(f.features, 2);
        assert_eq!(f.version, 0x0001_0000);
        assert_eq!(f.data_offset, u64::MAX);
        assert_eq!(f.current_size, 128 << 30);
        assert_eq!(f.original_size, 128 << 30);
        assert_eq!(f.disk_type, DiskType::Fixed);
        assert_eq!(f.creator_app(), "qem2");
        assert_eq!(f.creator_host_os(), "Wi2k");
        assert_eq!(f.creator(), "qem2 5.3 (Wi2k)");
        assert_eq!(
            f.geometry,
            Geometry {
                cylinders: 0xffff,
                heads: 16,
                sectors_per_track: 255
            }
        );
        assert_eq!(f.checksum, 0xffff_e2f1);
        assert!(f.checksum_ok(), "computed {:#x}", f.computed_checksum);
        assert_eq!(f.uuid_string(), "64f773db-7ed5-4aa9-8517-4118e1e88ec9");
        assert_eq!(
            f.timestamp_rfc3339().as_deref(),
            Some("2026-11-21T23:33:49Z")
        );
    }

    #[test]
    fn checksum_ignores_its_own_field_and_catches_a_flipped_byte() {
        let mut f = qemu_fixed_128g();
        f[64..68].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(checksum(&f), 0xffff_e2f1);
        let mut bad = qemu_fixed_128g();
        bad[50] ^= 0x01;
        let parsed = Footer::parse(&bad).expect("cookie still there");
        assert!(!parsed.checksum_ok());
    }

    #[test]
    fn no_cookie_no_footer() {
        assert_eq!(Footer::parse(&[0; FOOTER_LEN]), None);
        let mut f = qemu_fixed_128g();
        f[0] = b'C';
        assert_eq!(Footer::parse(&f), None);
    }

    #[test]
    fn disk_types() {
        for (raw, t) in [
            (2, DiskType::Fixed),
            (3, DiskType::Dynamic),
            (4, DiskType::Differencing),
            (5, DiskType::Other(5)),
        ] {
            let f = Footer::parse(&footer(raw, 1 << 30)).expect("cookie");
            assert_eq!(f.disk_type, t);
            assert_eq!(f.disk_type.raw(), raw);
            assert!(f.checksum_ok());
        }
    }

    #[test]
    fn unprintable_creator_bytes_are_escaped() {
        assert_eq!(fourcc(b"vpc "), "vpc");
        assert_eq!(fourcc(&[0x41, 0x00, 0x42, 0xff]), "A\\x00B\\xff");
    }
}
