//! TestID 1.1.4 `OS Architecture`: Azure runs 64-bit Windows only.

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::windows::outputs;
use crate::{Check, Unevaluable};

/// Win32_OperatingSystem.OSArchitecture is 64-bit.
#[derive(Debug)]
pub struct OsArchitecture;

static META: Meta = Meta {
    id: "os-architecture",
    title: "64-bit operating system",
    test_id: Some("1.1.4"),
    test_case_name: Some("OS Architecture"),
    description: "Azure supports only 64-bit operating systems.",
    rationale: "TestID 1.1.4 of Microsoft's certification test tool and self-test API \
                (research/cert-cases.md section 3.1: actual `64 Bit`, required `OS Should be 64 \
                bit`). The value is localized (`64-bit`, `64 bits`, `64-Bit`), so vmcert reads \
                the number. Windows on Arm reports `ARM 64-bit Processor`; like the Linux check, \
                the `current` profile passes it and `toolkit` warns.",
    remediation: "Build the image from a 64-bit Windows Server release.",
    os: Os::Windows,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &["arm64_status"],
};

const REQUIRED: &str = "OS Should be 64 bit";

impl Check for OsArchitecture {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["os-info"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let os = outputs::os_info(ev)?;
    let arch = os.os_architecture.trim();
    let upper = arch.to_ascii_uppercase();
    let (status, actual, message) = if upper.contains("64") && upper.contains("ARM") {
        (
            ev.thresholds().arm64_status,
            arch.to_string(),
            format!(
                "{} is 64-bit Arm Windows; it needs Arm64 VM sizes.",
                os.caption
            ),
        )
    } else if upper.contains("64") {
        (
            Status::Pass,
            "64 Bit".to_string(),
            format!("{} is a 64-bit operating system ({arch}).", os.caption),
        )
    } else if upper.contains("32") {
        (
            Status::Fail,
            "32 Bit".to_string(),
            format!(
                "{} is a 32-bit operating system ({arch}); Azure runs 64-bit Windows only.",
                os.caption
            ),
        )
    } else {
        return Err(Unevaluable::new(format!(
            "Win32_OperatingSystem.OSArchitecture `{arch}` names no bitness"
        )));
    };
    Ok(Verdict::new(status, actual, REQUIRED, message))
}
