//! Property tests (proptest, on stable) of the VHD footer, MBR and GPT parsers and of the rules,
//! with the image as the adversary (issue 17): any bytes are parsed or refused without a panic,
//! the disks [`super::build`] makes read back as built, and numbers from the image (LBAs, sizes,
//! counts up to 2^64) give a rule violation or a clear error, never a wrapped value that passes.
//! `cargo test` runs a few hundred cases each; `fuzz/run.sh` runs them longer.

use proptest::prelude::*;

use super::build::{footer, gpt, mbr};
use super::footer::{FOOTER_LEN, Footer};
use super::partition::{
    FIRST_FREE_SECTOR, GptHeader, HEAD_LEN, HeadScan, Partition, SECTOR, Table, gpt_entries,
    gpt_header, scan_head,
};
use super::rules::{Facts, Format, Intent, Origin, RULES, Role, evaluate};
use crate::{Os, Profile, Status};

fn cases() -> u32 {
    crate::proptest_cases::cases(48)
}

/// A number as an image could hold it: small, near a boundary, or anything.
fn number() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..4096u64,
        Just(FIRST_FREE_SECTOR - 1),
        Just(FIRST_FREE_SECTOR),
        Just(u64::MAX),
        Just(u64::MAX - 511),
        Just(u64::MAX / SECTOR + 1),
        Just(1 << 55),
        any::<u64>(),
    ]
}

/// Bytes flipped at chosen places.
fn mutate(mut bytes: Vec<u8>, flips: &[(prop::sample::Index, u8)]) -> Vec<u8> {
    for (i, b) in flips {
        let i = i.index(bytes.len());
        bytes[i] ^= b;
    }
    bytes
}

/// Reads a whole disk head the way `vhd inspect` does: the head, then the entry array if the
/// head asks for it (and the disk has it).
fn read_table(disk: &[u8]) -> Result<Table, String> {
    match scan_head(&disk[..disk.len().min(HEAD_LEN)]).map_err(|e| e.to_string())? {
        HeadScan::Done(t) => Ok(t),
        HeadScan::NeedGptEntries(h) => {
            let r = h.entries_range();
            let bytes = usize::try_from(r.start)
                .ok()
                .zip(usize::try_from(r.end).ok())
                .and_then(|(s, e)| disk.get(s..e))
                .ok_or("entry array past the end")?;
            gpt_entries(&h, bytes)
                .map(|partitions| Table::Gpt { partitions })
                .map_err(|e| e.to_string())
        }
    }
}

fn facts() -> impl Strategy<Value = Facts> {
    let table = prop_oneof![
        Just(None),
        Just(Some(Err("bad table".to_string()))),
        Just(Some(Ok(Table::None))),
        prop::collection::vec((number(), number()), 0..4).prop_map(|ps| {
            Some(Ok(Table::Gpt {
                partitions: ps
                    .into_iter()
                    .enumerate()
                    .map(|(i, (start, sectors))| Partition {
                        number: u32::try_from(i + 1).unwrap_or(u32::MAX),
                        start,
                        sectors,
                        kind: "x".into(),
                    })
                    .collect(),
            }))
        }),
    ];
    let format = prop::sample::select(vec![
        Format::VhdFixed,
        Format::VhdDynamic,
        Format::VhdDifferencing,
        Format::Vhdx,
        Format::Raw,
        Format::Unknown,
    ]);
    let origin = prop_oneof![
        Just(Origin::Local),
        Just(Origin::Blob(None)),
        Just(Origin::Blob(Some("PageBlob".into()))),
        ".{0,12}".prop_map(|t| Origin::Blob(Some(t))),
    ];
    (
        format,
        prop::option::of((0..6u32, number())),
        number(),
        prop::option::of(number()),
        table,
        origin,
    )
        .prop_map(
            |(format, footer_of, file_size, virtual_size, table, origin)| Facts {
                format,
                footer: footer_of.and_then(|(t, size)| Footer::parse(&footer(t, size))),
                file_size,
                virtual_size,
                table,
                origin,
            },
        )
}

fn intent() -> impl Strategy<Value = Intent> {
    (
        prop::sample::select(vec![None, Some(Role::Os), Some(Role::Data)]),
        prop::sample::select(vec![None, Some(Os::Linux), Some(Os::Windows)]),
        prop::sample::select(vec![Profile::Current, Profile::Toolkit]),
    )
        .prop_map(|(role, os, profile)| Intent { role, os, profile })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Any 512 bytes: a footer exactly when the cookie is there, and every accessor answers.
    #[test]
    fn any_footer_bytes_parse_or_are_refused(
        tail in prop::collection::vec(any::<u8>(), FOOTER_LEN),
        cookie in any::<bool>(),
    ) {
        let mut b = [0u8; FOOTER_LEN];
        b.copy_from_slice(&tail);
        if cookie {
            b[..8].copy_from_slice(b"conectix");
        }
        match Footer::parse(&b) {
            Some(f) => {
                prop_assert!(cookie || b.starts_with(b"conectix"));
                let _ = (f.creator(), f.timestamp_rfc3339(), f.uuid_string(), f.disk_type.name());
                prop_assert!(!f.creator_app().contains('\x1b'), "{:?}", f.creator_app());
            }
            None => prop_assert!(!b.starts_with(b"conectix")),
        }
    }

    /// A built footer reads back with its type and size and a right checksum; any one byte
    /// changed outside the checksum field breaks the checksum.
    #[test]
    fn built_footers_round_trip(
        disk_type in 0..8u32,
        size in number(),
        at in 0..FOOTER_LEN,
        flip in 1..=255u8,
    ) {
        let b = footer(disk_type, size);
        let f = Footer::parse(&b).unwrap();
        prop_assert_eq!(f.disk_type.raw(), disk_type);
        prop_assert_eq!(f.current_size, size);
        prop_assert!(f.checksum_ok());
        let mut c = b;
        c[at] ^= flip;
        if !(64..68).contains(&at) && at >= 8 {
            prop_assert!(!Footer::parse(&c).unwrap().checksum_ok());
        }
    }

    /// Any disk head, of any length: a table or an error, never a panic.
    #[test]
    fn any_head_bytes_scan_or_are_refused(
        head in prop::collection::vec(any::<u8>(), 0..HEAD_LEN + 64),
        signature in any::<bool>(),
        protective in any::<bool>(),
        efi in any::<bool>(),
    ) {
        let mut head = head;
        if signature && head.len() >= 512 {
            head[510] = 0x55;
            head[511] = 0xaa;
            if protective {
                head[446 + 4] = 0xee;
            }
            if efi && head.len() >= 520 {
                head[512..520].copy_from_slice(b"EFI PART");
            }
        }
        if let Ok(HeadScan::NeedGptEntries(h)) = scan_head(&head) {
            let r = h.entries_range();
            prop_assert!(r.start <= r.end);
            prop_assert!(r.end - r.start <= 1 << 20, "{:?}", r);
        }
    }

    /// An MBR built with up to four entries reads back as its non-empty entries.
    #[test]
    fn built_mbrs_round_trip(
        entries in prop::collection::vec((any::<u8>(), any::<u32>(), any::<u32>()), 0..=4),
    ) {
        let entries: Vec<(u8, u32, u32)> =
            entries.into_iter().map(|(k, s, n)| (if k == 0xee { 0x83 } else { k }, s, n)).collect();
        let t = read_table(&mbr(&entries)).unwrap();
        let Table::Mbr { partitions } = &t else {
            return Err(TestCaseError::fail(format!("{t:?}")));
        };
        let want: Vec<(u64, u64)> = entries
            .iter()
            .filter(|(k, _, n)| *k != 0 && *n != 0)
            .map(|(_, s, n)| (u64::from(*s), u64::from(*n)))
            .collect();
        let got: Vec<(u64, u64)> = partitions.iter().map(|p| (p.start, p.sectors)).collect();
        prop_assert_eq!(got, want);
    }

    /// A GPT built with its array anywhere from sector 2 to 40 and any partitions that end at
    /// or after their start reads back as built, the first start included.
    #[test]
    fn built_gpts_round_trip(
        lba in 2..40u64,
        parts in prop::collection::vec((number(), 0..1u64 << 40), 0..8),
    ) {
        let parts: Vec<(u64, u64)> =
            parts.into_iter().map(|(s, len)| (s, s.saturating_add(len))).collect();
        let t = read_table(&gpt(lba, &parts)).unwrap();
        let Table::Gpt { partitions } = &t else {
            return Err(TestCaseError::fail(format!("{t:?}")));
        };
        let got: Vec<(u64, u64)> = partitions.iter().map(|p| (p.start, p.sectors)).collect();
        let want: Vec<(u64, u64)> =
            parts.iter().map(|(s, e)| (*s, (e - s).saturating_add(1))).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(t.first_start(), parts.iter().map(|p| p.0).min());
    }

    /// A built GPT with bytes changed anywhere: a table or an error, never a panic.
    #[test]
    fn mutated_gpts_read_or_are_refused(
        lba in 2..40u64,
        parts in prop::collection::vec((number(), number()), 0..4),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1..=255u8), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let disk = mutate(gpt(lba, &parts), &flips);
        let _ = read_table(&disk[..cut.index(disk.len() + 1)]);
    }

    /// Any entry-array LBA, count and entry size in a header whose checksum is right: the
    /// header is refused, or its array is at most 1 MiB at sector 2 or later and its range does
    /// not wrap.
    #[test]
    fn hostile_gpt_header_numbers_never_wrap(
        lba in number(),
        entries in any::<u32>(),
        entry_size in prop_oneof![Just(128u32), any::<u32>()],
    ) {
        let mut d = gpt(2, &[(2048, 4095)]);
        let h = &mut d[512..1024];
        h[72..80].copy_from_slice(&lba.to_le_bytes());
        h[80..84].copy_from_slice(&entries.to_le_bytes());
        h[84..88].copy_from_slice(&entry_size.to_le_bytes());
        h[16..20].fill(0);
        let crc = crc32fast::hash(&h[..92]);
        h[16..20].copy_from_slice(&crc.to_le_bytes());
        if let Ok(g) = gpt_header(&d) {
            let r = g.entries_range();
            prop_assert!(g.entries_lba >= 2);
            prop_assert!(r.start <= r.end && r.end - r.start <= 1 << 20, "{:?}", r);
            prop_assert!(r.start >= 2 * SECTOR, "{:?}", r);
        }
        let _ = read_table(&d);
    }

    /// Any GPT header values given directly: the range never wraps below its start.
    #[test]
    fn entries_range_never_wraps(
        entries_lba in number(),
        entries in any::<u32>(),
        entry_size in any::<u32>(),
    ) {
        let r = GptHeader { entries_lba, entries, entry_size, entries_crc: 0 }.entries_range();
        prop_assert!(r.start <= r.end);
        prop_assert!(r.start >= entries_lba.min(u64::MAX / SECTOR));
    }

    /// Any facts, sizes up to 2^64 included: every rule, in order, with a message; the OS
    /// disk's first MiB never passes with a partition that starts at or past the end of the
    /// disk; a size rule never passes a size outside its bounds.
    #[test]
    fn any_facts_give_every_rule(f in facts(), i in intent()) {
        let r = evaluate(&f, &i);
        prop_assert_eq!(r.iter().map(|r| r.id).collect::<Vec<_>>(), RULES.map(|m| m.id).to_vec());
        for x in &r {
            prop_assert!(!x.message.trim().is_empty(), "{}", x.id);
        }
        let status = |id: &str| r.iter().find(|x| x.id == id).map(|x| x.status);
        if let (Some(v), Some(Ok(t))) = (f.virtual_size, &f.table)
            && let Some(start) = t.first_start()
            && start >= v / SECTOR
        {
            prop_assert_ne!(status("vhd-first-mib-free"), Some(Status::Pass), "{:?}", r);
        }
        if let Some(v) = f.virtual_size {
            if v < super::rules::MIN_SIZE {
                prop_assert_ne!(status("vhd-min-size"), Some(Status::Pass));
            }
            if v > super::rules::MAX_DATA_SIZE {
                prop_assert_ne!(status("vhd-data-size"), Some(Status::Pass));
                prop_assert_ne!(status("vhd-os-size"), Some(Status::Pass));
            }
        }
        if let Some(ft) = &f.footer
            && ft.current_size.checked_add(512) != Some(f.file_size)
        {
            prop_assert_ne!(status("vhd-length-matches"), Some(Status::Pass));
        }
    }
}
