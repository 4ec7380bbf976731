//! The OS disk (the disk holding the system drive) has a size Azure accepts for a Marketplace image; the limits changed over
//! the years, so they come from the threshold profile.

use serde::Deserialize;

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::profile::Thresholds;
use crate::verdict::{Status, Verdict};
use crate::windows::outputs;
use crate::{Check, Unevaluable};

/// Size of the OS disk inside the profile's `windows_os_disk_gib` range (and, where the profile has
/// one, inside `windows_os_disk_warn_gib`).
#[derive(Debug)]
pub struct OsDiskSize;

static META: Meta = Meta {
    id: "os-disk-size",
    title: "OS disk size",
    test_id: None,
    test_case_name: None,
    description: "The operating system disk has a size Azure accepts for a Windows image.",
    rationale: "The documented Windows OS VHD size changed: 128 GB fixed (2015), 127 to 128 GB \
                (2018, the `toolkit` profile), 30 GB to 250 GB recommended and up to 1023 GB \
                accepted today (research/cert-cases.md sections 3.2 and 6). vmcert measures \
                the disk that holds the system drive's partition (Get-Partition -DriveLetter C \
                | Get-Disk), not disk 0, whose number Windows does not promise; a disk that is \
                not the boot disk cannot be judged.",
    remediation: "Resize the OS VHD to the range of the profile before capturing (Resize-VHD, or \
                  `az disk update --size-gb`), then extend the C: partition.",
    os: Os::Windows,
    severity: Severity::Medium,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &["windows_os_disk_gib", "windows_os_disk_warn_gib"],
};

const GIB: u64 = 1 << 30;

/// `os-disk`.
#[derive(Debug, Deserialize)]
struct Disk {
    #[serde(rename = "Number")]
    number: u32,
    #[serde(rename = "FriendlyName", default)]
    friendly_name: Option<String>,
    #[serde(rename = "Size")]
    size: u64,
    #[serde(rename = "IsBoot", default)]
    is_boot: Option<bool>,
}

fn required(t: &Thresholds) -> String {
    let (lo, hi) = t.windows_os_disk_gib;
    match t.windows_os_disk_warn_gib {
        Some((wlo, whi)) => format!("{lo}..={hi} GiB ({wlo}..={whi} GiB recommended)"),
        None => format!("{lo}..={hi} GiB"),
    }
}

fn within(size: u64, (lo, hi): (u64, u64)) -> bool {
    size >= lo.saturating_mul(GIB) && size <= hi.saturating_mul(GIB)
}

fn gib(size: u64) -> String {
    if size.is_multiple_of(GIB) {
        format!("{} GiB", size / GIB)
    } else {
        // Display only; precision loss above 2^53 bytes does not matter here.
        #[allow(clippy::cast_precision_loss)]
        let g = size as f64 / GIB as f64;
        format!("{g:.2} GiB")
    }
}

impl Check for OsDiskSize {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["os-disk"]
    }

    fn required(&self, ev: &Evidence) -> String {
        required(ev.thresholds()).to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let t = ev.thresholds();
    let d: Disk = outputs::document(ev, "os-disk")?;
    if d.is_boot == Some(false) {
        return Err(Unevaluable::new(format!(
            "disk {} holds the system drive but is not the boot disk, so its size says nothing about the OS disk",
            d.number
        )));
    }
    let fallback = format!("disk {}", d.number);
    let name = d.friendly_name.as_deref().unwrap_or(&fallback);
    let actual = format!("{} ({} bytes)", gib(d.size), d.size);
    let req = required(t);
    let (status, message) = if !within(d.size, t.windows_os_disk_gib) {
        (
            Status::Fail,
            format!(
                "The OS disk ({name}) is {}, outside {} GiB.",
                gib(d.size),
                range(t.windows_os_disk_gib)
            ),
        )
    } else if let Some(warn) = t.windows_os_disk_warn_gib.filter(|w| !within(d.size, *w)) {
        (
            Status::Warning,
            format!(
                "The OS disk ({name}) is {}: accepted, but outside the recommended {} GiB.",
                gib(d.size),
                range(warn)
            ),
        )
    } else {
        (
            Status::Pass,
            format!("The OS disk ({name}) is {}.", gib(d.size)),
        )
    };
    Ok(Verdict::new(status, actual, req, message))
}

fn range((lo, hi): (u64, u64)) -> String {
    format!("{lo}..={hi}")
}
