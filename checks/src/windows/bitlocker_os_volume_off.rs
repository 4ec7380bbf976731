//! TestID 1.1.13 `BitLocker Drive Encryption`: the OS volume must not be BitLocker-protected
//! (Azure cannot boot it without the key); data volumes may be.

use serde::Deserialize;

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::windows::outputs;
use crate::{Check, Unevaluable};

/// BitLocker protection is off on the system drive.
#[derive(Debug)]
pub struct BitlockerOsVolumeOff;

static META: Meta = Meta {
    id: "bitlocker-os-volume-off",
    title: "OS volume not BitLocker-protected",
    test_id: Some("1.1.13"),
    test_case_name: Some("BitLocker Drive Encryption"),
    description: "BitLocker Drive Encryption isn't supported on the operating system hard disk, \
                  but it might be used on data disks.",
    rationale: "Test case `BitLocker Drive Encryption` of Microsoft's certification test tool \
                (research/cert-cases.md section 3.1, S7; TestID not published, vmcert numbers it \
                1.1.13). The 2019 Marketplace policy (S17) asks for BitLocker on all disks, which \
                contradicts it; vmcert follows the tool. Protection On fails. Protection Off while \
                the volume is not fully decrypted (protection suspended, or encryption/decryption \
                under way) warns: suspended protection resumes after the next restart. Without \
                the BitLocker feature (Get-BitLockerVolume missing) the volume cannot be \
                protected by BitLocker, which passes.",
    remediation: "Decrypt the OS volume before capturing the image: `Disable-BitLocker \
                  -MountPoint C:` and wait until Get-BitLockerVolume shows FullyDecrypted. Use \
                  Azure disk encryption options instead.",
    os: Os::Windows,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "OS volume protection Off";

/// `bitlocker-os-volume`.
#[derive(Debug, Deserialize)]
struct OsVolume {
    #[serde(rename = "MountPoint")]
    mount_point: String,
    #[serde(rename = "BitLockerAvailable")]
    available: bool,
    #[serde(rename = "VolumeStatus", default)]
    volume_status: Option<String>,
    #[serde(rename = "ProtectionStatus", default)]
    protection_status: Option<String>,
    #[serde(rename = "EncryptionPercentage", default)]
    encryption_percentage: Option<f64>,
}

impl Check for BitlockerOsVolumeOff {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["bitlocker-os-volume"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let v: OsVolume = outputs::document(ev, "bitlocker-os-volume")?;
    let mount = &v.mount_point;
    if !v.available {
        return Ok(Verdict::new(
            Status::Pass,
            "BitLocker not installed",
            REQUIRED,
            format!(
                "The BitLocker feature is not installed, so {mount} is not BitLocker-protected."
            ),
        ));
    }
    let (Some(protection), Some(status)) = (&v.protection_status, &v.volume_status) else {
        return Err(Unevaluable::new(format!(
            "Get-BitLockerVolume {mount} reported no ProtectionStatus or VolumeStatus"
        )));
    };
    let percent = v
        .encryption_percentage
        .map_or_else(String::new, |p| format!(", {p}% encrypted"));
    let actual = format!("Protection {protection}, {status}{percent}");
    let (verdict, message) = match (protection.as_str(), status.as_str()) {
        ("On", _) => (
            Status::Fail,
            format!("BitLocker protects the OS volume {mount}; Azure cannot boot the image."),
        ),
        ("Off", "FullyDecrypted") => (
            Status::Pass,
            format!("The OS volume {mount} is not encrypted."),
        ),
        ("Off", _) => (
            Status::Warning,
            format!(
                "The OS volume {mount} is {status} with protection off: it is still (partly) \
                 encrypted, and suspended protection resumes after a restart."
            ),
        ),
        (other, _) => {
            return Err(Unevaluable::new(format!(
                "Get-BitLockerVolume {mount} reported ProtectionStatus `{other}`"
            )));
        }
    };
    Ok(Verdict::new(verdict, actual, REQUIRED, message))
}
