//! LISA's verify_cloud_init_error_status (priority 2): cloud-init provisions most Azure images,
//! and errors or warnings it logged while the image was built or provisioned point at a broken
//! configuration.

use crate::evidence::{ABSENT, Evidence};
use crate::linux::config_files::{section, sections};
use crate::linux::family::Family;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// `cloud-init status` succeeds and cloud-init.log has no `[ERROR]`/`[WARNING]` line.
#[derive(Debug)]
pub struct CloudInitClean;

static META: Meta = Meta {
    id: "cloud-init-clean",
    title: "cloud-init ran cleanly",
    test_id: None,
    test_case_name: None,
    description: "When cloud-init is installed, `cloud-init status` succeeds and \
                  /var/log/cloud-init.log has no [ERROR] or [WARNING] line.",
    rationale: "Microsoft's LISA suite (azure_image_standard, verify_cloud_init_error_status, \
                priority 2) fails an Azure Linux image whose cloud-init.log holds [ERROR] or \
                [WARNING] lines or whose `cloud-init status --wait` does not return 0. vmcert \
                applies the same test to every distribution with cloud-init installed: a Fail on \
                Azure Linux (as LISA), a Warning elsewhere (LISA does not run the case there), \
                listing the lines. vmcert runs `cloud-init status` without --wait, so it never \
                blocks on a VM still booting. Not installed: NotApplicable.",
    remediation: "Read the listed lines in /var/log/cloud-init.log, fix the configuration under \
                  /etc/cloud (datasource, modules), then `cloud-init clean --logs` before \
                  capturing the image.",
    os: Os::Linux,
    severity: Severity::Medium,
    since: "0.2.0",
    inferred: false,
    outcomes: &[
        Status::Pass,
        Status::Warning,
        Status::Fail,
        Status::NotApplicable,
        Status::Error,
    ],
    knobs: &[],
};

const PROBE: ProbeId = "cloud-init-status";
const REQUIRED: &str = "cloud-init status 0, no [ERROR]/[WARNING] in cloud-init.log";
const LOG: &str = "/var/log/cloud-init.log";

impl Check for CloudInitClean {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["os-release", PROBE]
    }

    fn evaluate(&self, ev: &Evidence) -> Verdict {
        evaluate(ev).unwrap_or_else(|e| Verdict::from(e).with_required(REQUIRED))
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let family = Family::from_evidence(ev)?;
    let Some(text) = ev.stdout_unless(PROBE, ABSENT)? else {
        return Ok(Verdict::new(
            Status::NotApplicable,
            "cloud-init not installed",
            REQUIRED,
            "cloud-init is not installed.",
        ));
    };
    let secs = sections(&text);
    let status: Vec<&str> = section(&secs, "cloud-init status")
        .ok_or_else(|| Unevaluable::new("cloud-init-status printed no status section"))?
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    let code: i32 = secs
        .iter()
        .find_map(|(n, _)| n.strip_prefix("exit "))
        .and_then(|c| c.trim().parse().ok())
        .ok_or_else(|| Unevaluable::new("cloud-init-status printed no exit code"))?;
    let log: Vec<&str> = section(&secs, LOG)
        .unwrap_or_default()
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    let status_text = status.first().copied().unwrap_or("(no output)");
    let actual = format!(
        "{status_text} (exit {code}); {} [ERROR]/[WARNING] line(s)",
        log.iter().filter(|l| !l.starts_with("... ")).count()
    );
    let mut problems = Vec::new();
    if code != 0 {
        problems.push(format!(
            "`cloud-init status` exited with {code} ({status_text})"
        ));
    }
    if !log.is_empty() {
        let shown: Vec<&str> = log.iter().take(5).copied().collect();
        problems.push(format!(
            "{LOG} has [ERROR]/[WARNING] lines, e.g. {}",
            shown.join(" | ")
        ));
    }
    if problems.is_empty() {
        return Ok(Verdict::new(
            Status::Pass,
            actual,
            REQUIRED,
            "cloud-init reports no error and its log no [ERROR] or [WARNING] line.",
        ));
    }
    let (status, who) = if family.is_azure_linux() {
        (Status::Fail, "LISA fails this on Azure Linux")
    } else {
        (
            Status::Warning,
            "LISA fails this on Azure Linux; elsewhere vmcert warns",
        )
    };
    Ok(Verdict::new(
        status,
        actual,
        REQUIRED,
        format!("{}: {} ({who}).", family.pretty, problems.join("; ")),
    ))
}
