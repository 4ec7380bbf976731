//! The rules a VHD must meet before Azure accepts it, as pure functions of what `vhd inspect`
//! read (footer, sizes, partition table, blob type).
//!
//! Rule ids and values are those of the interface contract and research/cert-cases.md §6:
//! fixed VHD with a `conectix` footer and a valid checksum, virtual size a whole number of MiB and
//! at least 20 MiB, blob length = virtual size + 512, data disks at most 1023 GiB, OS disk sizes per
//! OS and threshold profile ([`Thresholds`]), the OS disk's first MiB free, and a page blob when
//! the VHD is read over a SAS URL. Every rule is always listed; a rule that does not apply to what
//! was read says NotApplicable and why, and a rule that could not be evaluated says Error.

use crate::{Os, Profile, Status, Thresholds};
use serde::Serialize;

use super::footer::{DiskType, Footer};
use super::partition::{FIRST_FREE_SECTOR, SECTOR, Table};

/// One MiB.
pub const MIB: u64 = 1 << 20;
/// One GiB.
pub const GIB: u64 = 1 << 30;
/// Smallest virtual size Azure accepts (certification FAQ: "at least 20 MB").
pub const MIN_SIZE: u64 = 20 * MIB;
/// Largest data disk (and platform maximum of any disk) Azure accepts: 1023 GiB.
pub const MAX_DATA_SIZE: u64 = 1023 * GIB;

/// What the file or blob holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Format {
    /// VHD, disk type fixed.
    #[serde(rename = "vhd-fixed")]
    VhdFixed,
    /// VHD, disk type dynamic.
    #[serde(rename = "vhd-dynamic")]
    VhdDynamic,
    /// VHD, disk type differencing.
    #[serde(rename = "vhd-differencing")]
    VhdDifferencing,
    /// VHDX (signature `vhdxfile` at offset 0).
    #[serde(rename = "vhdx")]
    Vhdx,
    /// A raw disk image (an MBR or GPT at the start, no VHD footer).
    #[serde(rename = "raw")]
    Raw,
    /// None of the above (a VHD that lost its footer, or not a disk image).
    #[serde(rename = "unknown")]
    Unknown,
}

impl Format {
    /// The contract's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VhdFixed => "vhd-fixed",
            Self::VhdDynamic => "vhd-dynamic",
            Self::VhdDifferencing => "vhd-differencing",
            Self::Vhdx => "vhdx",
            Self::Raw => "raw",
            Self::Unknown => "unknown",
        }
    }
}

/// What the disk is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The OS disk.
    Os,
    /// A data disk.
    Data,
}

/// Where the bytes came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A local file.
    Local,
    /// A blob over a SAS URL, with the `x-ms-blob-type` the service reported.
    Blob(Option<String>),
}

/// Everything the rules look at.
#[derive(Debug, Clone)]
pub struct Facts {
    /// Container format.
    pub format: Format,
    /// The footer at the end, when its cookie is right.
    pub footer: Option<Footer>,
    /// Length of the file or blob.
    pub file_size: u64,
    /// Size of the disk inside (footer current size, or the file size of a raw image).
    pub virtual_size: Option<u64>,
    /// The partition table, when it was read (fixed VHDs and raw images); `Err` when it could
    /// not be trusted.
    pub table: Option<Result<Table, String>>,
    /// File or blob.
    pub origin: Origin,
}

/// What the user told about the disk.
#[derive(Debug, Clone, Copy)]
pub struct Intent {
    /// OS or data disk; `None` when not given.
    pub role: Option<Role>,
    /// OS of an OS disk.
    pub os: Option<Os>,
    /// Threshold profile.
    pub profile: Profile,
}

/// The outcome of one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleResult {
    /// Rule id (`vhd-cookie`...).
    pub id: &'static str,
    /// Outcome.
    pub status: Status,
    /// What was found and what to do, in one sentence or two.
    pub message: String,
}

fn rule(id: &'static str, status: Status, message: impl Into<String>) -> RuleResult {
    RuleResult {
        id,
        status,
        message: message.into(),
    }
}

/// A rule's identity and documentation, as a check's [`crate::Meta`] is for a check.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RuleMeta {
    /// Rule id (`vhd-cookie`...), as in the results.
    pub id: &'static str,
    /// What the rule requires, as a short title.
    pub title: &'static str,
    /// The rule and why, in a sentence or two.
    pub description: &'static str,
    /// What to do when it fails.
    pub remediation: &'static str,
}

/// Every rule, in output order: the registry that `vmcert vhd rules` lists and [`evaluate`]
/// follows.
pub static RULES: [RuleMeta; 10] = [
    RuleMeta {
        id: "vhd-cookie",
        title: "The file is a VHD",
        description: "The last 512 bytes are a VHD footer (cookie `conectix`): Azure accepts only the VHD format, not VHDX, raw or qcow2.",
        remediation: "Convert the disk: `qemu-img convert -O vpc -o subformat=fixed,force_size=on SRC disk.vhd`, or `Convert-VHD -VHDType Fixed`.",
    },
    RuleMeta {
        id: "vhd-fixed",
        title: "The VHD is fixed-size",
        description: "The footer's disk type is fixed (2): Azure page blobs hold fixed VHDs only; dynamic and differencing disks are refused at import.",
        remediation: "Convert to a fixed VHD: `qemu-img convert -O vpc -o subformat=fixed,force_size=on SRC disk.vhd`.",
    },
    RuleMeta {
        id: "vhd-checksum",
        title: "The footer checksum is right",
        description: "The footer's one's-complement checksum matches its bytes: a wrong checksum means a damaged or hand-edited footer.",
        remediation: "Recreate the VHD with qemu-img or Hyper-V; never edit the footer by hand.",
    },
    RuleMeta {
        id: "vhd-size-mib-aligned",
        title: "The virtual size is a whole number of MiB",
        description: "The virtual size is a multiple of 1 MiB, as Azure requires of every VHD.",
        remediation: "Resize to a whole MiB: `qemu-img resize -f raw disk.raw SIZE` before converting, with `force_size=on`.",
    },
    RuleMeta {
        id: "vhd-length-matches",
        title: "The file length matches the virtual size",
        description: "The file is exactly the virtual size plus the 512-byte footer: a truncated or padded file cannot be a fixed VHD.",
        remediation: "Recreate the fixed VHD, and upload it as a page blob with its full length.",
    },
    RuleMeta {
        id: "vhd-min-size",
        title: "The disk is at least 20 MiB",
        description: "The virtual size is at least 20 MiB, Azure's smallest managed disk.",
        remediation: "Grow the disk to at least 20 MiB.",
    },
    RuleMeta {
        id: "vhd-os-size",
        title: "The OS disk's size fits the profile",
        description: "An OS disk's virtual size is within the size range of its OS under the chosen profile (checks.md).",
        remediation: "Resize the OS disk into the range (for example 30 GiB for Linux, 127 GiB for Windows).",
    },
    RuleMeta {
        id: "vhd-data-size",
        title: "A data disk is at most 1023 GiB",
        description: "A data disk's virtual size is at most 1023 GiB, the Marketplace's data disk limit.",
        remediation: "Shrink the data disk, or split it into several.",
    },
    RuleMeta {
        id: "vhd-first-mib-free",
        title: "The OS disk's first MiB is free",
        description: "On an OS disk, the first partition starts at sector 2048 or later (from the MBR or GPT), leaving the first MiB to Azure.",
        remediation: "Repartition with the first partition at 1 MiB (sector 2048), as modern partitioners do by default.",
    },
    RuleMeta {
        id: "vhd-page-blob",
        title: "The VHD is stored as a page blob",
        description: "Over a SAS URL: the blob is a page blob, the only type Azure creates disks from.",
        remediation: "Upload with `azcopy copy --blob-type PageBlob` (or `az storage blob upload --type page`).",
    },
];

/// The remedy for anything that is not a fixed VHD.
const CONVERT: &str = "convert it with `qemu-img convert -O vpc -o subformat=fixed,force_size=on SRC disk.vhd` \
                       or `Convert-VHD -Path SRC -DestinationPath disk.vhd -VHDType Fixed`";

/// A size for humans: `30 GiB`, `20.5 MiB (21495808 bytes)`.
pub fn size(bytes: u64) -> String {
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= GIB {
        format!("{:.2} GiB ({bytes} bytes)", bytes as f64 / GIB as f64)
    } else if bytes >= MIB {
        format!("{:.2} MiB ({bytes} bytes)", bytes as f64 / MIB as f64)
    } else {
        format!("{bytes} bytes")
    }
}

/// Applies every rule, in [`RULES`] order.
pub fn evaluate(f: &Facts, intent: &Intent) -> Vec<RuleResult> {
    vec![
        cookie(f),
        fixed(f),
        checksum(f),
        mib_aligned(f),
        length_matches(f),
        min_size(f),
        os_size(f, intent),
        data_size(f, intent),
        first_mib_free(f, intent),
        page_blob(f),
    ]
}

/// Acceptable: no Fail and no Error (warnings allowed).
pub fn acceptable(rules: &[RuleResult]) -> bool {
    rules
        .iter()
        .all(|r| !matches!(r.status, Status::Fail | Status::Error))
}

fn cookie(f: &Facts) -> RuleResult {
    const ID: &str = "vhd-cookie";
    if f.footer.is_some() {
        return rule(
            ID,
            Status::Pass,
            "the last 512 bytes are a VHD footer with the cookie \"conectix\"",
        );
    }
    let why = match f.format {
        Format::Vhdx => "this is a VHDX file (signature \"vhdxfile\" at offset 0) and Azure only takes VHD".to_string(),
        Format::Raw => "this is a raw disk image without a VHD footer".to_string(),
        _ if f.file_size < 512 => format!("the file is only {} bytes, shorter than a footer", f.file_size),
        _ => "the last 512 bytes do not start with \"conectix\": the VHD is truncated or is not a VHD".to_string(),
    };
    rule(
        ID,
        Status::Fail,
        format!("{why} (Azure: \"Disk is expected to have cookie value 'conectix'.\"); {CONVERT}"),
    )
}

fn fixed(f: &Facts) -> RuleResult {
    const ID: &str = "vhd-fixed";
    match &f.footer {
        Some(ft) if ft.disk_type == DiskType::Fixed => {
            rule(ID, Status::Pass, "disk type 2 (fixed)")
        }
        Some(ft) => rule(
            ID,
            Status::Fail,
            format!(
                "disk type {} ({}): Azure only accepts fixed VHDs; {CONVERT}",
                ft.disk_type.raw(),
                ft.disk_type.name()
            ),
        ),
        None => rule(
            ID,
            Status::Fail,
            format!(
                "not a VHD ({}): Azure only accepts fixed VHDs; {CONVERT}",
                f.format.as_str()
            ),
        ),
    }
}

fn checksum(f: &Facts) -> RuleResult {
    const ID: &str = "vhd-checksum";
    match &f.footer {
        None => rule(ID, Status::NotApplicable, "no VHD footer to check"),
        Some(ft) if ft.checksum_ok() => rule(
            ID,
            Status::Pass,
            format!("footer checksum {:#010x} matches", ft.checksum),
        ),
        Some(ft) => rule(
            ID,
            Status::Fail,
            format!(
                "footer checksum is {:#010x} but the footer bytes sum to {:#010x}: the footer is corrupted; recreate the VHD",
                ft.checksum, ft.computed_checksum
            ),
        ),
    }
}

fn mib_aligned(f: &Facts) -> RuleResult {
    const ID: &str = "vhd-size-mib-aligned";
    let Some(v) = f.virtual_size else {
        return rule(
            ID,
            Status::NotApplicable,
            "virtual size unknown (not a VHD)",
        );
    };
    if v.is_multiple_of(MIB) {
        rule(
            ID,
            Status::Pass,
            format!("virtual size {} is a whole number of MiB", size(v)),
        )
    } else {
        let Some(up) = v.div_ceil(MIB).checked_mul(MIB) else {
            return rule(
                ID,
                Status::Fail,
                format!(
                    "virtual size {v} bytes is not a whole number of MiB, and is larger than any disk"
                ),
            );
        };
        rule(
            ID,
            Status::Fail,
            format!(
                "virtual size {v} bytes is not a whole number of MiB (Azure: \"The size must be a whole number (in MBs)\"); \
                 resize to {up} bytes ({}), e.g. `qemu-img resize -f raw disk.raw {up}` before converting with force_size=on",
                size(up)
            ),
        )
    }
}

fn length_matches(f: &Facts) -> RuleResult {
    const ID: &str = "vhd-length-matches";
    let Some(ft) = &f.footer else {
        return rule(
            ID,
            Status::NotApplicable,
            "no VHD footer, so no virtual size to compare the length with",
        );
    };
    match ft.current_size.checked_add(512) {
        Some(want) if want == f.file_size => rule(
            ID,
            Status::Pass,
            format!("length {} = virtual size + 512", f.file_size),
        ),
        want => rule(
            ID,
            Status::Fail,
            format!(
                "length is {} bytes but a fixed VHD of virtual size {} bytes is {} bytes (virtual size + 512){}",
                f.file_size,
                ft.current_size,
                want.map_or_else(|| "more than 2^64".to_string(), |w| w.to_string()),
                if ft.disk_type == DiskType::Fixed {
                    ": the file was truncated or padded"
                } else {
                    ""
                }
            ),
        ),
    }
}

fn min_size(f: &Facts) -> RuleResult {
    const ID: &str = "vhd-min-size";
    match f.virtual_size {
        None => rule(
            ID,
            Status::NotApplicable,
            "virtual size unknown (not a VHD)",
        ),
        Some(v) if v >= MIN_SIZE => rule(
            ID,
            Status::Pass,
            format!("virtual size {} >= 20 MiB", size(v)),
        ),
        Some(v) => rule(
            ID,
            Status::Fail,
            format!("virtual size {} is below the 20 MiB minimum", size(v)),
        ),
    }
}

fn in_gib(v: u64, (lo, hi): (u64, u64)) -> bool {
    v >= lo.saturating_mul(GIB) && v <= hi.saturating_mul(GIB)
}

/// `vhd-os-size`: the OS disk's virtual size against the profile's range for its OS
/// (research/cert-cases.md §6, sizes in GiB as Azure's "GB" means for disks).
///
/// Windows: `windows_os_disk_gib` / `windows_os_disk_warn_gib` (toolkit 127..=128 from the 2018
/// guide; current 30..=1023, warning outside the FAQ's 30..=250). Linux, chosen here because the
/// documents disagree: toolkit fails outside 30..=1023 and warns outside 30..=50 (2015 guide
/// S1: "not < 30 GB, > 50 GB case by case"; 2018 guide S15: "30-50 GB"; platform maximum 1023 GB,
/// S18); current fails outside 1..=1023 and warns below 30 (FAQ S7/S8 2021: recommended size
/// 1-1023 GB; issues page S9 2020: 30-1023 GB).
fn os_size(f: &Facts, intent: &Intent) -> RuleResult {
    const ID: &str = "vhd-os-size";
    if intent.role != Some(Role::Os) {
        return rule(
            ID,
            Status::NotApplicable,
            "not an OS disk (give --role os to check the OS disk size)",
        );
    }
    let Some(os) = intent.os else {
        return rule(
            ID,
            Status::Warning,
            "OS disk size not checked: give --os linux or --os windows",
        );
    };
    let Some(v) = f.virtual_size else {
        return rule(
            ID,
            Status::NotApplicable,
            "virtual size unknown (not a VHD)",
        );
    };
    let t: &Thresholds = intent.profile.thresholds();
    let (fail, warn) = match os {
        Os::Linux => (t.linux_os_disk_gib, t.linux_os_disk_warn_gib),
        Os::Windows => (t.windows_os_disk_gib, t.windows_os_disk_warn_gib),
    };
    let profile = intent.profile.as_str();
    let range = |(lo, hi): (u64, u64)| format!("{lo}..={hi} GiB");
    if !in_gib(v, fail) {
        return rule(
            ID,
            Status::Fail,
            format!(
                "{os} OS disk of {} is outside {} (profile {profile})",
                size(v),
                range(fail)
            ),
        );
    }
    match warn {
        Some(w) if !in_gib(v, w) => rule(
            ID,
            Status::Warning,
            format!(
                "{os} OS disk of {} is allowed ({}) but outside the recommended {} (profile {profile}); expect review questions",
                size(v),
                range(fail),
                range(w)
            ),
        ),
        _ => rule(
            ID,
            Status::Pass,
            format!(
                "{os} OS disk of {} is within {} (profile {profile})",
                size(v),
                range(warn.unwrap_or(fail))
            ),
        ),
    }
}

fn data_size(f: &Facts, intent: &Intent) -> RuleResult {
    const ID: &str = "vhd-data-size";
    if intent.role == Some(Role::Os) {
        return rule(
            ID,
            Status::NotApplicable,
            "OS disk: its size is checked by vhd-os-size",
        );
    }
    match f.virtual_size {
        None => rule(
            ID,
            Status::NotApplicable,
            "virtual size unknown (not a VHD)",
        ),
        Some(v) if v <= MAX_DATA_SIZE => rule(
            ID,
            Status::Pass,
            format!("virtual size {} <= 1023 GiB", size(v)),
        ),
        Some(v) => rule(
            ID,
            Status::Fail,
            format!(
                "virtual size {} exceeds 1023 GiB (Azure: \"greater than 1023 gigabytes (GB) won't be approved\")",
                size(v)
            ),
        ),
    }
}

fn first_mib_free(f: &Facts, intent: &Intent) -> RuleResult {
    const ID: &str = "vhd-first-mib-free";
    let os_disk = intent.role == Some(Role::Os);
    if intent.role == Some(Role::Data) {
        return rule(
            ID,
            Status::NotApplicable,
            "data disk: only the OS disk must leave its first MiB free",
        );
    }
    let table = match &f.table {
        None => {
            return rule(
                ID,
                Status::NotApplicable,
                format!(
                    "the partition table is only read from fixed VHDs and raw images, not {}",
                    f.format.as_str()
                ),
            );
        }
        Some(Err(e)) => {
            return rule(
                ID,
                Status::Error,
                format!("could not read the partition table: {e}"),
            );
        }
        Some(Ok(t)) => t,
    };
    let Some(start) = table.first_start() else {
        let what = match table {
            Table::None => "no partition table (no MBR signature 0x55AA in sector 0)",
            _ => "a partition table without partitions",
        };
        return if os_disk {
            rule(
                ID,
                Status::Fail,
                format!(
                    "{what}: an OS disk needs partitions, the first at sector {FIRST_FREE_SECTOR} or later"
                ),
            )
        } else {
            rule(
                ID,
                Status::NotApplicable,
                format!("{what}; give --role os for an OS disk"),
            )
        };
    };
    let scheme = table.scheme().to_uppercase();
    // A first partition at or past the end of the disk is a table that does not describe this
    // disk (issue 17 item 12: it passed, since its start is past the first MiB).
    if let Some(v) = f.virtual_size
        && start >= v / SECTOR
    {
        return rule(
            ID,
            Status::Error,
            format!(
                "could not trust the partition table: its first partition ({scheme}) starts at sector {start}, \
                 at or past the end of the disk ({} sectors of {})",
                v / SECTOR,
                size(v)
            ),
        );
    }
    if start >= FIRST_FREE_SECTOR {
        return rule(
            ID,
            Status::Pass,
            format!(
                "first partition ({scheme}) starts at sector {start} ({}), the first MiB is free",
                size(start.saturating_mul(SECTOR))
            ),
        );
    }
    let msg = format!(
        "first partition ({scheme}) starts at sector {start}, inside the first MiB (sectors 0..{FIRST_FREE_SECTOR}); \
         move it, e.g. `echo '+1M,' | sfdisk --move-data /dev/sdX -N 1`, or repartition starting at sector {FIRST_FREE_SECTOR}"
    );
    if os_disk {
        rule(ID, Status::Fail, msg)
    } else {
        rule(
            ID,
            Status::Warning,
            format!("{msg} (required for an OS disk)"),
        )
    }
}

fn page_blob(f: &Facts) -> RuleResult {
    const ID: &str = "vhd-page-blob";
    match &f.origin {
        Origin::Local => rule(
            ID,
            Status::NotApplicable,
            "local file (the blob type is checked over a SAS URL)",
        ),
        Origin::Blob(Some(t)) if t == "PageBlob" => rule(ID, Status::Pass, "page blob"),
        Origin::Blob(Some(t)) => rule(
            ID,
            Status::Fail,
            format!(
                "the blob is a {t}; Azure needs a page blob (\"Invalid blob type\"): upload with `azcopy copy disk.vhd URL --blob-type PageBlob`"
            ),
        ),
        Origin::Blob(None) => rule(
            ID,
            Status::Warning,
            "the service did not report the blob type (no x-ms-blob-type header)",
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::vhd::build::footer;
    use crate::vhd::partition::Partition;

    fn vhd(disk_type: u32, v: u64, file_size: u64) -> Facts {
        Facts {
            format: match disk_type {
                2 => Format::VhdFixed,
                3 => Format::VhdDynamic,
                _ => Format::VhdDifferencing,
            },
            footer: Footer::parse(&footer(disk_type, v)),
            file_size,
            virtual_size: Some(v),
            table: Some(Ok(mbr_at(2048))),
            origin: Origin::Local,
        }
    }

    fn fixed_vhd(v: u64) -> Facts {
        vhd(2, v, v + 512)
    }

    fn mbr_at(start: u64) -> Table {
        Table::Mbr {
            partitions: vec![Partition {
                number: 1,
                start,
                sectors: 1000,
                kind: "0x83".into(),
            }],
        }
    }

    fn intent(role: Option<Role>, os: Option<Os>, profile: Profile) -> Intent {
        Intent { role, os, profile }
    }

    fn status(rules: &[RuleResult], id: &str) -> Status {
        rules
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.status)
            .unwrap_or_else(|| panic!("{id} missing"))
    }

    /// The registry's invariants, as `checks/src/registry.rs` holds them for the checks: ids
    /// unique, kebab-case and prefixed, every text written as a sentence.
    pub(crate) fn registry_is_sound(rules: &[RuleMeta], prefix: &str) {
        let mut seen = std::collections::HashSet::new();
        for m in rules {
            assert!(seen.insert(m.id), "{} is listed twice", m.id);
            assert!(
                m.id.starts_with(prefix),
                "{} lacks the prefix {prefix}",
                m.id
            );
            assert!(
                m.id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{} is not kebab-case",
                m.id
            );
            assert!(
                !m.title.is_empty() && !m.title.ends_with('.'),
                "{}: title",
                m.id
            );
            for text in [m.description, m.remediation] {
                assert!(text.ends_with('.') && text.len() > 20, "{}: {text}", m.id);
            }
        }
    }

    #[test]
    fn the_vhd_rule_registry_is_sound() {
        registry_is_sound(&RULES, "vhd-");
    }

    fn run(f: &Facts, i: Intent) -> Vec<RuleResult> {
        let r = evaluate(f, &i);
        assert_eq!(
            r.iter().map(|r| r.id).collect::<Vec<_>>(),
            RULES.map(|m| m.id),
            "every rule, in order"
        );
        r
    }

    const ANY: Intent = Intent {
        role: None,
        os: None,
        profile: Profile::Current,
    };

    #[test]
    fn a_good_linux_os_disk_is_acceptable() {
        let r = run(
            &fixed_vhd(30 * GIB),
            intent(Some(Role::Os), Some(Os::Linux), Profile::Current),
        );
        assert!(acceptable(&r), "{r:#?}");
        for id in [
            "vhd-cookie",
            "vhd-fixed",
            "vhd-checksum",
            "vhd-size-mib-aligned",
            "vhd-length-matches",
            "vhd-min-size",
            "vhd-os-size",
            "vhd-first-mib-free",
        ] {
            assert_eq!(status(&r, id), Status::Pass, "{id}: {r:#?}");
        }
        assert_eq!(status(&r, "vhd-data-size"), Status::NotApplicable);
        assert_eq!(status(&r, "vhd-page-blob"), Status::NotApplicable);
    }

    #[test]
    fn dynamic_vhd_fails_fixed_and_length() {
        let r = run(&vhd(3, 30 * GIB, 264_192), ANY);
        assert_eq!(status(&r, "vhd-cookie"), Status::Pass);
        assert_eq!(status(&r, "vhd-fixed"), Status::Fail);
        assert_eq!(status(&r, "vhd-length-matches"), Status::Fail);
        assert!(!acceptable(&r));
        let fixed_msg = &r[1].message;
        assert!(
            fixed_msg.contains("disk type 3 (dynamic)") && fixed_msg.contains("subformat=fixed"),
            "{fixed_msg}"
        );
    }

    #[test]
    fn vhdx_and_unknown_fail_the_cookie_and_skip_footer_rules() {
        for format in [Format::Vhdx, Format::Unknown] {
            let f = Facts {
                format,
                footer: None,
                file_size: 8 * MIB,
                virtual_size: None,
                table: None,
                origin: Origin::Local,
            };
            let r = run(
                &f,
                intent(Some(Role::Os), Some(Os::Linux), Profile::Current),
            );
            assert_eq!(status(&r, "vhd-cookie"), Status::Fail);
            assert_eq!(status(&r, "vhd-fixed"), Status::Fail);
            for id in [
                "vhd-checksum",
                "vhd-size-mib-aligned",
                "vhd-length-matches",
                "vhd-min-size",
                "vhd-os-size",
                "vhd-first-mib-free",
            ] {
                assert_eq!(status(&r, id), Status::NotApplicable, "{id}");
            }
        }
    }

    #[test]
    fn cookie_message_names_vhdx_and_quotes_azure() {
        let f = Facts {
            format: Format::Vhdx,
            footer: None,
            file_size: 8 * MIB,
            virtual_size: None,
            table: None,
            origin: Origin::Local,
        };
        let m = &run(&f, ANY)[0].message;
        assert!(
            m.contains("VHDX") && m.contains("cookie value 'conectix'"),
            "{m}"
        );
    }

    #[test]
    fn bad_checksum_fails() {
        let mut f = fixed_vhd(GIB);
        if let Some(ft) = &mut f.footer {
            ft.checksum ^= 1;
        }
        let r = run(&f, ANY);
        assert_eq!(status(&r, "vhd-checksum"), Status::Fail);
        assert!(r[2].message.contains("corrupted"));
    }

    #[test]
    fn chs_rounded_size_is_not_mib_aligned() {
        // qemu-img without force_size: 30G becomes 32212647936 bytes (research/feasibility.md §5).
        let r = run(&fixed_vhd(32_212_647_936), ANY);
        assert_eq!(status(&r, "vhd-size-mib-aligned"), Status::Fail);
        assert!(r[3].message.contains("32213303296"), "{}", r[3].message);
    }

    #[test]
    fn truncated_or_padded_length_fails() {
        let r = run(&vhd(2, GIB, GIB + 1024), ANY);
        assert_eq!(status(&r, "vhd-length-matches"), Status::Fail);
        assert!(r[4].message.contains("truncated or padded"));
        let mut absurd = fixed_vhd(GIB);
        if let Some(ft) = &mut absurd.footer {
            ft.current_size = u64::MAX;
        }
        assert_eq!(
            status(&run(&absurd, ANY), "vhd-length-matches"),
            Status::Fail
        );
    }

    #[test]
    fn min_size_boundary() {
        assert_eq!(
            status(&run(&fixed_vhd(20 * MIB), ANY), "vhd-min-size"),
            Status::Pass
        );
        assert_eq!(
            status(&run(&fixed_vhd(19 * MIB), ANY), "vhd-min-size"),
            Status::Fail
        );
    }

    #[test]
    fn data_size_boundary_applies_to_data_and_unspecified_roles() {
        let data = intent(Some(Role::Data), None, Profile::Current);
        assert_eq!(
            status(&run(&fixed_vhd(1023 * GIB), data), "vhd-data-size"),
            Status::Pass
        );
        assert_eq!(
            status(&run(&fixed_vhd(1024 * GIB), data), "vhd-data-size"),
            Status::Fail
        );
        assert_eq!(
            status(&run(&fixed_vhd(1024 * GIB), ANY), "vhd-data-size"),
            Status::Fail
        );
    }

    #[test]
    fn windows_os_size_follows_the_profile_table() {
        let w = |gib: u64, p: Profile| {
            status(
                &run(
                    &fixed_vhd(gib * GIB),
                    intent(Some(Role::Os), Some(Os::Windows), p),
                ),
                "vhd-os-size",
            )
        };
        assert_eq!(w(127, Profile::Toolkit), Status::Pass);
        assert_eq!(w(128, Profile::Toolkit), Status::Pass);
        assert_eq!(w(126, Profile::Toolkit), Status::Fail);
        assert_eq!(w(129, Profile::Toolkit), Status::Fail);
        assert_eq!(w(30, Profile::Current), Status::Pass);
        assert_eq!(w(250, Profile::Current), Status::Pass);
        assert_eq!(w(251, Profile::Current), Status::Warning);
        assert_eq!(w(1023, Profile::Current), Status::Warning);
        assert_eq!(w(1024, Profile::Current), Status::Fail);
        assert_eq!(w(29, Profile::Current), Status::Fail);
    }

    #[test]
    fn linux_os_size_follows_the_profile_table() {
        let l = |gib: u64, p: Profile| {
            status(
                &run(
                    &fixed_vhd(gib * GIB),
                    intent(Some(Role::Os), Some(Os::Linux), p),
                ),
                "vhd-os-size",
            )
        };
        assert_eq!(l(30, Profile::Toolkit), Status::Pass);
        assert_eq!(l(50, Profile::Toolkit), Status::Pass);
        assert_eq!(l(51, Profile::Toolkit), Status::Warning);
        assert_eq!(l(29, Profile::Toolkit), Status::Fail);
        assert_eq!(l(1024, Profile::Toolkit), Status::Fail);
        assert_eq!(l(2, Profile::Current), Status::Warning);
        assert_eq!(l(30, Profile::Current), Status::Pass);
        assert_eq!(l(1023, Profile::Current), Status::Pass);
        assert_eq!(l(1024, Profile::Current), Status::Fail);
        // A hair above 1023 GiB is above the range: the comparison is in bytes.
        let r = run(
            &fixed_vhd(1023 * GIB + MIB),
            intent(Some(Role::Os), Some(Os::Linux), Profile::Current),
        );
        assert_eq!(status(&r, "vhd-os-size"), Status::Fail);
    }

    #[test]
    fn os_disk_without_os_warns() {
        let r = run(
            &fixed_vhd(30 * GIB),
            intent(Some(Role::Os), None, Profile::Current),
        );
        assert_eq!(status(&r, "vhd-os-size"), Status::Warning);
        assert!(acceptable(&r));
    }

    #[test]
    fn first_mib_by_role() {
        let mut f = fixed_vhd(30 * GIB);
        f.table = Some(Ok(mbr_at(63)));
        let os = intent(Some(Role::Os), Some(Os::Linux), Profile::Current);
        let r = run(&f, os);
        assert_eq!(status(&r, "vhd-first-mib-free"), Status::Fail);
        assert!(r[8].message.contains("sector 63"), "{}", r[8].message);
        assert_eq!(status(&run(&f, ANY), "vhd-first-mib-free"), Status::Warning);
        assert_eq!(
            status(
                &run(&f, intent(Some(Role::Data), None, Profile::Current)),
                "vhd-first-mib-free"
            ),
            Status::NotApplicable
        );
        f.table = Some(Ok(mbr_at(2047)));
        assert_eq!(status(&run(&f, os), "vhd-first-mib-free"), Status::Fail);
        f.table = Some(Ok(mbr_at(2048)));
        assert_eq!(status(&run(&f, os), "vhd-first-mib-free"), Status::Pass);
    }

    #[test]
    fn blank_os_disk_fails_first_mib_but_blank_unspecified_disk_does_not() {
        let mut f = fixed_vhd(30 * GIB);
        f.table = Some(Ok(Table::None));
        assert_eq!(
            status(
                &run(
                    &f,
                    intent(Some(Role::Os), Some(Os::Linux), Profile::Current)
                ),
                "vhd-first-mib-free"
            ),
            Status::Fail
        );
        assert_eq!(
            status(&run(&f, ANY), "vhd-first-mib-free"),
            Status::NotApplicable
        );
    }

    #[test]
    fn unreadable_table_is_an_error_and_not_acceptable() {
        let mut f = fixed_vhd(30 * GIB);
        f.table = Some(Err("the GPT header checksum does not match".into()));
        let r = run(
            &f,
            intent(Some(Role::Os), Some(Os::Linux), Profile::Current),
        );
        assert_eq!(status(&r, "vhd-first-mib-free"), Status::Error);
        assert!(!acceptable(&r));
    }

    /// Issue 17 item 12, found again by the property tests: a first partition past the end of
    /// the disk passed `vhd-first-mib-free`.
    #[test]
    fn a_first_partition_past_the_end_is_an_error() {
        let mut f = fixed_vhd(30 * MIB);
        let os = intent(Some(Role::Os), Some(Os::Linux), Profile::Current);
        f.table = Some(Ok(mbr_at(30 * MIB / SECTOR)));
        let r = run(&f, os);
        assert_eq!(status(&r, "vhd-first-mib-free"), Status::Error);
        assert!(
            r[8].message.contains("past the end of the disk"),
            "{}",
            r[8].message
        );
        assert!(!acceptable(&r));
        f.table = Some(Ok(mbr_at(u64::MAX)));
        assert_eq!(status(&run(&f, ANY), "vhd-first-mib-free"), Status::Error);
        f.table = Some(Ok(mbr_at(30 * MIB / SECTOR - 1)));
        assert_eq!(status(&run(&f, os), "vhd-first-mib-free"), Status::Pass);
    }

    #[test]
    fn blob_type() {
        let mut f = fixed_vhd(30 * GIB);
        f.origin = Origin::Blob(Some("PageBlob".into()));
        assert_eq!(status(&run(&f, ANY), "vhd-page-blob"), Status::Pass);
        f.origin = Origin::Blob(Some("BlockBlob".into()));
        let r = run(&f, ANY);
        assert_eq!(status(&r, "vhd-page-blob"), Status::Fail);
        assert!(r[9].message.contains("BlockBlob"));
        f.origin = Origin::Blob(None);
        assert_eq!(status(&run(&f, ANY), "vhd-page-blob"), Status::Warning);
    }

    #[test]
    fn sizes_for_humans() {
        assert_eq!(size(30 * GIB), "30 GiB");
        assert_eq!(size(20 * MIB), "20 MiB");
        assert_eq!(size(32_212_647_936), "30.00 GiB (32212647936 bytes)");
        assert_eq!(size(512), "512 bytes");
    }
}
