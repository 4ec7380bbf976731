//! LISA's verify_cloud_init_error_status (priority 2): cloud-init provisions most Azure images,
//! and errors or warnings it logged while the image was built or provisioned point at a broken
//! configuration.

use crate::evidence::{ABSENT, Evidence};
use crate::linux::config_files::{section, sections};
use crate::linux::family::Family;
use crate::meta::{Meta, Os, Severity};
use crate::phase::Phase;
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
    description: "When cloud-init is installed, its last run reported no error and \
                  /var/log/cloud-init.log has no [ERROR] or [WARNING] line.",
    rationale: "Microsoft's LISA suite (azure_image_standard, verify_cloud_init_error_status, \
                priority 2) fails an Azure Linux image whose cloud-init.log holds [ERROR] or \
                [WARNING] lines or whose `cloud-init status --wait` does not return 0. vmcert \
                applies the same test to every distribution with cloud-init installed: a Fail on \
                Azure Linux (as LISA), a Warning elsewhere (LISA does not run the case there), \
                listing the lines. Instead of running `cloud-init status` (a Python start that \
                can block or crash outside a booted system) vmcert reads the file it reports \
                from, result.json (/run/cloud-init, else /var/lib/cloud/data): `errors` or \
                `recoverable_errors` there are what makes `cloud-init status` exit 1 or 2. No \
                result.json means cloud-init has not finished a boot on this machine, which is \
                not an error. Not installed: NotApplicable. In the build phase (`--phase build`, \
                inside the build VM before deprovisioning) the result and the log are of the \
                build VM's boot, which `cloud-init clean --logs` deletes: a Warning everywhere, \
                since the VMs made from the image run cloud-init afresh (the same configuration \
                will likely log the same errors: the final run on a deployed VM decides).",
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
const REQUIRED: &str = "no error in cloud-init's result, no [ERROR]/[WARNING] in cloud-init.log";
const LOG: &str = "/var/log/cloud-init.log";

impl Check for CloudInitClean {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["os-release", PROBE]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// The `errors` and `recoverable_errors` of result.json's `v1` object, as text.
fn result_errors(json: &str) -> Result<Vec<String>, serde_json::Error> {
    let v: serde_json::Value = serde_json::from_str(json)?;
    let v1 = &v["v1"];
    let mut out: Vec<String> = v1["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
        .collect();
    if let Some(rec) = v1["recoverable_errors"].as_object() {
        for (level, msgs) in rec {
            for m in msgs.as_array().into_iter().flatten() {
                out.push(format!("{level}: {}", m.as_str().unwrap_or_default()));
            }
        }
    }
    Ok(out)
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
    let result = secs
        .iter()
        .find(|(n, _)| n.ends_with("result.json"))
        .map(|(n, lines)| (*n, lines.join("\n")));
    let log: Vec<&str> = section(&secs, LOG)
        .unwrap_or_default()
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    let (status_text, run_errors) = match &result {
        None => (
            "no result.json (cloud-init has not finished a boot here)".to_string(),
            Vec::new(),
        ),
        Some((path, json)) => {
            let errors = result_errors(json).map_err(|e| {
                Unevaluable::new(format!("{path} is not cloud-init's result JSON: {e}"))
            })?;
            (format!("{path}: {} error(s)", errors.len()), errors)
        }
    };
    let actual = format!(
        "{status_text}; {} [ERROR]/[WARNING] line(s) in cloud-init.log",
        log.iter().filter(|l| !l.starts_with("... ")).count()
    );
    let mut problems = Vec::new();
    if !run_errors.is_empty() {
        let shown: Vec<&str> = run_errors.iter().take(5).map(String::as_str).collect();
        problems.push(format!(
            "cloud-init's last run reported errors (`cloud-init status` fails): {}",
            shown.join(" | ")
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
    let (status, who) = if ev.phase == Phase::Build {
        (
            Status::Warning,
            "the build VM's run: `cloud-init clean --logs` removes this result and log, but a \
             deployed VM with the same configuration will likely log the same errors, and LISA \
             fails this on Azure Linux",
        )
    } else if family.is_azure_linux() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_json_errors() {
        let ok = "{\n \"v1\": {\n  \"datasource\": \"DataSourceAzure [seed=/dev/sr0]\",\n  \"errors\": []\n }\n}";
        assert!(result_errors(ok).unwrap().is_empty());
        let bad = r#"{"v1": {"datasource": null, "errors": ["('ssh', ValueError('x'))"], "recoverable_errors": {"WARNING": ["Failed to set passwords"]}}}"#;
        assert_eq!(result_errors(bad).unwrap().len(), 2);
        assert!(result_errors("not json").is_err());
    }
}
