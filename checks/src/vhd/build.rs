//! Byte builders for disks that tests (of this crate, of the agent, of the image reader) need:
//! a VHD footer as qemu-img writes it, an MBR and a GPT with given partitions. Kept here, next to
//! the parsers they feed, so every test builds the same bytes the same way.

use crate::vhd::footer::{FOOTER_LEN, checksum};
use crate::vhd::partition::{HEAD_LEN, SECTOR};

/// The footer of `qemu-img create -q -f vpc -o subformat=fixed,force_size=on f128.vhd 128G`
/// (qemu-img 10.0.2, Debian 12 backports), recorded with `tail -c 512 f128.vhd | xxd`: these
/// 96 bytes, then zeros.
pub const QEMU_FIXED_128G_HEAD: [u8; 96] = [
    0x63, 0x6f, 0x6e, 0x65, 0x63, 0x74, 0x69, 0x78, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x00,
    0x00, //
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x32, 0x94, 0xe6, 0xdd, 0x71, 0x65, 0x6d,
    0x32, //
    0x00, 0x05, 0x00, 0x03, 0x57, 0x69, 0x32, 0x6b, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00,
    0x00, //
    0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x10, 0xff, 0x00, 0x00, 0x00,
    0x02, //
    0xff, 0xff, 0xe2, 0xf1, 0x64, 0xf7, 0x73, 0xdb, 0x7e, 0xd5, 0x4a, 0xa9, 0x85, 0x17, 0x41,
    0x18, //
    0xe1, 0xe8, 0x8e, 0xc9, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, //
];

/// A whole 512-byte footer, from [`QEMU_FIXED_128G_HEAD`] followed by zeros.
pub fn qemu_fixed_128g() -> [u8; FOOTER_LEN] {
    let mut f = [0; FOOTER_LEN];
    f[..96].copy_from_slice(&QEMU_FIXED_128G_HEAD);
    f
}

/// A valid footer of the given type and size, with a correct checksum.
pub fn footer(disk_type: u32, size: u64) -> [u8; FOOTER_LEN] {
    let mut f = qemu_fixed_128g();
    f[40..48].copy_from_slice(&size.to_be_bytes());
    f[48..56].copy_from_slice(&size.to_be_bytes());
    f[60..64].copy_from_slice(&disk_type.to_be_bytes());
    if disk_type != 2 {
        f[16..24].copy_from_slice(&512u64.to_be_bytes());
    }
    let c = checksum(&f);
    f[64..68].copy_from_slice(&c.to_be_bytes());
    f
}

/// An MBR with the given `(type, start, sectors)` primary entries.
pub fn mbr(entries: &[(u8, u32, u32)]) -> Vec<u8> {
    let mut d = vec![0u8; HEAD_LEN];
    for (i, (kind, start, sectors)) in entries.iter().enumerate() {
        let e = &mut d[446 + 16 * i..446 + 16 * (i + 1)];
        e[4] = *kind;
        e[8..12].copy_from_slice(&start.to_le_bytes());
        e[12..16].copy_from_slice(&sectors.to_le_bytes());
    }
    d[510] = 0x55;
    d[511] = 0xaa;
    d
}

/// A protective MBR plus a GPT whose 128-entry array sits at `entries_lba`, holding
/// `(start, end)` partitions; returns the whole disk head up to the end of the array.
pub fn gpt(entries_lba: u64, parts: &[(u64, u64)]) -> Vec<u8> {
    let array_start = (entries_lba * SECTOR) as usize;
    let mut d = mbr(&[(0xee, 1, u32::MAX)]);
    d.resize(array_start + 128 * 128, 0);
    // Linux filesystem data type GUID 0FC63DAF-8483-4772-8E79-3D69D8477DE4, little-endian fields.
    let linux = [
        0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d,
        0xe4,
    ];
    for (i, (start, end)) in parts.iter().enumerate() {
        let e = &mut d[array_start + 128 * i..array_start + 128 * (i + 1)];
        e[..16].copy_from_slice(&linux);
        e[16] = 1;
        e[32..40].copy_from_slice(&start.to_le_bytes());
        e[40..48].copy_from_slice(&end.to_le_bytes());
    }
    let entries_crc = crc32fast::hash(&d[array_start..array_start + 128 * 128]);
    let h = &mut d[512..1024];
    h[..8].copy_from_slice(b"EFI PART");
    h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
    h[12..16].copy_from_slice(&92u32.to_le_bytes());
    h[24..32].copy_from_slice(&1u64.to_le_bytes());
    h[72..80].copy_from_slice(&entries_lba.to_le_bytes());
    h[80..84].copy_from_slice(&128u32.to_le_bytes());
    h[84..88].copy_from_slice(&128u32.to_le_bytes());
    h[88..92].copy_from_slice(&entries_crc.to_le_bytes());
    let crc = crc32fast::hash(&h[..92]);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
    d
}
