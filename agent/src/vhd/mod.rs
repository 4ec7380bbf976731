//! Reading a VHD for `vmcert vhd inspect` (the command is `crate::cmd::vhd`): what a disk is and
//! whether it is a VHD Azure will accept, before it is uploaded or submitted.
//!
//! Constant cost whatever the size: the length (file metadata, or one HEAD), the 512-byte footer
//! at the end, the first 34 sectors (MBR, GPT header and entries), and only if the GPT entry array
//! lies elsewhere one more read. Parsing and rules are pure ([`footer`], [`partition`], [`rules`]);
//! [`source`] does the I/O.

pub(crate) mod source;

pub(crate) use vmcert_checks::vhd::{footer, partition, rules};

use serde::Serialize;
use vmcert_checks::{Os, Profile};

use self::footer::{FOOTER_LEN, Footer, VHDX_SIGNATURE};
use self::partition::{HEAD_LEN, HeadScan, Table};
use self::rules::{Facts, Format, Intent, Origin, Role, RuleResult};
use self::source::Source;

/// The footer fields, for the JSON output.
#[derive(Debug, Serialize)]
pub(crate) struct FooterJson {
    cookie: &'static str,
    features: u32,
    version: String,
    data_offset: String,
    timestamp: u32,
    pub(crate) timestamp_utc: Option<String>,
    creator_application: String,
    creator_version: String,
    creator_host_os: String,
    original_size: u64,
    current_size: u64,
    geometry: footer::Geometry,
    disk_type: u32,
    disk_type_name: &'static str,
    checksum: String,
    computed_checksum: String,
    uuid: String,
    saved_state: u8,
}

impl From<&Footer> for FooterJson {
    fn from(f: &Footer) -> Self {
        Self {
            cookie: "conectix",
            features: f.features,
            version: format!("{}.{}", f.version >> 16, f.version & 0xffff),
            data_offset: format!("{:#018x}", f.data_offset),
            timestamp: f.timestamp,
            timestamp_utc: f.timestamp_rfc3339(),
            creator_application: f.creator_app(),
            creator_version: format!("{}.{}", f.creator_version >> 16, f.creator_version & 0xffff),
            creator_host_os: f.creator_host_os(),
            original_size: f.original_size,
            current_size: f.current_size,
            geometry: f.geometry,
            disk_type: f.disk_type.raw(),
            disk_type_name: f.disk_type.name(),
            checksum: format!("{:#010x}", f.checksum),
            computed_checksum: format!("{:#010x}", f.computed_checksum),
            uuid: f.uuid_string(),
            saved_state: f.saved_state,
        }
    }
}

/// The `vhd inspect --format json` document: the contract's fields first, then details.
#[derive(Debug, Serialize)]
pub(crate) struct Inspection {
    /// The path, or the URL with its signature hidden.
    pub path: String,
    /// Container format.
    pub format: Format,
    /// Virtual disk size (footer current size; file size of a raw image).
    pub virtual_size: Option<u64>,
    /// Length of the file or blob.
    pub file_size: u64,
    /// Whether the footer checksum matches (`null` without a footer).
    pub checksum_ok: Option<bool>,
    /// `qem2 5.3 (Wi2k)`.
    pub creator: Option<String>,
    /// Rule outcomes.
    pub rules: Vec<RuleResult>,
    /// No Fail and no Error.
    pub acceptable: bool,
    /// `--role` (implied `os` by `--os`).
    pub role: Option<Role>,
    /// `--os`.
    pub os: Option<Os>,
    /// Threshold profile.
    pub profile: Profile,
    /// Every footer field.
    pub footer: Option<FooterJson>,
    /// The partition table read from the disk (fixed VHDs and raw images).
    pub partition_table: Option<Table>,
    /// `x-ms-blob-type` over a SAS URL.
    pub blob_type: Option<String>,
    /// I/O operations made: HTTP requests (HEAD included) or positioned file reads.
    pub reads: u32,
}

/// Reads `src` and applies the rules.
pub(crate) fn inspect(src: &mut dyn Source, intent: Intent) -> anyhow::Result<Inspection> {
    let len = src.len();
    let (head, tail) = if len <= (HEAD_LEN + FOOTER_LEN) as u64 {
        let all = src.read_at(0, usize::try_from(len)?)?;
        let head = all[..all.len().min(HEAD_LEN)].to_vec();
        let tail = all[all.len().saturating_sub(FOOTER_LEN)..].to_vec();
        (head, tail)
    } else {
        let tail = src.read_at(len - FOOTER_LEN as u64, FOOTER_LEN)?;
        (src.read_at(0, HEAD_LEN)?, tail)
    };
    let footer = <&[u8; FOOTER_LEN]>::try_from(tail.as_slice())
        .ok()
        .and_then(Footer::parse);
    let format = match &footer {
        Some(f) => match f.disk_type {
            footer::DiskType::Fixed => Format::VhdFixed,
            footer::DiskType::Dynamic => Format::VhdDynamic,
            footer::DiskType::Differencing => Format::VhdDifferencing,
            footer::DiskType::Other(_) => Format::Unknown,
        },
        None if head.starts_with(VHDX_SIGNATURE) => Format::Vhdx,
        None if head.len() >= 512 && head[510..512] == [0x55, 0xaa] => Format::Raw,
        None => Format::Unknown,
    };
    let virtual_size = match (&footer, format) {
        (Some(f), _) => Some(f.current_size),
        (None, Format::Raw) => Some(len),
        _ => None,
    };
    let disk_end = match format {
        Format::VhdFixed => Some(len - FOOTER_LEN as u64),
        Format::Raw => Some(len),
        _ => None,
    };
    let table = match disk_end {
        Some(end) => Some(read_table(src, &head, end)?),
        None => None,
    };
    let facts = Facts {
        format,
        footer,
        file_size: len,
        virtual_size,
        table,
        origin: src.origin(),
    };
    let rules = rules::evaluate(&facts, &intent);
    let blob_type = match &facts.origin {
        Origin::Blob(t) => t.clone(),
        Origin::Local => None,
    };
    Ok(Inspection {
        path: src.display_name(),
        format,
        virtual_size,
        file_size: len,
        checksum_ok: facts.footer.as_ref().map(Footer::checksum_ok),
        creator: facts.footer.as_ref().map(Footer::creator),
        acceptable: rules::acceptable(&rules),
        rules,
        role: intent.role,
        os: intent.os,
        profile: intent.profile,
        footer: facts.footer.as_ref().map(FooterJson::from),
        partition_table: facts.table.and_then(Result::ok),
        blob_type,
        reads: src.reads(),
    })
}

/// The partition table of the disk bytes `[0, disk_end)`; an untrustworthy table is `Err`
/// (becomes a rule Error), an I/O failure is an error of the whole inspection.
fn read_table(
    src: &mut dyn Source,
    head: &[u8],
    disk_end: u64,
) -> anyhow::Result<Result<Table, String>> {
    let head = &head[..head
        .len()
        .min(usize::try_from(disk_end).unwrap_or(usize::MAX))];
    Ok(match partition::scan_head(head) {
        Ok(HeadScan::Done(t)) => Ok(t),
        Ok(HeadScan::NeedGptEntries(h)) => {
            let r = h.entries_range();
            if r.end > disk_end {
                Err(format!(
                    "the GPT entry array (bytes {}..{}) lies beyond the end of the disk ({disk_end})",
                    r.start, r.end
                ))
            } else {
                let bytes = src.read_at(r.start, usize::try_from(r.end - r.start)?)?;
                partition::gpt_entries(&h, &bytes)
                    .map(|partitions| Table::Gpt { partitions })
                    .map_err(|e| e.to_string())
            }
        }
        Err(e) => Err(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::ExitCode;

    use vmcert_checks::Status;

    use crate::cmd::rules::exit_code;
    use vmcert_checks::vhd::build::footer;
    use vmcert_checks::vhd::build::{gpt, mbr};

    use crate::vhd::source::Mem;

    const OS_LINUX: Intent = Intent {
        role: Some(Role::Os),
        os: Some(Os::Linux),
        profile: Profile::Current,
    };

    fn fixed_with(disk: &[u8], size: u64) -> Mem {
        let mut bytes = vec![0u8; usize::try_from(size).unwrap()];
        bytes[..disk.len()].copy_from_slice(disk);
        bytes.extend_from_slice(&footer(2, size));
        Mem { bytes, reads: 0 }
    }

    fn status(i: &Inspection, id: &str) -> Status {
        i.rules
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.status)
            .unwrap()
    }

    #[test]
    fn fixed_vhd_with_mbr_at_2048_in_two_reads() {
        let mut m = fixed_with(&mbr(&[(0x83, 2048, 40_000)]), 30 * rules::MIB);
        let i = inspect(&mut m, OS_LINUX).unwrap();
        assert_eq!(i.format, Format::VhdFixed);
        assert_eq!(i.reads, 2);
        assert_eq!(status(&i, "vhd-first-mib-free"), Status::Pass);
        assert_eq!(
            i.partition_table.as_ref().and_then(Table::first_start),
            Some(2048)
        );
        assert_eq!(i.checksum_ok, Some(true));
    }

    #[test]
    fn gpt_with_a_distant_entry_array_costs_one_more_read() {
        let mut m = fixed_with(&gpt(64, &[(4096, 8191)]), 30 * rules::MIB);
        let i = inspect(&mut m, OS_LINUX).unwrap();
        assert_eq!(i.reads, 3);
        assert_eq!(i.partition_table.as_ref().map(Table::scheme), Some("gpt"));
        assert_eq!(status(&i, "vhd-first-mib-free"), Status::Pass);
    }

    #[test]
    fn tiny_file_is_read_once() {
        let mut m = Mem {
            bytes: vec![0; 100],
            reads: 0,
        };
        let i = inspect(
            &mut m,
            Intent {
                role: None,
                os: None,
                profile: Profile::Current,
            },
        )
        .unwrap();
        assert_eq!(i.format, Format::Unknown);
        assert_eq!(i.reads, 1);
        assert_eq!(status(&i, "vhd-cookie"), Status::Fail);
    }

    #[test]
    fn vhdx_and_raw_are_told_apart() {
        let mut vhdx = vec![0u8; 1 << 20];
        vhdx[..8].copy_from_slice(VHDX_SIGNATURE);
        assert_eq!(
            inspect(
                &mut Mem {
                    bytes: vhdx,
                    reads: 0
                },
                OS_LINUX
            )
            .unwrap()
            .format,
            Format::Vhdx
        );
        let mut raw = mbr(&[(0x83, 63, 1000)]);
        raw.resize(1 << 20, 0);
        let i = inspect(
            &mut Mem {
                bytes: raw,
                reads: 0,
            },
            OS_LINUX,
        )
        .unwrap();
        assert_eq!(i.format, Format::Raw);
        assert_eq!(i.virtual_size, Some(1 << 20));
        assert_eq!(status(&i, "vhd-first-mib-free"), Status::Fail);
    }

    #[test]
    fn dynamic_vhd_is_not_partition_scanned() {
        let size = 30 * rules::MIB;
        let mut bytes = footer(3, size).to_vec();
        bytes.extend_from_slice(b"cxsparse");
        bytes.resize(64 << 10, 0);
        bytes.extend_from_slice(&footer(3, size));
        let i = inspect(&mut Mem { bytes, reads: 0 }, OS_LINUX).unwrap();
        assert_eq!(i.format, Format::VhdDynamic);
        assert_eq!(i.partition_table, None);
        assert_eq!(status(&i, "vhd-first-mib-free"), Status::NotApplicable);
        assert_eq!(status(&i, "vhd-fixed"), Status::Fail);
    }

    #[test]
    fn corrupt_gpt_is_an_error_rule_and_exit_2() {
        let mut disk = gpt(2, &[(2048, 4095)]);
        disk[512 + 40] ^= 1;
        let i = inspect(&mut fixed_with(&disk, 30 * rules::MIB), OS_LINUX).unwrap();
        assert_eq!(status(&i, "vhd-first-mib-free"), Status::Error);
        assert_eq!(exit_code(&i.rules), ExitCode::from(2));
        assert!(!i.acceptable);
    }

    #[test]
    fn json_has_the_contract_fields() {
        let mut m = fixed_with(&mbr(&[(0x83, 2048, 40_000)]), 30 * rules::MIB);
        let v = serde_json::to_value(inspect(&mut m, OS_LINUX).unwrap()).unwrap();
        for k in [
            "path",
            "format",
            "virtual_size",
            "file_size",
            "checksum_ok",
            "creator",
            "rules",
            "acceptable",
        ] {
            assert!(v.get(k).is_some(), "{k} missing: {v}");
        }
        assert_eq!(v["format"], "vhd-fixed");
        assert_eq!(v["rules"][0]["id"], "vhd-cookie");
        assert_eq!(v["rules"][0]["status"], "Pass");
        assert_eq!(v["footer"]["data_offset"], "0xffffffffffffffff");
        assert_eq!(v["creator"], "qem2 5.3 (Wi2k)");
    }
}
