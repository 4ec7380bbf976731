//! The image was generalized with `sysprep /generalize` before this VM was provisioned from it:
//! a specialized image carries its machine SID, name and accounts into every VM.

use serde::Deserialize;

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::phase::Phase;
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::windows::outputs::{self, List};
use crate::{Check, Unevaluable};

/// Sysprep's logs show a generalize run that did not end in an error, and setup completed.
#[derive(Debug)]
pub struct ImageGeneralized;

static META: Meta = Meta {
    id: "image-generalized",
    title: "Image generalized with sysprep",
    test_id: None,
    test_case_name: None,
    description: "The image was generalized with sysprep /generalize before this VM was \
                  provisioned from it.",
    rationale: "Azure requires Windows images to be generalized (`sysprep.exe /generalize /oobe \
                /shutdown`, research/cert-cases.md section 3.2, S1/S15/S25); a running VM has no \
                published test for it, so this is vmcert's reading of the evidence. Evidence of a \
                generalize run: lines mentioning the generalize pass in sysprep's log \
                %WINDIR%\\System32\\Sysprep\\Panther\\setupact.log (`ParseCommands:Found supported \
                command line option 'GENERALIZE'`, `Pre-validing 'generalize'`, the \
                ActionFiles\\Generalize.xml actions) or in %WINDIR%\\Panther\\setupact.log, and \
                Sysprep_succeeded.tag. Evidence that the run worked: its last such line is not an \
                Error line. Evidence that setup then ran to the end: ImageState \
                IMAGE_STATE_COMPLETE (Microsoft's Windows Setup States). SysprepStatus \
                GeneralizationState is reported but not used: Microsoft does not document its \
                values (support articles only say to set it back to 7 when sysprep refuses to \
                run). Limit: a VM captured without \
                sysprep from a VM that itself came from a generalized image (such as a \
                Marketplace image) keeps the earlier run's lines; only the offline VHD inspection \
                can tell those apart. Generalize lines and a complete setup (or, on a disk image checked offline, \
                ImageState IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE: sealed, waiting for its first \
                boot): Pass. Lines that end \
                in an error, a sysprep tag without lines, or setup not complete: Warning. No \
                evidence at all: Fail. In the build phase (`--phase build`, inside the build VM) \
                the image is generalized only after the run, by the build's last step: always a \
                Warning that says so (a build VM made from a Marketplace image shows that \
                image's earlier run, which proves nothing about this one).",
    remediation: "On the source VM run `C:\\Windows\\System32\\Sysprep\\sysprep.exe /generalize \
                  /oobe /shutdown` (fix what setupact.log reports if it fails), capture the image \
                  after the VM stops, and deploy the test VM from that image.",
    os: Os::Windows,
    severity: Severity::High,
    since: "0.1.0",
    inferred: true,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "Generalized with sysprep /generalize before provisioning";

const COMPLETE: &str = "IMAGE_STATE_COMPLETE";

/// What a generalized image says before its first boot (a disk image checked offline).
const SEALED: &str = "IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE";

/// `setup-state`.
#[derive(Debug, Deserialize)]
struct SetupState {
    #[serde(rename = "GeneralizationState", default)]
    generalization_state: Option<i64>,
    #[serde(rename = "ImageState", default)]
    image_state: Option<String>,
    #[serde(rename = "SysprepSucceededTag")]
    succeeded_tag: bool,
    #[serde(rename = "Logs", default)]
    logs: List<SetupLog>,
}

/// One setupact.log.
#[derive(Debug, Deserialize)]
struct SetupLog {
    #[serde(rename = "Path")]
    path: String,
    #[serde(rename = "GeneralizeLineCount")]
    count: u64,
    #[serde(rename = "GeneralizeLines", default)]
    lines: List<String>,
}

impl Check for ImageGeneralized {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["setup-state"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// A setupact.log line: `2025-07-22 21:55:35, Error      [0x0f0070] SYSPRP RunDlls:...`.
fn is_error_line(line: &str) -> bool {
    line.split_once(',')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|level| level == "Error")
}

fn file_name(path: &str) -> &str {
    path.rsplit_once("\\Windows\\")
        .map_or(path, |(_, rest)| rest)
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let s: SetupState = outputs::document(ev, "setup-state")?;
    let image_state = s.image_state.as_deref().unwrap_or("not set");
    let generalization = s
        .generalization_state
        .map_or_else(|| "not set".to_string(), |g| g.to_string());
    let with_lines: Vec<&SetupLog> = s.logs.0.iter().filter(|l| l.count > 0).collect();
    let counts: Vec<String> = with_lines
        .iter()
        .map(|l| format!("{} {}", file_name(&l.path), l.count))
        .collect();
    let actual = format!(
        "generalize lines: {}; ImageState {image_state}; GeneralizationState {generalization}; Sysprep_succeeded.tag {}",
        if counts.is_empty() {
            "none".to_string()
        } else {
            counts.join(", ")
        },
        if s.succeeded_tag { "present" } else { "absent" }
    );
    let failed: Vec<&str> = with_lines
        .iter()
        .filter_map(|l| l.lines.0.last())
        .filter(|line| is_error_line(line))
        .map(String::as_str)
        .collect();
    let (status, message) = if ev.phase == Phase::Build {
        (
            Status::Warning,
            "This is the build VM (--phase build): the image is generalized only after this run. \
             Make `sysprep.exe /generalize /oobe /shutdown` the build's last step, and certify a \
             VM deployed from the captured image."
                .to_string(),
        )
    } else if with_lines.is_empty() && !s.succeeded_tag {
        (
            Status::Fail,
            "No trace of a sysprep /generalize run: the image looks specialized (captured \
             without sysprep)."
                .to_string(),
        )
    } else if with_lines.is_empty() {
        (
            Status::Warning,
            "Sysprep_succeeded.tag exists but no setupact.log mentions the generalize pass; \
             vmcert cannot tell whether the image was generalized."
                .to_string(),
        )
    } else if let Some(last) = failed.first() {
        (
            Status::Warning,
            format!("The last generalize log line is an error, so the run may have failed: {last}"),
        )
    } else if image_state == SEALED {
        (
            Status::Pass,
            format!(
                "Sysprep ran the generalize pass and sealed the image ({SEALED}): a generalized \
                 image waiting for its first boot."
            ),
        )
    } else if image_state != COMPLETE {
        (
            Status::Warning,
            format!(
                "Sysprep generalized the image, but ImageState is {image_state}, not \
                 {COMPLETE}: setup did not finish after provisioning."
            ),
        )
    } else {
        (
            Status::Pass,
            "Sysprep ran the generalize pass and setup completed on this VM.".to_string(),
        )
    };
    Ok(Verdict::new(status, actual, REQUIRED, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_are_told_by_their_level_column() {
        assert!(is_error_line(
            "2025-07-22 21:55:35, Error                 SYSPRP ActionPlatform::LaunchModule: Failure occurred while executing 'SysprepGeneralizeValidate'"
        ));
        assert!(!is_error_line(
            "2025-07-22 21:55:35, Info       [0x0f005f] SYSPRP ParseCommands:Found supported command line option 'GENERALIZE'"
        ));
        assert!(!is_error_line("no comma here"));
    }
}
