//! TestID 49 `OS Architecture`: Azure runs 64-bit images only.

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// The image is 64-bit: `uname -m` is x86_64/amd64 (or aarch64/arm64, by profile).
#[derive(Debug)]
pub struct OsArchitecture;

static META: Meta = Meta {
    id: "os-architecture",
    title: "64-bit operating system",
    test_id: Some("49"),
    test_case_name: Some("OS Architecture"),
    description: "Only 64-bit operating system should be supported.",
    rationale: "Azure runs only 64-bit guests. The toolkit accepted x86_64 only; Arm64 images are \
                accepted today (LISA verify_azure_64bit_os accepts aarch64/arm64), so the `current` profile passes them \
                and `toolkit` warns.",
    remediation: "Build the image from a 64-bit (x86_64, or aarch64 for Arm64 VM sizes) distribution.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &["arm64_status"],
};

const REQUIRED: &str = "x86_64,amd64";

impl Check for OsArchitecture {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["uname-m"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let out = ev.stdout("uname-m")?;
    let arch = out.trim();
    if arch.is_empty() {
        return Err(Unevaluable::new("`uname -m` printed nothing"));
    }
    let (status, message) = match arch {
        "x86_64" | "amd64" => (Status::Pass, format!("{arch} is a 64-bit architecture.")),
        "aarch64" | "arm64" => (
            ev.thresholds().arm64_status,
            format!("{arch} is 64-bit Arm; it needs Arm64 VM sizes."),
        ),
        other => (
            Status::Fail,
            format!("{other} is not a 64-bit architecture Azure runs."),
        ),
    };
    Ok(Verdict::new(status, arch, REQUIRED, message))
}
